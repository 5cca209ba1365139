"""The HTTP fetcher on real loopback servers: private networks refused, one deadline per fetch."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from werkzeug import Request, Response

from briefing.config import IngestSettings
from briefing.errors import InputError
from briefing.ingest import fetch as fetcher
from briefing.ingest.fetch import fetch, non_public_kind
from tests.ingest_fixtures import tls_web, web

__all__ = ["tls_web", "web"]  # fixtures, used by name

PUBLIC = IngestSettings()
LOOPBACK = IngestSettings(allow_private_networks=True, fetch_timeout=1.0)
REFUSAL = "is a loopback address; feeds may not reach private networks"


class Listener:
    """A raw TCP server on loopback that records whether any connection or byte reached it."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.socket = socket.create_server((host, 0))
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.url = f"http://{host}:{self.port}/secret"

    def reached(self) -> bool:
        try:
            connection, _ = self.socket.accept()
        except TimeoutError:
            return False
        connection.close()
        return True


@pytest.fixture
def listener() -> Iterator[Listener]:
    opened = Listener()
    yield opened
    opened.socket.close()


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_loopback_is_refused_before_anything_is_sent(listener, scheme):
    url = listener.url.replace("http", scheme, 1)
    with pytest.raises(InputError) as refused:
        fetch(url, PUBLIC)
    assert str(refused.value) == (f"{url}: 127.0.0.1 {REFUSAL} ([ingest] allow_private_networks)")
    assert not listener.reached(), "not even a TCP connection was opened"


def test_a_name_is_checked_on_the_address_it_resolves_to(listener):
    url = f"http://localhost:{listener.port}/secret"
    with pytest.raises(InputError, match=r"localhost \(127\.0\.0\.1\) is a loopback address"):
        fetch(url, PUBLIC)
    assert not listener.reached()


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.1.1", "private"),
        ("172.16.0.1", "private"),
        ("100.64.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("fc00::1", "private"),
        ("93.184.216.34", None),
        ("2606:4700::1111", None),
    ],
)
def test_which_addresses_are_public(address, kind):
    assert non_public_kind(ipaddress.ip_address(address)) == kind


def test_every_redirect_is_checked_on_its_own_address(web, monkeypatch):
    """The first server stands in for a public host (nothing public runs here); the redirect
    goes to another loopback address, as a hostile site would send a feed reader."""
    target = Listener("127.0.0.2")
    web.expect_request("/moved").respond_with_data("", status=302, headers={"Location": target.url})
    real = non_public_kind
    monkeypatch.setattr(
        fetcher,
        "non_public_kind",
        lambda ip: None if str(ip) == "127.0.0.1" else real(ip),
    )
    try:
        with pytest.raises(InputError) as refused:
            fetch(web.url_for("/moved"), PUBLIC)
        assert str(refused.value) == (
            f"{web.url_for('/moved')}: 127.0.0.2 {REFUSAL} ([ingest] allow_private_networks)"
        )
        assert not target.reached()
    finally:
        target.socket.close()


def test_allowing_private_networks_reaches_loopback(web):
    web.expect_request("/page").respond_with_data("hello", content_type="text/plain")
    page = fetch(web.url_for("/page"), LOOPBACK)
    assert (page.body, page.charset) == (b"hello", None)


def _trickle(_request: Request) -> Response:
    def body():
        for _ in range(40):
            time.sleep(0.25)
            yield b"x"

    return Response(body(), content_type="text/html")


@pytest.mark.parametrize("server", ["web", "tls_web"])
def test_a_server_trickling_bytes_is_cut_off_at_the_time_limit(server, request):
    web = request.getfixturevalue(server)
    web.expect_request("/trickle").respond_with_handler(_trickle)
    web.expect_request("/page").respond_with_data("page", content_type="text/html; charset=utf-8")
    assert fetch(web.url_for("/page"), LOOPBACK).body == b"page"
    started = time.monotonic()
    with pytest.raises(InputError, match="no complete answer within 1 s"):
        fetch(web.url_for("/trickle"), LOOPBACK)
    assert time.monotonic() - started < 3  # the 40 bytes alone would take 10 s


def test_the_time_left_of_a_poll_shortens_a_fetch(web):
    web.expect_request("/trickle").respond_with_handler(_trickle)
    with pytest.raises(InputError, match=r"no complete answer within 0\.5 s"):
        fetch(web.url_for("/trickle"), LOOPBACK, time_left=0.5)


@pytest.fixture
def trickling_headers() -> Iterator[str]:
    """A raw server on loopback that sends its status line, then a header a byte every 0.1 s."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        with connection, contextlib.suppress(OSError):
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\n")
            for byte in b"X-Padding: " + b"a" * 100:  # 111 bytes: 11 s
                if done.wait(0.1):
                    return
                connection.sendall(bytes([byte]))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/article"
    done.set()
    thread.join()
    listener.close()


def test_a_server_trickling_its_headers_is_cut_off_at_the_time_limit(trickling_headers):
    started = time.monotonic()
    with pytest.raises(InputError, match="answer within 1 s"):
        fetch(trickling_headers, LOOPBACK)
    assert time.monotonic() - started < 3  # the headers alone would take 11 s


def test_a_body_over_the_size_limit_is_refused(web):
    web.expect_request("/big").respond_with_data("x" * 5000)
    small = IngestSettings(allow_private_networks=True, max_fetch_bytes=4000)
    with pytest.raises(InputError) as refused:
        fetch(web.url_for("/big"), small)
    assert str(refused.value) == f"{web.url_for('/big')}: larger than the limit of 4000 bytes"
