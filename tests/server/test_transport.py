"""The Belvo client's transport over the network, against real local servers: keep-alive connections,
a base URL's path, proxies (forwarding and tunnelling) and CA bundles from the environment, no redirects
followed, failures, and connections that must not be reused."""

from __future__ import annotations

import gzip
import json
import select
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar
from unittest import mock

import pytest

from server.config import ConfigError
from server.transport import HttpTransport, TransportError, proxy_for
from tests.support import http_server

TIMEOUT = (3.05, 10.0)


class _Echo(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive; answers what it was sent: the port it listens on, the request target
    (a proxy is sent the whole URL), the client's port (one per connection), the method, the headers
    and the body. ``/redirect`` answers 302, ``/gzip`` a compressed body, ``/slow`` after 1 s;
    ``/hang-up`` closes the connection once it has answered, without saying so (as a server closes an
    idle kept-alive connection)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        sent = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.endswith("/slow"):
            time.sleep(1)
        body = json.dumps(
            {
                "port": self.server.server_address[1],
                "target": self.path,
                "client_port": self.client_address[1],
                "method": self.command,
                "headers": dict(self.headers.items()),
                "body": sent.decode(),
            }
        ).encode()
        status, extra = 200, {}
        if self.path.endswith("/redirect"):
            status, extra = 302, {"Location": "http://collector.example/api/token/"}
        if self.path.endswith("/gzip"):
            body, extra = gzip.compress(body), {"Content-Encoding": "gzip"}
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **extra}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.path.endswith("/hang-up"):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


def port_of(url: str) -> int:
    return int(url.rpartition(":")[2])


@pytest.fixture
def servers() -> Iterator[list[str]]:
    """Two HTTP servers on 127.0.0.1, by their base URLs."""
    with ExitStack() as stack:
        yield [stack.enter_context(http_server(_Echo)) for _ in range(2)]


def test_it_sends_to_its_base_url_on_kept_alive_connections(servers: list[str]) -> None:
    belvo, _ = servers
    transport = HttpTransport(belvo, {})
    headers = {"Content-Type": "application/json", "Authorization": "Basic a2V5czpzZWNyZXQ="}
    first = transport.send("POST", "/api/token/?x=1", headers, b'{"id": "i"}', TIMEOUT).json()
    second = transport.send("GET", "/api/links/", {}, None, TIMEOUT).json()

    assert (first["port"], first["target"], first["method"]) == (port_of(belvo), "/api/token/?x=1", "POST")
    assert first["body"] == '{"id": "i"}'
    assert first["headers"]["Authorization"] == headers["Authorization"]
    assert second["client_port"] == first["client_port"]  # the same connection, kept alive
    transport.close()
    with pytest.raises(TransportError, match="closed"):
        transport.send("GET", "/api/", {}, None, TIMEOUT)


def test_a_request_goes_out_in_one_write_head_and_body(servers: list[str]) -> None:
    transport = HttpTransport(servers[0], {})
    transport.send("GET", "/api/", {}, None, TIMEOUT)  # connected and kept alive
    writes: list[bytes] = []
    sendall = socket.socket.sendall

    def recorded(sock: socket.socket, data: bytes, *flags: int) -> None:
        if sock.getpeername()[1] == port_of(servers[0]):  # the client's, not the server's answers
            writes.append(bytes(data))
        sendall(sock, data, *flags)

    headers = {"Content-Type": "application/json"}
    with mock.patch.object(socket.socket, "sendall", recorded):
        answer = transport.send("POST", "/api/token/", headers, b'{"id": "i"}', TIMEOUT)
    (written,) = writes
    assert written.startswith(b"POST /api/token/ HTTP/1.1\r\n")
    assert written.endswith(b'\r\nContent-Length: 11\r\n\r\n{"id": "i"}')
    assert answer.json()["body"] == '{"id": "i"}'


def test_a_connection_the_server_closed_while_idle_is_not_reused(servers: list[str]) -> None:
    transport = HttpTransport(servers[0], {})
    first = transport.send("GET", "/api/hang-up", {}, None, TIMEOUT).json()
    time.sleep(0.1)  # the server's close reaches this side
    second = transport.send("POST", "/api/token/", {}, b"{}", TIMEOUT).json()
    assert second["method"] == "POST"
    assert second["client_port"] != first["client_port"]


def test_in_a_gevent_worker_checking_an_idle_connection_lets_no_other_request_run_first() -> None:
    # Every reuse of a kept-alive connection checks it first; in a gevent worker a poll there, even one
    # that does not wait, let the worker's other requests run before this one went on (bench/sessions.py:
    # p99 at 32 clients on PostgreSQL 21.19 ms with it, 13.30 without).
    script = """
from gevent import monkey; monkey.patch_all()
import gevent, socket
from server.transport import _dropped
ours, servers = socket.socketpair()
ran = []
gevent.spawn(ran.append, "another request")
print(_dropped(ours), ran)
servers.close()
print(_dropped(ours), ran)
"""
    root = Path(__file__).parents[2]
    run = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=60, cwd=root
    )
    assert run.stdout.splitlines() == ["False []", "True []"], run.stderr


def test_a_base_url_with_a_path_prefixes_every_request(servers: list[str]) -> None:
    transport = HttpTransport(f"{servers[0]}/sandbox/", {})
    assert transport.send("GET", "/api/links/", {}, None, TIMEOUT).json()["target"] == "/sandbox/api/links/"


def test_any_status_is_an_answer_and_a_redirect_is_not_followed(servers: list[str]) -> None:
    reply = HttpTransport(servers[0], {}).send("POST", "/api/token/redirect", {}, b"{}", TIMEOUT)
    assert (reply.status, reply.headers["location"]) == (302, "http://collector.example/api/token/")


def test_a_compressed_answer_is_read_decompressed(servers: list[str]) -> None:
    reply = HttpTransport(servers[0], {}).send("GET", "/api/gzip", {"Accept-Encoding": "br"}, None, TIMEOUT)
    assert reply.json()["target"] == "/api/gzip"
    assert reply.json()["headers"]["Accept-Encoding"] == "gzip"  # only what it can decode is asked for


def test_plain_http_goes_through_the_proxy_the_environment_names(servers: list[str]) -> None:
    belvo, proxy = servers
    reply = HttpTransport(belvo, {"HTTP_PROXY": proxy}).send("GET", "/api/", {}, None, TIMEOUT).json()
    assert (reply["port"], reply["target"]) == (port_of(proxy), f"{belvo}/api/")
    # A host no_proxy names goes direct.
    direct = HttpTransport(belvo, {"HTTP_PROXY": proxy, "no_proxy": "127.0.0.1"})
    assert direct.send("GET", "/api/", {}, None, TIMEOUT).json()["port"] == port_of(belvo)


def test_the_proxy_variables_are_read_as_urllib_reads_them() -> None:
    https = "https://sandbox.belvo.com"
    assert proxy_for(https, {"HTTPS_PROXY": "http://upper:3128", "https_proxy": "http://lower:3128"}) == (
        "http://lower:3128"
    )
    assert proxy_for(https, {"ALL_PROXY": "http://all:3128"}) == "http://all:3128"
    assert proxy_for(https, {"HTTP_PROXY": "http://plain:3128"}) is None
    assert proxy_for(https, {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "sandbox.belvo.com"}) is None


def test_the_proxy_s_credentials_go_with_each_forwarded_request(servers: list[str]) -> None:
    belvo, proxy = servers
    transport = HttpTransport(belvo, {"http_proxy": proxy.replace("//", "//ops:p%40ss@")})
    sent = transport.send("GET", "/api/", {}, None, TIMEOUT).json()
    assert sent["target"] == f"{belvo}/api/"
    assert sent["headers"]["Proxy-Authorization"] == "Basic b3BzOnBAc3M="  # ops:p@ss


@pytest.mark.parametrize("proxy", ["socks5://ops:s3cret@proxy:1080", "https://ops:s3cret@proxy:3128"])
def test_a_proxy_it_cannot_speak_to_is_refused_at_start(proxy: str) -> None:
    with pytest.raises(ConfigError, match="expected an http:// proxy") as refused:
        HttpTransport("https://sandbox.belvo.com", {"HTTPS_PROXY": proxy})
    assert "s3cret" not in str(refused.value)  # the message goes to the operator's logs


def test_a_proxy_named_without_a_scheme_is_an_http_one(servers: list[str]) -> None:
    belvo, proxy = servers
    transport = HttpTransport(belvo, {"http_proxy": proxy.removeprefix("http://")})
    assert transport.send("GET", "/api/", {}, None, TIMEOUT).json()["port"] == port_of(proxy)


def test_a_base_url_it_cannot_speak_to_is_refused_at_start() -> None:
    with pytest.raises(ConfigError, match="expected an http:// or https:// URL"):
        HttpTransport("ftp://sandbox.belvo.com", {})


def test_no_connection_and_no_answer_in_time_are_transport_errors(servers: list[str]) -> None:
    with http_server(_Echo) as gone:
        pass  # its port is free again: nothing listens there
    with pytest.raises(TransportError) as refused:
        HttpTransport(gone, {}).send("GET", "/api/", {}, None, TIMEOUT)
    assert type(refused.value.__cause__).__name__ == "ConnectionRefusedError"
    transport = HttpTransport(servers[0], {})
    with pytest.raises(TransportError) as slow:
        transport.send("GET", "/api/slow", {}, None, (1.0, 0.2))
    assert type(slow.value.__cause__).__name__ == "TimeoutError"
    # The connection the timeout left, its answer still to come, is not reused: the next request gets
    # its own answer.
    assert transport.send("POST", "/api/token/", {}, b"{}", TIMEOUT).json()["target"] == "/api/token/"


@contextmanager
def https_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate: its base URL and the certificate."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is missing: it makes the test's certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
    subprocess.run(
        [openssl, *request, "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with http_server(_Echo, tls=context) as url:
        yield url, cert


def test_tls_is_verified_against_the_ca_bundle_the_environment_names(tmp_path: Path) -> None:
    with https_server(tmp_path) as (url, cert):
        with pytest.raises(TransportError) as untrusted:  # certifi's bundle does not know it
            HttpTransport(url, {}).send("GET", "/api/", {}, None, TIMEOUT)
        assert type(untrusted.value.__cause__).__name__ == "SSLCertVerificationError"
        for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            reply = HttpTransport(url, {variable: str(cert)}).send("GET", "/api/", {}, None, TIMEOUT)
            assert reply.json()["target"] == "/api/"


class _Tunnel(BaseHTTPRequestHandler):
    """A proxy that only tunnels: ``CONNECT host:port``, then bytes both ways until either side closes.
    The ``CONNECT`` requests it took are kept on the class, as ``(target, Proxy-Authorization)``."""

    protocol_version = "HTTP/1.1"
    connects: ClassVar[list[tuple[str, str | None]]] = []

    def do_CONNECT(self) -> None:
        self.connects.append((self.path, self.headers.get("Proxy-Authorization")))
        host, _, port = self.path.rpartition(":")
        with socket.create_connection((host, int(port))) as upstream:
            self.send_response(200, "Connection established")
            self.end_headers()
            ends = [self.connection, upstream]
            while True:
                readable, _, _ = select.select(ends, [], [], 5)
                if not readable:
                    break
                for end in readable:
                    data = end.recv(65536)
                    if not data:
                        self.close_connection = True
                        return
                    (upstream if end is self.connection else self.connection).sendall(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_https_goes_through_the_proxy_s_tunnel_verified_end_to_end(tmp_path: Path) -> None:
    with https_server(tmp_path) as (url, cert), http_server(_Tunnel) as proxy:
        _Tunnel.connects.clear()
        environ = {"https_proxy": proxy.replace("//", "//ops:secret@"), "REQUESTS_CA_BUNDLE": str(cert)}
        transport = HttpTransport(url, environ)
        first = transport.send("POST", "/api/token/", {}, b"{}", TIMEOUT).json()
        second = transport.send("GET", "/api/", {}, None, TIMEOUT).json()
        assert (first["target"], first["port"]) == ("/api/token/", port_of(url))  # the origin answered
        assert "Proxy-Authorization" not in first["headers"]  # for the proxy only, not sent on to Belvo
        assert second["client_port"] == first["client_port"]
        assert _Tunnel.connects == [(f"127.0.0.1:{port_of(url)}", "Basic b3BzOnNlY3JldA==")]  # ops:secret
        # The tunnel is TLS to the origin, checked against the CA bundle as a direct connection is.
        with pytest.raises(TransportError) as untrusted:
            HttpTransport(url, {"https_proxy": proxy}).send("GET", "/api/", {}, None, TIMEOUT)
        assert type(untrusted.value.__cause__).__name__ == "SSLCertVerificationError"


@contextmanager
def canned(answer: bytes, close: bool = False) -> Iterator[tuple[str, list[int]]]:
    """A server on 127.0.0.1 answering every request with the bytes ``answer`` (then closing the connection
    if ``close``): its base URL, and a list that gets one entry per connection it accepts."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []

    def serve(connection: socket.socket) -> None:
        with connection:
            while connection.recv(65536).endswith(b"\r\n\r\n"):  # the tests' requests have no body
                connection.sendall(answer)
                if close:
                    return

    def accept() -> None:
        while True:
            try:
                connection, _address = listener.accept()
            except OSError:  # closed: the block is over
                return
            accepted.append(1)
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    finally:
        listener.close()


def test_an_answer_without_a_length_ends_with_its_connection_which_is_not_reused() -> None:
    answer = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"access": "a"}'
    with canned(answer, close=True) as (url, accepted):
        transport = HttpTransport(url, {})
        assert transport.send("GET", "/api/", {}, None, TIMEOUT).json() == {"access": "a"}
        assert transport.send("GET", "/api/", {}, None, TIMEOUT).json() == {"access": "a"}
    assert len(accepted) == 2


def test_a_chunked_answer_is_read_whole_on_a_connection_kept_alive() -> None:
    chunks = b'5\r\n{"a":\r\n4\r\n "b"\r\n1\r\n}\r\n0\r\n\r\n'
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks
    with canned(answer) as (url, accepted):
        transport = HttpTransport(url, {})
        for _ in range(2):
            assert transport.send("GET", "/api/", {}, None, TIMEOUT).json() == {"a": "b"}
    assert len(accepted) == 1


def test_an_informational_answer_before_the_answer_is_skipped() -> None:
    answer = b"HTTP/1.1 100 Continue\r\nX-Early: 1\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}"
    with canned(answer) as (url, _accepted):
        reply = HttpTransport(url, {}).send("POST", "/api/token/", {}, None, TIMEOUT)
    assert (reply.status, reply.body, "X-Early" in reply.headers) == (201, b"{}", False)


def test_an_answer_to_head_has_no_body_whatever_its_length_says() -> None:
    with canned(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n") as (url, accepted):
        transport = HttpTransport(url, {})
        for _ in range(2):
            reply = transport.send("HEAD", "/api/", {}, None, TIMEOUT)
            assert (reply.status, reply.headers["content-length"], reply.body) == (200, "5", b"")
    assert len(accepted) == 1


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", "RemoteDisconnected"),  # cut short
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 200", "200"),  # more than the answer
        (b"not HTTP at all\r\n\r\n", "HttpParserError"),
    ],
)
def test_a_connection_an_answer_left_in_doubt_is_not_reused(answer: bytes, outcome: str) -> None:
    with canned(answer, close=outcome == "RemoteDisconnected") as (url, accepted):
        transport = HttpTransport(url, {})
        for _ in range(2):
            try:
                seen = str(transport.send("GET", "/api/", {}, None, TIMEOUT).status)
            except TransportError as exc:
                seen = type(exc.__cause__).__name__
            assert seen == outcome
    assert len(accepted) == 2


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/", {"X-Id": "1\r\nX-Injected: 2"}),
        ("/api/", {"X-Id": "1\nX-Injected: 2"}),
        ("/api/ HTTP/1.1\r\nX-Injected: 2\r\nX:", {}),
        ("/api/links/a b/", {}),
    ],
)
def test_a_request_that_would_not_be_one_line_per_header_is_refused_unsent(
    path: str, headers: dict[str, str]
) -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
    with canned(answer) as (url, accepted), pytest.raises(ValueError, match="Expected"):
        HttpTransport(url, {}).send("GET", path, headers, None, TIMEOUT)
    assert accepted == []
