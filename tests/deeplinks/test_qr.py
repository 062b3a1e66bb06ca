"""deeplinks qr: QR codes a phone camera can open, and the labelled sheet of the whole corpus."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

import pytest
import qrcode
from PIL import Image

from deeplinks.cli import main
from deeplinks.corpus import load_fixtures
from deeplinks.qr import sheet_html
from deeplinks.shots import select_shots

SEED_SUCCESS = (
    "your-url-here://success?link=cb65f82c-dc93-4d3e-8270-9a27528397f5&institution=erebor_br_retail"
)


def modules(data: str) -> list[list[bool]]:
    """The QR matrix (quiet zone included) qrcode computes for `data`, to compare images with."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(data)
    code.make(fit=True)
    matrix: list[list[bool]] = code.get_matrix()
    return matrix


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["qr", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_png_holds_the_qr_code_of_the_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "code.png"
    status, out, err = run(capsys, SEED_SUCCESS, "-o", str(target))
    assert (status, out, err) == (0, f"wrote {target}\n", "")
    matrix = modules(SEED_SUCCESS)
    image = Image.open(target).convert("L")
    box = image.width // len(matrix)
    assert image.width == image.height == box * len(matrix)
    seen = [
        [image.getpixel((x * box + box // 2, y * box + box // 2)) == 0 for x in range(len(matrix))]
        for y in range(len(matrix))
    ]
    assert seen == matrix


def test_svg_of_a_fixture_holds_its_qr_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "code.svg"
    status, _, _ = run(capsys, "--fixture", "seed-success", "-o", str(target))
    assert status == 0
    root = ElementTree.parse(target).getroot()  # noqa: S314 (the file we just wrote)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    matrix = modules(SEED_SUCCESS)
    path = root.find("{http://www.w3.org/2000/svg}path")
    assert path is not None
    dark = {(int(x), int(y)) for x, y in re.findall(r"M(\d+),(\d+)", path.get("d", ""))}
    assert dark == {(x, y) for y, row in enumerate(matrix) for x, on in enumerate(row) if on}


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
