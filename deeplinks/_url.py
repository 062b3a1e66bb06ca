"""URL splitting and query decoding shared by `parse` and `CallbackUrls`.

Written on regular expressions instead of `urllib.parse.urlsplit`, which silently strips leading
C0 characters and removes tabs and newlines (CVE-2023-24329, bpo-43882), reads
`your_deeplink_here://x` as a relative path instead of refusing its scheme, and whose `parse_qsl`
passes `%zz` through untouched (threat model, section E). Every rule here answers with a
`DeeplinkError` that names it.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple
from urllib.parse import unquote_to_bytes

from deeplinks.errors import INVALID_DEEPLINK, DeeplinkError, shown

MAX_LENGTH: Final = 4096
"""Longest URL accepted (contract, section 3): bounds the work one request can cause."""

# Characters RFC 3986 allows raw in a URI (unreserved, reserved, "%"), less "[" and "]" (only for
# IPv6 hosts, never in a callback) and "#" (reported as a fragment below). Everything else, controls,
# spaces and non-ASCII included, must arrive percent-encoded: that is what encodeURIComponent,
# Android's Uri.encode and Swift's URLComponents send, and what iOS's URL(string:) insists on.
_RAW_FORBIDDEN: Final = re.compile(r"[^A-Za-z0-9\-._~:/?@!$&'()*+,;=%]")
_BAD_ESCAPE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SPLIT: Final = re.compile(r"(?:([^:/?]*):)?(?://([^/?]*))?([^?]*)(?:\?(.*))?", re.DOTALL)

# The whole grammar in one pass, for the usual well-formed URL (RFC 3986 within the limits above);
# a URL it refuses goes to `_diagnose`, which finds the rule it breaks.
_SEGMENT_CHARACTERS: Final = r"A-Za-z0-9\-._~!$&'()*+,;=%:@"
_PATH: Final = rf"[{_SEGMENT_CHARACTERS}/]*"
_WELL_FORMED: Final = re.compile(
    r"([A-Za-z][A-Za-z0-9+.\-]*):"  # scheme ":"
    rf"(?://([A-Za-z0-9._~\-]*)(?::([0-9]*))?(/{_PATH})?"  # "//" host [":" port] ["/" path]
    rf"|(?!//)({_PATH}))"  # or a path that does not start with "//"
    rf"(?:\?([{_SEGMENT_CHARACTERS}/?]*))?"  # ["?" query]
)
_QUERY: Final = re.compile(rf"[{_SEGMENT_CHARACTERS}/?]*")
_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_HOST: Final = re.compile(r"[A-Za-z0-9._~\-]*")
_PORT: Final = re.compile(r"[0-9]{1,5}")
_DOT_SEGMENTS: Final = frozenset({".", "..", "%2e", "%2e%2e", ".%2e", "%2e."})
_PORT_SCHEMES: Final = frozenset({"http", "https"})

# Decoded text may not hold C0/C1 controls, DEL, bidi overrides or isolates (log injection and
# display spoofing, threat model E), nor lone surrogates (not encodable, so never sent by Belvo).
FORBIDDEN_TEXT: Final = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")

ACCESS_TOKEN: Final = "access_token"  # noqa: S105 (a parameter name, not a secret)
"""The App2App resume parameter carrying the widget's access token: its value is never quoted in an
error message, which may reach a log."""

NEVER_CALLBACK_SCHEMES: Final = frozenset(
    {"javascript", "vbscript", "data", "file", "blob", "about", "intent"}
)
"""Schemes a Belvo callback can never use: a URL with one of them is `unknown_event`."""


class UrlParts(NamedTuple):
    """A URL split into what classification needs; scheme and authority are lowercased."""

    scheme: str
    authority: str | None
    path: str
    query: str | None

    @property
    def host(self) -> str:
        return (self.authority or "").partition(":")[0]


def _invalid(message: str, field: str) -> DeeplinkError:
    return DeeplinkError(INVALID_DEEPLINK, message, field)


def _shown_url(url: str) -> str:
    """`url` quoted for an error message without its query, which may carry an access token."""
    base, question, _ = url.partition("?")
    return shown(base + ("?..." if question else ""))


def split_url(url: object, field: str = "url") -> UrlParts:
    """Check `url` against the URL-level rules and split it; errors name `field`.

    >>> split_url("MyApp://Belvo/success?link=1")
    UrlParts(scheme='myapp', authority='belvo', path='/success', query='link=1')
    >>> split_url("myapp://success#x")
    Traceback (most recent call last):
    ...
    deeplinks.errors.DeeplinkError: expected no fragment ('#...') in a Belvo deeplink; got 'myapp://success#x'
    """
    if not isinstance(url, str):
        raise _invalid(f"expected the URL as a string; got {type(url).__name__}", field)
    if len(url) > MAX_LENGTH:
        raise _invalid(f"expected at most {MAX_LENGTH} characters; got {len(url)}", field)
    match = _WELL_FORMED.fullmatch(url)
    if match is None:
        raise _diagnose(url, field)
    scheme, host, port, path_after_host, path, query = match.groups()
    if "%" in url:
        _check_escapes(url, field)
    scheme = scheme.lower()
    authority = None
    if host is not None:
        authority = host.lower()
        path = path_after_host or ""
        if port is not None:
            _check_port(scheme, port, f"{host}:{port}", field)
            authority = f"{authority}:{port}"
    if "." in path or "%2" in path:
        for segment in path.split("/"):
            if segment.lower() in _DOT_SEGMENTS:
                raise _invalid(f"expected a path without '.' or '..' segments; got {shown(path)}", field)
    return UrlParts(scheme, authority, path, query)


def check_query(query: object, field: str) -> str:
    """`query` if it is a query string `split_url` would accept (raw characters, escapes).

    Messages give a position, never the query: a resume query carries an access token.

    >>> check_query("access_token=a%20b&locale=pt", "query")
    'access_token=a%20b&locale=pt'
    >>> check_query("a=b c", "query")
    Traceback (most recent call last):
    ...
    deeplinks.errors.DeeplinkError: expected only characters allowed raw in a URL query (RFC 3986), \
others percent-encoded; got ' ' at position 3
    """
    if not isinstance(query, str):
        raise _invalid(f"expected the query as a string; got {type(query).__name__}", field)
    if _QUERY.fullmatch(query) is None:
        bad = _RAW_FORBIDDEN.search(query)
        assert bad is not None  # _QUERY allows exactly the characters _RAW_FORBIDDEN does not forbid
        raise _invalid(
            "expected only characters allowed raw in a URL query (RFC 3986), others percent-encoded; "
            f"got {bad.group()!r} at position {bad.start()}",
            field,
        )
    if "%" in query:
        _check_escapes(query, field)
    return query


def _check_escapes(url: str, field: str) -> None:
    bad = _BAD_ESCAPE.search(url)
    if bad is not None:
        raise _invalid(
            f"expected '%' followed by two hex digits; got {shown(url[bad.start() : bad.start() + 3])}"
            f" at position {bad.start()}",
            field,
        )


def _check_port(scheme: str, port: str, authority: str, field: str) -> None:
    if scheme not in _PORT_SCHEMES:
        raise _invalid(f"expected a port only on http(s) URLs; got {shown(authority)}", field)
    if _PORT.fullmatch(port) is None or int(port) > 65535:
        raise _invalid(f"expected a port from 0 to 65535; got {shown(port)}", field)


def _diagnose(url: str, field: str) -> DeeplinkError:
    """The error naming the first rule a URL that `_WELL_FORMED` refused breaks."""
    bad = _RAW_FORBIDDEN.search(url)
    if bad is not None:
        if bad.group() == "#":
            return _invalid(
                f"expected no fragment ('#...') in a Belvo deeplink; got {_shown_url(url)}", field
            )
        return _invalid(
            f"expected only characters allowed raw in a URL (RFC 3986), others percent-encoded; "
            f"got {bad.group()!r} at position {bad.start()}",
            field,
        )
    match = _SPLIT.fullmatch(url)
    assert match is not None  # every group of _SPLIT is optional, so it matches any string
    scheme, authority, _, _ = match.groups()
    if scheme is None:
        return _invalid(
            f"expected a URL with a scheme, like 'myapp://success?...'; got {_shown_url(url)}", field
        )
    if _SCHEME.fullmatch(scheme) is None:
        return _invalid(
            f"expected a scheme of a letter then letters, digits, '+', '-' or '.' (RFC 3986); "
            f"got {shown(scheme)}",
            field,
        )
    if authority is not None:
        if "@" in authority:
            # `myapp://success@evil` names the host `evil` to RFC 3986 but `success` to a naive reader.
            return _invalid(
                f"expected no user information ('...@') in the host; got {shown(authority)}", field
            )
        host, _, port = authority.partition(":")
        if _HOST.fullmatch(host) is None:
            return _invalid(
                f"expected a host of letters, digits, '.', '_', '~' or '-'; got {shown(host)}", field
            )
        try:
            _check_port(scheme.lower(), port, authority, field)
        except DeeplinkError as error:
            return error
    return _invalid(f"expected a URL like 'myapp://success?...'; got {_shown_url(url)}", field)


def decode_component(raw: str, field: str, what: str | None = None) -> str:
    """Percent-decode one query name or value exactly once, `+` meaning a space.

    The escapes were checked by `split_url`; here the bytes must be UTF-8 and the text free of
    controls. Errors name `field` and say `what` was decoded (default: `field`).

    >>> decode_component("Token+inv%C3%A1lido%20x", "error_message")
    'Token inválido x'
    >>> decode_component("%FF", "error_message")
    Traceback (most recent call last):
    ...
    deeplinks.errors.DeeplinkError: expected UTF-8 after percent-decoding error_message; got '%FF'
    """
    if "%" not in raw:
        return raw.replace("+", " ") if "+" in raw else raw
    what = what or field
    try:
        text = unquote_to_bytes(raw.replace("+", " ")).decode("utf-8")
    except UnicodeDecodeError:
        got = "a value not shown" if field == ACCESS_TOKEN else shown(raw)
        raise _invalid(f"expected UTF-8 after percent-decoding {what}; got {got}", field) from None
    bad = FORBIDDEN_TEXT.search(text)
    if bad is not None:
        raise _invalid(
            f"expected no control or bidi characters in {what}; got {bad.group()!r} "
            f"(U+{ord(bad.group()):04X}) after percent-decoding",
            field,
        )
    return text


def decode_query(query: str | None) -> list[tuple[str, str]]:
    """The query's (name, value) pairs, decoded, in order.

    Empty fields (`a=1&&b=2`, a trailing `&`) carry nothing and are skipped, as Android's `Uri`,
    `URLSearchParams` and `parse_qsl` all do; a name-less value (`=x`) is rejected, since no reader
    can ask for it. A field without `=` is a name with an empty value.

    >>> decode_query("link=1&&note=a+b&flag")
    [('link', '1'), ('note', 'a b'), ('flag', '')]
    """
    if not query:
        return []
    pairs = []
    for item in query.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        if not name:
            raise _invalid(f"expected a parameter name before '='; got {shown(item)}", "url")
        # The checks inline the common case (nothing to decode): this loop is parse's hot path.
        if "%" in name or "+" in name:
            name = decode_component(name, "url", "a parameter name")
        if "%" in value or "+" in value:
            value = decode_component(value, name)
        pairs.append((name, value))
    return pairs


def event_name(parts: UrlParts) -> str:
    """The last non-empty path segment, or else the host (contract, section 3, rule 2).

    >>> event_name(split_url("myapp://belvo/success/"))
    'success'
    >>> event_name(split_url("myapp://exit"))
    'exit'
    """
    last = parts.path.rstrip("/").rpartition("/")[2]
    return last or parts.host
