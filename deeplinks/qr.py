"""`deeplinks qr`: QR codes of deeplinks, so a tester can fire one on a phone with its camera.

Made with `segno`, which writes the ECI marker that tells a scanner a QR code's bytes are UTF-8
(ISO/IEC 18004, ECI 26): without it scanners guess (often Shift JIS), and a raw `itaú` reads as
`ita繳`. ASCII text gets no marker, for the readers that do not know ECI. `segno` (a project
dependency, not a standard-library module) is imported inside the functions, so that
`import deeplinks` stays standard-library only.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from deeplinks.shots import Shot

QR_SUFFIXES: Final = (".svg", ".png")
_SCALE: Final = 10  # pixels per module
_BORDER: Final = 4  # the quiet zone ISO/IEC 18004 asks for, in modules


class QrTooLongError(ValueError):
    """The text does not fit the largest QR code."""


def _make(data: str) -> Any:
    import segno  # here, not at the top: `import deeplinks` stays standard-library only

    utf8 = not data.isascii()
    try:
        return segno.make(data, error="m", micro=False, encoding="utf-8" if utf8 else None, eci=utf8)
    except segno.DataOverflowError as error:
        raise QrTooLongError(f"{len(data.encode())} bytes do not fit a QR code: {error}") from None


def qr_svg(data: str) -> str:
    """`data` as an SVG QR code (dark modules on a white square), without an XML declaration so it
    can be inlined in HTML or served as an image."""
    svg = io.BytesIO()
    _make(data).save(svg, kind="svg", scale=_SCALE, border=_BORDER, xmldecl=False, light="#fff")
    return svg.getvalue().decode()


def write_qr(data: str, path: Path) -> None:
    """Write `data` as a QR code to `path`, an .svg or .png file."""
    suffix = path.suffix.lower()
    if suffix == ".svg":
        path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n' + qr_svg(data) + "\n", encoding="utf-8")
    elif suffix == ".png":
        _make(data).save(str(path), kind="png", scale=_SCALE, border=_BORDER)
    else:
        raise ValueError(f"expected an output file ending in .svg or .png; got {path.name!r}")


_STYLE: Final = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #161a1d; }
main { display: grid; grid-template-columns: repeat(auto-fill, minmax(17rem, 1fr)); gap: 1.5rem; }
section { border: 1px solid #c4cdd4; border-radius: 8px; padding: 1rem; break-inside: avoid; }
h2 { font-size: 1rem; margin: 0 0 .25rem; }
svg { display: block; width: 100%; height: auto; max-width: 15rem; margin: .5rem auto; }
code { display: block; font-size: .7rem; word-break: break-all; }
.expect { font-weight: 600; margin: 0; }
.note, .missing { font-size: .8rem; color: #414d58; }
"""


def sheet_html(shots: Sequence[Shot], title: str = "Belvo deeplink fixtures") -> str:
    """One HTML page with a labelled QR code per shot: name, expectation, URL and note."""
    cards = []
    for shot in shots:
        fixture = shot.fixture
        try:
            code = qr_svg(shot.url)
        except QrTooLongError:
            code = '<p class="missing">Too long for a QR code: replay it with adb or xcrun.</p>'
        note = f'<p class="note">{html.escape(fixture.note)}</p>' if fixture.note else ""
        cards.append(
            f'<section id="{html.escape(fixture.name)}">'
            f"<h2>{html.escape(fixture.name)}</h2>"
            f'<p class="expect">{html.escape(fixture.summary)}</p>'
            f"{code}<code>{html.escape(repr(shot.url)[1:-1])}</code>{note}</section>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{len(shots)} deeplinks. Point a phone's camera at a "
        "code to open its URL; the line in bold is what parsing it must give.</p>"
        f"<main>{''.join(cards)}</main></body></html>\n"
    )
