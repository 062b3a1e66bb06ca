"""Log lines are JSON, carry the request id, and never carry credentials or documents."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import threading
import time

import pytest
from flask import Flask

from server.observability import BatchingStreamHandler, JsonFormatter, RedactingFilter, redact

LEAKS = [
    "GET /sandbox/widget/?access_token=eyJhbGciOiJIUzUxMiJ9.eyJleHAiOjF9.c2lnbmF0dXJl&locale=pt",
    "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.abc",
    "Authorization: Bearer s3cr3t-value",
    "cpf 761.092.776-73",
    "cpf 76109277673",
    "cnpj 50.685.362/0067-73",
    "cnpj 50685362006773",
    "password=hunter2&x=1",
    # Names and schemes in any case, each alone in its text.
    "AUTHORIZATION: BASIC dXNlcjpwYXNz",
    "Access_Token=zq9opaque",
    "SECRET=zq9opaque",
    # Letters re takes for others when case is ignored (a dotless i, a long s), and digits of other scripts.
    "AUTHOR\u0131ZAT\u0131ON: Bearer s3cr3t-value",
    "\u017fecret=zq9opaque",
    "cpf ٧٦١٠٩٢٧٧٦٧٣",
]
SECRETS = (
    "eyJ",
    "s3cr3t",
    "76109277673",
    "761.092.776-73",
    "50685362006773",
    "hunter2",
    "dXNlcjpw",
    "zq9",
    "٧٦١٠٩٢٧٧٦٧٣",
)


@pytest.mark.parametrize("leak", LEAKS)
def test_redact_masks_what_must_not_be_logged(leak: str) -> None:
    masked = redact(leak)
    for secret in SECRETS:
        assert secret not in masked


@pytest.mark.parametrize("leak", LEAKS)
def test_a_leak_in_any_one_text_of_a_line_leaves_redacted_whatever_the_others_hold(leak: str) -> None:
    """The filter searches a record's texts together: a leak in one text among clean ones is still found
    and masked, and the clean ones are left as they were."""
    for field in ("msg", "session_id", "expires_at"):
        texts = {"msg": "session created", "session_id": "ws_0123", "expires_at": "2026-12-08T02:29:23Z"}
        record = logging.makeLogRecord({**texts, field: leak, "attempt": 2})
        RedactingFilter().filter(record)
        line = JsonFormatter().format(record)
        for secret in SECRETS:
            assert secret not in line
        shown = json.loads(line)
        assert shown["attempt"] == 2
        for clean in texts.keys() - {field}:
            assert shown["message" if clean == "msg" else clean] == texts[clean]


def test_redact_keeps_ordinary_text() -> None:
    assert redact("session ws_abc moved to succeeded") == "session ws_abc moved to succeeded"


def test_json_formatter_includes_extra_fields_and_redacts_args() -> None:
    record = logging.LogRecord("server.x", logging.INFO, __file__, 1, "minted for %s", ("76109277673",), None)
    record.session_id = "ws_1"
    RedactingFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "minted for [document]"
    assert line["session_id"] == "ws_1"
    assert line["level"] == "info"


def test_text_passed_as_extra_fields_leaves_redacted_and_other_values_untouched() -> None:
    leaks = {
        "url": "https://widget.belvo.io/?access_token=eyJhbGciOiJIUzUxMiJ9.eyJleHAiOjF9.c2ln&locale=pt",
        "document": "761.092.776-73",
    }
    record = logging.makeLogRecord({"msg": "something went wrong", **leaks, "attempt": 2})
    RedactingFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["url"] == "https://widget.belvo.io/?access_token=[redacted]&locale=pt"
    assert line["document"] == "[document]"
    assert line["attempt"] == 2
    assert "eyJ" not in json.dumps(line)


def test_records_from_any_logger_leave_redacted_with_the_request_id(app: Flask) -> None:
    handler = next(h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter))
    lines: list[str] = []
    capture = logging.Handler()
    capture.emit = lambda record: lines.append(handler.format(record))  # type: ignore[method-assign]
    for f in handler.filters:
        capture.addFilter(f)
    logging.getLogger().addHandler(capture)

    @app.get("/log-something")
    def log_something() -> str:
        logging.getLogger("server.services.deep.child").warning("doc %s", "761.092.776-73")
        return "ok"

    try:
        response = app.test_client().get("/log-something")
    finally:
        logging.getLogger().removeHandler(capture)
    [line] = [json.loads(line) for line in lines if "doc" in line]
    assert line["message"] == "doc [document]"
    assert line["request_id"] == response.headers["X-Request-Id"]


def _logger_writing_to(stream: io.StringIO, linger: float) -> logging.Logger:
    logger = logging.getLogger(f"tests.batching.{id(stream)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(BatchingStreamHandler(stream, linger=linger))
    return logger


def test_info_lines_go_out_together_within_the_linger() -> None:
    stream = io.StringIO()
    logger = _logger_writing_to(stream, linger=1.0)
    logger.info("first")
    logger.info("second")
    assert stream.getvalue() == ""  # still waiting for company
    deadline = time.monotonic() + 5
    while not stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.getvalue() == "first\nsecond\n"


def test_a_warning_goes_out_at_once_after_the_lines_before_it() -> None:
    stream = io.StringIO()
    logger = _logger_writing_to(stream, linger=60)
    logger.info("session created")
    logger.warning("Belvo answered 503")
    assert stream.getvalue() == "session created\nBelvo answered 503\n"


def test_lines_logged_by_many_threads_at_once_each_go_out_once_and_in_order() -> None:
    stream = io.StringIO()
    logger = _logger_writing_to(stream, linger=0.001)
    threads, lines = 8, 400

    def log_lines(thread: int) -> None:
        for n in range(lines):
            logger.info("thread %d line %d", thread, n)

    workers = [threading.Thread(target=log_lines, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    logger.warning("done")  # goes out at once, with everything still waiting before it

    written = stream.getvalue().splitlines()
    assert written[-1] == "done"
    for thread in range(threads):
        own = [line for line in written if line.startswith(f"thread {thread} ")]
        assert own == [f"thread {thread} line {n}" for n in range(lines)]
    assert len(written) == threads * lines + 1


def test_a_stream_that_refuses_lines_never_raises_into_the_caller(capsys: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    logger = _logger_writing_to(stream, linger=60)
    stream.close()  # as a log router's pipe that went away
    logger.info("queued")
    logger.error("Belvo unavailable")  # goes out at once with the line before it; the stream refuses both
    assert "2 log lines not written" in capsys.readouterr().err  # logging's own report, on standard error


def _messages_logged_by(program: str) -> list[str]:
    """The messages of the log lines a Python program writes to standard error after configuring the
    backend's logging at INFO, in the order they were written."""
    prelude = (
        "import logging, os, sys\n"
        "from server.observability import configure_logging\n"
        "configure_logging('INFO')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", prelude + program], capture_output=True, text=True, timeout=60, check=True
    )
    return [json.loads(line)["message"] for line in done.stderr.splitlines()]


def test_a_forked_process_does_not_write_its_parents_waiting_lines_again() -> None:
    program = (
        "logging.getLogger('server.x').info('before the fork')\n"
        "child = os.fork()\n"
        "if child == 0:\n"
        "    logging.getLogger('server.x').info('in the child')\n"
        "    logging.shutdown()\n"
        "    os._exit(0)\n"
        "os.waitpid(child, 0)\n"
    )
    assert sorted(_messages_logged_by(program)) == ["before the fork", "in the child"]


def test_no_line_is_lost_when_the_process_exits_at_once() -> None:
    program = "for n in range(3):\n    logging.getLogger('server.x').info('line %d', n)\nsys.exit(0)\n"
    assert _messages_logged_by(program) == ["line 0", "line 1", "line 2"]
