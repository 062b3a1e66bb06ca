"""The `deeplinks` command: parse a deeplink, list the fixture corpus, replay it on a device, an
iOS simulator or a backend, and print QR codes of it for phones.

    deeplinks parse URL [--callback-urls JSON]
    deeplinks fixtures [--kind KIND] [--json]
    deeplinks replay [NAME ...] --to android [--package PKG] | --to ios | --to server BASE_URL [--dry-run]
    deeplinks qr URL | --fixture NAME -o FILE.svg|FILE.png
    deeplinks qr --sheet -o sheet.html

Exit status: 0 success, 1 some replayed URL failed, 2 bad input (a URL that does not parse, an
unknown fixture, a missing tool).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deeplinks import replay as replaying
from deeplinks.callbacks import coerce_callback_urls
from deeplinks.corpus import KINDS, load_fixtures
from deeplinks.errors import DeeplinkError
from deeplinks.parser import parse
from deeplinks.qr import QR_SUFFIXES, QrTooLongError, sheet_html, write_qr
from deeplinks.shots import SelectionError, select_shots

USAGE_ERROR = 2
_TARGETS = ("android", "ios", "server")


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected JSON: {error}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object; got {type(value).__name__}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deeplinks", description="Belvo OFDA hosted-widget deeplinks: parse, list, replay, QR codes."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    callback_help = 'the app\'s callback URLs, e.g. \'{"success": "myapp://belvo/success", ...}\''

    parse_command = commands.add_parser("parse", help="print the event JSON of a deeplink")
    parse_command.add_argument("url", help="the deeplink (quote it: it holds '&')")
    parse_command.add_argument("--callback-urls", type=_json_object, metavar="JSON", help=callback_help)
    parse_command.set_defaults(run=_parse)

    fixtures = commands.add_parser("fixtures", help="list the fixture corpus")
    fixtures.add_argument("--kind", choices=KINDS, help="only this kind (malformed: expects an error)")
    fixtures.add_argument("--json", action="store_true", help="print the cases as a JSON array")
    fixtures.set_defaults(run=_fixtures)

    replay = commands.add_parser(
        "replay",
        help="fire fixture URLs at an Android device, an iOS simulator or a backend",
        description="Fire fixture URLs (all, those of --kind, or those NAMEd) and end with "
        "'N replayed, N passed, N failed'. --to android runs adb shell am start, --to ios runs "
        "xcrun simctl openurl, --to server BASE_URL posts each URL to BASE_URL/v1/deeplinks/parse and "
        "checks the answer equals the fixture's expectation.",
    )
    replay.add_argument("names", nargs="*", metavar="NAME", help="fixture names (default: all)")
    replay.add_argument(
        "--to", nargs="+", required=True, metavar="TARGET", help="android | ios | server BASE_URL"
    )
    replay.add_argument(
        "--package", help="the Android app to open the URLs in, e.g. com.example.app (default: any)"
    )
    replay.add_argument("--device", default="booted", help="the iOS simulator (default: booted)")
    replay.add_argument("--kind", choices=KINDS, help="only fixtures of this kind")
    replay.add_argument(
        "--callback-urls",
        type=_json_object,
        metavar="JSON",
        help=callback_help + "; fixtures expecting an event are rebuilt on them",
    )
    replay.add_argument("--timeout", type=float, default=30.0, help="seconds per URL (default 30)")
    replay.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    replay.set_defaults(run=_replay)

    qr = commands.add_parser(
        "qr",
        help="write a QR code of a deeplink, or an HTML sheet of every fixture's",
        description="Write a QR code of URL or of fixture NAME to FILE.svg or FILE.png, or with "
        "--sheet an HTML page with a labelled QR code per fixture.",
    )
    qr.add_argument("url", nargs="?", help="the deeplink to encode")
    qr.add_argument("--fixture", metavar="NAME", help="encode this fixture's URL")
    qr.add_argument("--sheet", action="store_true", help="an HTML page of every fixture (see --kind)")
    qr.add_argument("--kind", choices=KINDS, help="with --sheet: only fixtures of this kind")
    qr.add_argument("--callback-urls", type=_json_object, metavar="JSON", help=callback_help)
    qr.add_argument("-o", "--output", required=True, type=Path, metavar="FILE")
    qr.set_defaults(run=_qr)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.run(args, parser)
    except DeeplinkError as error:
        print(json.dumps(error.to_dict(), ensure_ascii=False), file=sys.stderr)
        return USAGE_ERROR
    except (SelectionError, QrTooLongError, replaying.ReplayError) as error:
        print(f"deeplinks {args.command}: {error}", file=sys.stderr)
        return USAGE_ERROR
    except BrokenPipeError:
        # The reader went away (`deeplinks fixtures | head`): stop quietly, as other commands do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return status


def _parse(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    event = parse(args.url, args.callback_urls)
    print(json.dumps(event.to_dict(), ensure_ascii=False))
    return 0


def _fixtures(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    fixtures = load_fixtures(args.kind)
    if args.json:
        print(json.dumps([fixture.to_dict() for fixture in fixtures], ensure_ascii=False, indent=2))
        return 0
    width = max((len(fixture.name) for fixture in fixtures), default=0)
    for fixture in fixtures:
        url = repr(fixture.url)[1:-1]
        url = url if len(url) <= 100 else url[:99] + "…"
        print(f"{fixture.name:<{width}}  {fixture.summary:<30}  {url}")
    print(f"{len(fixtures)} fixtures")
    return 0


def _target(args: argparse.Namespace, parser: argparse.ArgumentParser) -> replaying.Target:
    target, *rest = args.to
    if target not in _TARGETS:
        parser.error(f"--to: expected android, ios or server BASE_URL; got {target!r}")
    if target == "server":
        if not rest or not rest[0].startswith(("http://", "https://")):
            parser.error("--to server: expected the backend's base URL, e.g. http://127.0.0.1:8000")
        base_url, *rest = rest
    args.names = [*args.names, *rest]  # names may follow --to's values
    match target:
        case "android":
            return replaying.Android(args.package, args.timeout)
        case "ios":
            return replaying.Ios(args.device, args.timeout)
        case _:
            return replaying.Server(base_url, args.timeout)


def _replay(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    target = _target(args, parser)
    selection = select_shots(args.names, args.kind, _callbacks(args))
    return replaying.replay(
        target,
        selection.shots,
        skipped=selection.skipped,
        dry_run=args.dry_run,
        out=sys.stdout,
        err=sys.stderr,
    )


def _callbacks(args: argparse.Namespace) -> Any:
    return None if args.callback_urls is None else coerce_callback_urls(args.callback_urls)


def _qr(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    sources = [args.url is not None, args.fixture is not None, args.sheet]
    if sum(sources) != 1:
        parser.error("qr: expected exactly one of URL, --fixture NAME and --sheet")
    output: Path = args.output
    if args.sheet:
        if output.suffix.lower() != ".html":
            parser.error("qr --sheet: expected an output file ending in .html")
        selection = select_shots((), args.kind, _callbacks(args))
        for skip in selection.skipped:
            print(f"SKIP {skip.fixture.name}: {skip.reason}", file=sys.stderr)
        output.write_text(sheet_html(selection.shots), encoding="utf-8")
        skipped = f", {len(selection.skipped)} fixtures skipped" if selection.skipped else ""
        print(f"wrote {output}: {len(selection.shots)} QR codes{skipped}")
        return 0
    if output.suffix.lower() not in QR_SUFFIXES:
        parser.error("qr: expected an output file ending in .svg or .png")
    if args.fixture is not None:
        selection = select_shots([args.fixture], None, _callbacks(args))
        if selection.skipped:
            raise SelectionError(f"fixture {args.fixture!r} {selection.skipped[0].reason}")
        url = selection.shots[0].url
    else:
        url = args.url
        try:
            parse(url, _callbacks(args))
        except DeeplinkError as error:
            # A tester may want a QR code of a bad URL on purpose: say so, and write it anyway.
            print(f"note: this URL does not parse ({error.code}): {error.message}", file=sys.stderr)
    write_qr(url, output)
    print(f"wrote {output}")
    return 0
