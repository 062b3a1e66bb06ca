"""deeplinks qr: QR codes a phone camera can open, and the labelled sheet of the whole corpus.

Each code is read back with zbar (`zbarimg`, Debian's zbar-tools, installed by scripts/test), a
real scanner's decoder: it must give the exact URL, non-ASCII text included.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import pytest
from PIL import Image, ImageDraw

from deeplinks.cli import main
from deeplinks.corpus import load_fixtures
from deeplinks.qr import sheet_html
from deeplinks.shots import select_shots

SEED_SUCCESS = (
    "your-url-here://success?link=cb65f82c-dc93-4d3e-8270-9a27528397f5&institution=erebor_br_retail"
)


def scanned(image: Path) -> str:
    """What zbar reads from the QR code in `image` (UTF-8 text, as a phone's scanner shows it)."""
    zbarimg = shutil.which("zbarimg")
    if zbarimg is None:
        pytest.fail("zbarimg is missing: install Debian's zbar-tools (scripts/test does)")
    result = subprocess.run(
        [zbarimg, "--raw", "--quiet", "-Sdisable", "-Sqrcode.enable", str(image)],
        capture_output=True,
        check=True,
    )
    return result.stdout.decode("utf-8").removesuffix("\n")


def svg_to_png(svg: Path, png: Path) -> None:
    """Draws the modules of a QR code SVG as `deeplinks` writes it (rows of horizontal strokes:
    `M x y`, `m dx dy`, `h length`, one unit per module) into a PNG zbar can read."""
    root = ElementTree.parse(svg).getroot()  # noqa: S314 (the file the test just wrote)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    size = int(root.get("width", "0")) // 10
    image = Image.new("L", (size * 10, size * 10), 255)
    draw = ImageDraw.Draw(image)
    for path in root.iter("{http://www.w3.org/2000/svg}path"):
        if path.get("class") != "qrline":
            continue
        x = y = 0.0
        for command, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path.get("d", "")):
            if command == "M":
                x, y = float(a), float(b)
            elif command == "m":
                x, y = x + float(a), y + float(b)
            else:
                row = int(y)
                draw.rectangle((int(x) * 10, row * 10, int(x + float(a)) * 10 - 1, row * 10 + 9), fill=0)
                x += float(a)
    image.save(png)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["qr", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_png_holds_the_qr_code_of_the_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "code.png"
    status, out, err = run(capsys, SEED_SUCCESS, "-o", str(target))
    assert (status, out, err) == (0, f"wrote {target}\n", "")
    assert scanned(target) == SEED_SUCCESS


def test_svg_of_a_fixture_holds_its_qr_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "code.svg"
    status, _, _ = run(capsys, "--fixture", "seed-success", "-o", str(target))
    assert status == 0
    svg_to_png(target, tmp_path / "drawn.png")
    assert scanned(tmp_path / "drawn.png") == SEED_SUCCESS


# Raw non-ASCII, as a tester pastes a URL from a bank's page: a scanner must read it exactly.
NON_ASCII = [
    "myapp://exit?meta_data_institution_name=itaú",
    "myapp://exit?last_encountered_error_message=Não foi possível conectar ao Itaú Unibanco",
    "myapp://exit?meta_data_institution_name=itaú&x=繳€",
    "myapp://exit?meta_data_institution_name=ita%C3%BA&n=Bradesco+São+Paulo",
]


@pytest.mark.parametrize("url", NON_ASCII)
@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_non_ascii_urls_scan_back_exactly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, suffix: str
) -> None:
    target = tmp_path / f"code{suffix}"
    status, _, _ = run(capsys, url, "-o", str(target))
    assert status == 0
    if suffix == ".svg":
        svg_to_png(target, target := tmp_path / "drawn.png")
    assert scanned(target) == url


def test_a_url_that_does_not_parse_is_written_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "myapp://cancel", "-o", str(tmp_path / "x.svg"))
    assert status == 0
    assert err.startswith("note: this URL does not parse (unknown_event): expected the last path segment")
    assert (tmp_path / "x.svg").is_file()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            [SEED_SUCCESS, "--fixture", "seed-success", "-o", "x.svg"],
            "exactly one of URL, --fixture NAME and --sheet",
        ),
        (["-o", "x.svg"], "exactly one of URL, --fixture NAME and --sheet"),
        ([SEED_SUCCESS, "-o", "x.jpg"], "ending in .svg or .png"),
        (["--sheet", "-o", "sheet.png"], "ending in .html"),
    ],
)
def test_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["qr", *argv])
    assert raised.value.code == 2
    assert message in capsys.readouterr().err


def test_a_url_too_long_for_a_qr_code_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "--fixture", "too-long", "-o", str(tmp_path / "x.png"))
    assert status == 2
    assert "do not fit a QR code" in err
    assert not (tmp_path / "x.png").exists()


def test_sheet_labels_each_code_and_escapes_names_and_urls() -> None:
    names = ["seed-success", "raw-angle-brackets", "raw-nul-prefix", "too-long"]
    page = sheet_html(select_shots(names).shots)
    assert page.count("<section ") == 4
    assert page.count("<svg ") == 3
    assert page.count("Too long for a QR code") == 1
    assert '<h2>seed-success</h2><p class="expect">success erebor_br_retail</p><svg ' in page
    assert "<script>" not in page
    assert "data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "\\x00myapp://success" in page  # control characters shown, not written raw
    assert "\x00" not in page


def test_sheet_of_one_kind_on_the_apps_callback_urls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "sheet.html"
    callbacks = '{"success": "exampleapp://s/success", "exit": "exampleapp://s/exit", "event": "exampleapp://s/event"}'
    status, out, _ = run(
        capsys, "--sheet", "--kind", "warning", "--callback-urls", callbacks, "-o", str(target)
    )
    page = target.read_text(encoding="utf-8")
    assert status == 0
    assert out == f"wrote {target}: {len(load_fixtures('warning'))} QR codes\n"
    assert page.count("<section ") == len(load_fixtures("warning"))
    assert page.count("<code>exampleapp://s/event?warning=") == len(load_fixtures("warning"))


def test_sheet_on_other_callback_urls_skips_what_cannot_be_rebuilt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "sheet.html"
    callbacks = '{"success": "exampleapp://s/success", "exit": "exampleapp://s/exit", "event": "exampleapp://s/event"}'
    status, out, err = run(
        capsys, "--sheet", "--kind", "success", "--callback-urls", callbacks, "-o", str(target)
    )
    count = len(load_fixtures("success"))
    assert status == 0
    assert err.splitlines() == [
        "SKIP success-at-max-length: cannot be rebuilt on these callback URLs: expected the event to fit "
        "a deeplink of at most 4096 characters; got 4103"
    ]
    assert out == f"wrote {target}: {count - 1} QR codes, 1 fixtures skipped\n"
    assert target.read_text(encoding="utf-8").count("<section ") == count - 1


def test_qr_of_a_fixture_that_cannot_be_rebuilt_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    callbacks = '{"success": "a://s/success", "exit": "a://s/exit", "event": "a://s/event"}'
    argv = ["--fixture", "resume-belvo-example", "--callback-urls", callbacks, "-o", str(tmp_path / "x.png")]
    status, _, err = run(capsys, *argv)
    assert status == 2
    assert "'resume-belvo-example' cannot be rebuilt on these callback URLs" in err
    assert "application_link" in err
