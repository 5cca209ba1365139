"""The HTTP fetcher of feeds and articles: web addresses only, public hosts only, bounded.

A feed is someone else's text, and so are the links in it: an entry may point at 127.0.0.1,
at a router's admin page or at a cloud metadata address, or redirect there. Unless
`[ingest] allow_private_networks` is set, every connection (the first and each redirect's)
resolves its host, refuses loopback, private, link-local, multicast and reserved addresses,
and connects to the very address it checked, so a name that resolves differently a second
time (DNS rebinding) gets no further. Proxies from the environment are not used: the address
checked must be the one connected to.

A fetch is bounded by its size and by one time limit for the whole of it, from connecting
to the last byte, redirects included.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import ipaddress
import math
import socket
import threading
import time
import urllib.request
from dataclasses import dataclass
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from briefing import __version__
from briefing.config import IngestSettings
from briefing.errors import InputError

CHUNK = 64 * 1024
USER_AGENT = f"briefing/{__version__} (feed reader)"
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class FetchedPage:
    """A response body and the charset the server names for it, if any."""

    body: bytes
    charset: str | None


class RefusedAddressError(OSError):
    """A host that resolves to an address feeds may not reach."""


def is_web_address(address: str) -> bool:
    return urlsplit(address).scheme in ("http", "https")


def non_public_kind(address: IPAddress) -> str | None:
    """Why an address is not on the public internet ('loopback', 'private', …), else None."""
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    checks = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("reserved", address.is_reserved),
        ("private", address.is_private or not address.is_global),
    )
    return next((kind for kind, matches in checks if matches), None)


class _Deadline:
    """One fetch's time limit, held against a server that trickles bytes.

    A socket timeout bounds each read, not their sum: a server sending a byte a second keeps
    every read short and a fetch going for hours, in its headers as in its body. So when the
    time is up, the fetch's connections are shut down, which ends any read waiting on them.
    Each is shut through a duplicate this owns until the fetch ends, never a closed or reused
    descriptor.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = math.inf
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self._end

    def watch(self, sock: socket.socket) -> None:
        duplicate = socket.fromfd(sock.fileno(), sock.family, sock.type)
        with self._lock:
            self._sockets.append(duplicate)
            if self._fired:
                _disconnect(duplicate)

    def _fire(self) -> None:
        with self._lock:
            self._fired = True
            for sock in self._sockets:
                _disconnect(sock)

    def __enter__(self) -> _Deadline:
        self._end = time.monotonic() + self.seconds
        self._timer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._timer.cancel()
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()


def _disconnect(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # the server may have closed it already
        sock.shutdown(socket.SHUT_RDWR)


@dataclass(frozen=True)
class _Connector:
    """Opens a fetch's TCP connections: checked addresses only, each watched by the deadline."""

    deadline: _Deadline
    allow_private: bool

    def __call__(self, address: tuple[str, int], timeout: float, _source: object = None):
        host, port = address
        refused: RefusedAddressError | None = None
        failed: OSError | None = None
        for family, kind, proto, _, sockaddr in socket.getaddrinfo(
            host, port, 0, socket.SOCK_STREAM
        ):
            ip = ipaddress.ip_address(sockaddr[0])
            why = None if self.allow_private else non_public_kind(ip)
            if why:
                refused = _refusal(host, ip, why)
                continue
            sock = socket.socket(family, kind, proto)
            self.deadline.watch(sock)
            try:
                sock.settimeout(timeout)
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                failed = exc
                continue
            return sock
        raise failed or refused or OSError(f"{host}: no address to connect to")


def _refusal(host: str, ip: IPAddress, kind: str) -> RefusedAddressError:
    named = str(ip) if host.strip("[]") == str(ip) else f"{host} ({ip})"
    return RefusedAddressError(
        f"{named} is a {kind} address; feeds may not reach private networks "
        "([ingest] allow_private_networks)"
    )


class _CheckedConnection:
    """An http.client connection that opens its socket through the fetch's connector.

    http.client opens every connection through `_create_connection` (socket.create_connection
    by default); HTTPS wraps the socket this returns, so nothing is sent before the check.
    tests/test_ingest_fetch.py pins this on plain and TLS servers.
    """

    def __init__(self, *args, connector: _Connector, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = connector


class _CheckedHTTP(_CheckedConnection, http.client.HTTPConnection):
    pass


class _CheckedHTTPS(_CheckedConnection, http.client.HTTPSConnection):
    pass


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, connector: _Connector) -> None:
        super().__init__()
        self.connector = connector

    def http_open(self, req):
        return self.do_open(functools.partial(_CheckedHTTP, connector=self.connector), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, connector: _Connector) -> None:
        super().__init__()
        self.connector = connector

    def https_open(self, req):
        return self.do_open(functools.partial(_CheckedHTTPS, connector=self.connector), req)


class _WebOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http and https only, never to file: or ftp:."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if not is_web_address(newurl):
            raise InputError(f"{req.full_url}: redirected to a non-web address {newurl!r}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch(url: str, limits: IngestSettings, *, time_left: float | None = None) -> FetchedPage:
    """The body at an http(s) address, within the limits; any failure is one InputError line.

    The whole fetch gets `limits.fetch_timeout` seconds, or `time_left` when that is shorter
    (what remains of a feed's poll).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"{url}: not an http or https address")
    seconds = min(limits.fetch_timeout, time_left if time_left is not None else math.inf)
    deadline = _Deadline(max(seconds, 0.001))
    connector = _Connector(deadline, limits.allow_private_networks)
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler({}),
        urllib.request.UnknownHandler(),
        _HTTPHandler(connector),
        _HTTPSHandler(connector),
        urllib.request.HTTPDefaultErrorHandler(),
        _WebOnlyRedirects(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with deadline, opener.open(request, timeout=deadline.seconds) as response:
            body = _read_limited(response, url, deadline, limits.max_fetch_bytes)
            charset = response.headers.get_content_charset()
    except HTTPError as exc:
        raise InputError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (OSError, http.client.HTTPException) as exc:
        reason = exc.reason if isinstance(exc, URLError) else exc
        if isinstance(reason, RefusedAddressError):
            raise InputError(f"{url}: {reason}") from None
        if deadline.expired or isinstance(reason, TimeoutError):
            raise InputError(f"{url}: no answer within {deadline.seconds:g} s") from None
        raise InputError(f"{url}: {reason}") from None
    return FetchedPage(body, charset)


def _read_limited(response, url: str, deadline: _Deadline, max_bytes: int) -> bytes:
    """The body, read as it arrives (read1), so the deadline is checked after every packet."""
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise InputError(f"{url}: larger than the limit of {max_bytes} bytes")
    chunks, size = [], 0
    try:
        while (chunk := response.read1(CHUNK)) and not deadline.expired:
            size += len(chunk)
            if size > max_bytes:
                raise InputError(f"{url}: larger than the limit of {max_bytes} bytes")
            chunks.append(chunk)
    except (OSError, http.client.HTTPException):
        if not deadline.expired:
            raise
    if deadline.expired:  # a connection shut at the deadline reads as a short body
        raise InputError(f"{url}: no complete answer within {deadline.seconds:g} s")
    return b"".join(chunks)
