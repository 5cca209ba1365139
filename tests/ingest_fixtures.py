"""Helpers for the ingest tests: settings on a given database, feeds and articles on loopback."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from briefing.config import Settings
from briefing.store import Store

SEED_ARTICLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "seed-article.txt"
SEED_PUBLISHED = date(2024, 10, 26)


def seed_article() -> str:
    """The shared seed article (shared/ beside the work tree), or skip where it is not laid out."""
    if not SEED_ARTICLE.is_file():
        pytest.skip(f"{SEED_ARTICLE} is not available")
    return SEED_ARTICLE.read_text(encoding="utf-8")


def make_settings(tmp_path: Path, database_url: str | None = None, **extra: Any) -> Settings:
    return Settings.model_validate(
        {
            "database_url": database_url or f"sqlite:///{tmp_path / 'b.db'}",
            "output_dir": str(tmp_path / "output"),
            "timezone": "Europe/Kyiv",
            **extra,
        }
    )


@pytest.fixture(name="settings")
def database_settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings on each test database (SQLite, and PostgreSQL when configured)."""
    return make_settings(tmp_path, database_url)


@pytest.fixture(name="store")
def database_store(settings: Settings) -> Iterator[Store]:
    opened = Store(settings.db_url)
    yield opened
    opened.dispose()


@pytest.fixture
def web() -> Iterator[HTTPServer]:
    """A real HTTP server on loopback that answers requests concurrently."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def tls_web(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HTTPServer]:
    """A real HTTPS server on loopback with a certificate this process trusts (openssl made)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt"),
            *("ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # read when a client makes its context
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


def article_html(title: str, *paragraphs: str) -> str:
    """A news page with navigation and footer around the article, as sites serve them."""
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (
        "<!DOCTYPE html><html><head><title>" + escape(title) + "</title></head><body>"
        "<nav><a href='/'>Home</a> <a href='/world'>World</a> <a href='/sport'>Sport</a></nav>"
        f"<article><h1>{escape(title)}</h1>{body}</article>"
        "<footer><p>Subscribe to our newsletter for the latest headlines.</p>"
        "<p>© 2024 Example News. All rights reserved.</p></footer></body></html>"
    )


def rss(title: str, items: list[dict[str, str]]) -> str:
    """An RSS 2.0 document; each item has title, link, guid and optionally summary."""
    published = format_datetime(datetime(2024, 10, 26, 6, 0, tzinfo=UTC), usegmt=True)
    entries = "".join(
        "<item>"
        f"<title>{escape(item['title'])}</title>"
        f"<link>{escape(item['link'])}</link>"
        f"<guid>{escape(item.get('guid', item['link']))}</guid>"
        f"<pubDate>{published}</pubDate>"
        f"<description>{escape(item.get('summary', ''))}</description>"
        "</item>"
        for item in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>http://127.0.0.1/</link>"
        f"<description>Test wire</description>{entries}</channel></rss>"
    )
