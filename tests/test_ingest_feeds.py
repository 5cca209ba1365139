"""Feeds on a real loopback HTTP server: new entries only, broken and slow entries, limits."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

import pytest
from werkzeug import Request, Response

from briefing.config import IngestSettings
from briefing.errors import ConfigError
from briefing.ingest.feeds import ingest_feed, poll_feeds
from briefing.store import Store
from briefing.store.events import events_between, upsert_events
from tests.ingest_fixtures import (
    article_html,
    database_store,
    make_settings,
    rss,
    tls_web,
    web,
)

__all__ = ["database_store", "tls_web", "web"]  # fixtures, used by name

TIMEOUT = 0.5
LOOPBACK = {"allow_private_networks": True, "fetch_timeout": TIMEOUT}
LOOPBACK_TOML = f"[ingest]\nallow_private_networks = true\nfetch_timeout = {TIMEOUT}\n"


@pytest.fixture(name="settings")
def loopback_settings(tmp_path, database_url):
    """Settings on each test database that let feeds reach this test's loopback servers."""
    return make_settings(tmp_path, database_url, ingest=LOOPBACK)


ARTICLES = {
    "/news/drones": article_html(
        "Overnight attack",
        "Russia launched 40 drones at Odesa overnight, the air force said.",
        "Air defences destroyed 35 of them, it said.",
    ),
    "/news/aid": article_html(
        "New aid",
        "Germany pledged €500 million in military aid to Ukraine, the defence ministry said.",
    ),
    "/news/talks": article_html(
        "Talks",
        "Foreign ministers of Ukraine and Poland held talks in Warsaw, both ministries said.",
    ),
}


def _slow(_request: Request) -> Response:
    time.sleep(TIMEOUT * 3)
    return Response(ARTICLES["/news/talks"], content_type="text/html")


@pytest.fixture
def wire(web) -> Iterator:
    """A feed of five entries: three good articles, one server error, one that answers late."""
    for path, page in ARTICLES.items():
        web.expect_request(path).respond_with_data(page, content_type="text/html; charset=utf-8")
    web.expect_request("/news/broken").respond_with_data("oops", status=500)
    web.expect_request("/news/slow").respond_with_handler(_slow)
    links = [*ARTICLES, "/news/broken", "/news/slow"]
    items = [{"title": link.rsplit("/", 1)[1], "link": web.url_for(link)} for link in links]
    web.expect_request("/feed.xml").respond_with_data(
        rss("Test Wire", items), content_type="application/rss+xml"
    )
    yield web


def _events(store: Store):
    with store.session() as session:
        return events_between(session)


def test_feed_entries_are_ingested_once_and_failures_named(settings, store, wire):
    url = wire.url_for("/feed.xml")
    report = ingest_feed(settings, store, url)

    assert report.entries == 3 and report.seen == 0
    assert len(report.errors) == 2
    broken, slow = sorted(report.errors)
    assert broken == f"{wire.url_for('/news/broken')}: HTTP 500 INTERNAL SERVER ERROR"
    assert slow.startswith(wire.url_for("/news/slow")) and "0.5 s" in slow
    events = _events(store)
    assert sorted(e.category for e in events) == ["aid", "diplomatic", "military"]
    attack = next(e for e in events if e.category == "military")
    assert attack.figures == {"drones_launched": 40, "drones_destroyed": 35}
    assert attack.sources[0].name == "Test Wire"
    assert attack.sources[0].url == wire.url_for("/news/drones")
    assert attack.occurred_at == datetime(2024, 10, 26, 3, tzinfo=ZoneInfo("Europe/Kyiv"))

    again = ingest_feed(settings, store, url)
    assert (again.entries, again.seen, again.added, again.updated) == (0, 3, 0, 0)
    assert len(again.errors) == 2, "failed entries are tried again, not remembered"
    assert len(_events(store)) == 3


def test_a_failed_entry_is_ingested_once_it_answers(settings, store, wire):
    url = wire.url_for("/feed.xml")
    ingest_feed(settings, store, url)
    wire.clear()
    wire.expect_request("/feed.xml").respond_with_data(
        rss("Test Wire", [{"title": "fixed", "link": wire.url_for("/news/broken")}])
    )
    wire.expect_request("/news/broken").respond_with_data(
        article_html("Fixed", "Russian shelling killed two people in Kherson, the governor said."),
        content_type="text/html",
    )
    report = ingest_feed(settings, store, url)
    assert (report.entries, report.added, report.errors) == (1, 1, [])
    assert len(_events(store)) == 4


def test_not_a_feed_is_an_error_naming_it(settings, store, web):
    web.expect_request("/page").respond_with_data("<html><body>Hi</body></html>")
    url = web.url_for("/page")
    report = ingest_feed(settings, store, url)
    assert report.errors == [f"{url}: not an RSS or Atom feed"]
    assert _events(store) == []


def test_feed_file_and_missing_file(settings, store, web, tmp_path):
    web.expect_request("/news/aid").respond_with_data(ARTICLES["/news/aid"])
    feed = tmp_path / "wire.xml"
    feed.write_text(rss("File Wire", [{"title": "aid", "link": web.url_for("/news/aid")}]))
    report = ingest_feed(settings, store, str(feed), source="Desk")
    assert (report.entries, report.added) == (1, 1)
    assert _events(store)[0].sources[0].name == "Desk"

    missing = ingest_feed(settings, store, str(tmp_path / "nope.xml"))
    assert missing.errors == [f"{tmp_path / 'nope.xml'}: cannot read: No such file or directory"]


def test_only_web_addresses_are_fetched(settings, store, web, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("Russian forces struck a secret depot, the secret file said.")
    web.expect_request("/to-file").respond_with_data(
        "", status=302, headers={"Location": secret.as_uri()}
    )
    web.expect_request("/to-ftp").respond_with_data(
        "", status=302, headers={"Location": "ftp://127.0.0.1:9/secret.txt"}
    )
    items = [
        {
            "title": "local",
            "link": secret.as_uri(),
            "summary": "Ukraine's foreign minister met the Turkish ambassador, the ministry said.",
        },
        {"title": "to file", "link": web.url_for("/to-file")},
        {"title": "to ftp", "link": web.url_for("/to-ftp")},
    ]
    feed = tmp_path / "wire.xml"
    feed.write_text(rss("Wire", items))
    report = ingest_feed(settings, store, str(feed))

    assert report.entries == 1
    to_file, to_ftp = report.errors
    assert to_file.startswith(f"{web.url_for('/to-file')}: HTTP 302") and "not allowed" in to_file
    assert to_ftp == (
        f"{web.url_for('/to-ftp')}: redirected to a non-web address 'ftp://127.0.0.1:9/secret.txt'"
    )
    (event,) = _events(store)
    assert "secret" not in event.summary and event.category == "diplomatic"
    assert event.sources[0].url is None


def test_article_over_the_size_limit_is_refused(settings, store, web):
    web.expect_request("/big").respond_with_data(ARTICLES["/news/aid"] + " " * 5000)
    web.expect_request("/feed").respond_with_data(
        rss("Wire", [{"title": "big", "link": web.url_for("/big")}])
    )
    limited = settings.model_copy(
        update={"ingest": IngestSettings(**LOOPBACK, max_fetch_bytes=4000)}
    )
    report = ingest_feed(limited, store, web.url_for("/feed"))
    assert report.errors == [f"{web.url_for('/big')}: larger than the limit of 4000 bytes"]
    assert _events(store) == []


def test_configured_feeds_are_polled_on_their_interval(tmp_path, database_url, wire):
    feeds = {"wire": {"url": wire.url_for("/feed.xml"), "source": "The Wire", "interval": "1h"}}
    settings = make_settings(tmp_path, database_url, feeds=feeds, ingest=LOOPBACK)
    store = Store(settings.db_url)
    try:
        first = poll_feeds(settings, store)
        assert (first.feeds, first.entries) == (["wire"], 3)
        assert {e.sources[0].name for e in _events(store)} == {"The Wire"}
        assert poll_feeds(settings, store).skipped == ["wire"]
        forced = poll_feeds(settings, store, ["wire"], force=True)
        assert (forced.entries, forced.seen) == (0, 3)
        with pytest.raises(ConfigError, match="unknown feed 'nope'; configured feeds: wire"):
            poll_feeds(settings, store, ["nope"])
    finally:
        store.dispose()


def test_cli_feed_and_text(cli, tmp_path, wire):
    (tmp_path / "briefing.toml").write_text(
        f'timezone = "Europe/Kyiv"\n[feeds.wire]\nurl = "{wire.url_for("/feed.xml")}"\n'
        + LOOPBACK_TOML
    )
    first = cli("ingest", "feed", "--all", "--json")
    assert first.code == 1
    report = json.loads(first.out)
    assert (report["feeds"], report["entries"], report["added"]) == (["wire"], 3, 3)
    assert (
        "HTTP 500" in first.err and "error: 2 feeds or entries could not be ingested" in first.err
    )
    second = cli("ingest", "feed", "wire")
    assert "0 new entries, 3 seen before" in second.err

    article = tmp_path / "a.txt"
    article.write_text("Russian forces shelled Kherson on Tuesday, killing three people.")
    dry = cli(
        "ingest",
        "text",
        article,
        "--published",
        "2024-10-24",
        "--source",
        "X",
        "--dry-run",
        "--json",
    )
    assert dry.code == 0
    (event,) = json.loads(dry.out)
    assert event["occurred_at"].startswith("2024-10-22") and event["figures"] == {"killed": 3}
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    stored = cli(
        "ingest",
        "text",
        empty,
        article,
        "--published",
        "2024-10-24",
        "--url",
        "https://news.example/x",
    )
    assert stored.code == 1
    assert f"error: {empty}: empty input" in stored.err
    assert "1 added" in stored.err


def test_a_configured_feed_without_a_source_cites_the_feed_title(tmp_path, database_url, wire):
    feeds = {"wire": {"url": wire.url_for("/feed.xml")}}
    settings = make_settings(tmp_path, database_url, feeds=feeds, ingest=LOOPBACK)
    store = Store(settings.db_url)
    try:
        poll_feeds(settings, store)
        assert {e.sources[0].name for e in _events(store)} == {"Test Wire"}
    finally:
        store.dispose()


def test_an_article_reached_through_a_second_feed_keeps_the_review(settings, store, wire):
    ingest_feed(settings, store, wire.url_for("/feed.xml"))
    attack = next(e for e in _events(store) if e.category == "military")
    reviewed = attack.model_copy(
        update={"title": "Odesa: 40 drones", "importance": 5, "tags": ["top"], "summary": "Edited."}
    )
    with store.session() as session:
        upsert_events(session, [reviewed])
    wire.expect_request("/other.xml").respond_with_data(
        rss("Other Wire", [{"title": "drones", "link": wire.url_for("/news/drones")}]),
        content_type="application/rss+xml",
    )
    report = ingest_feed(settings, store, wire.url_for("/other.xml"))

    assert (report.entries, report.added, report.updated) == (1, 0, 1)
    kept = next(e for e in _events(store) if e.id == attack.id)
    assert kept.model_dump(exclude={"sources"}) == reviewed.model_dump(exclude={"sources"})
    assert [s.name for s in kept.sources] == ["Test Wire", "Other Wire"]
    assert len(_events(store)) == 3


def test_an_article_quoting_markup_is_read_once(settings, store, web):
    quoted = "<body> armour plates were among 500 items in a Danish aid shipment, officials said."
    web.expect_request("/news/armour").respond_with_data(
        f"<!DOCTYPE html><html><body><article><p>{escape(quoted)}</p></article>",
        content_type="text/html",
    )
    web.expect_request("/feed").respond_with_data(
        rss("Wire", [{"title": "armour", "link": web.url_for("/news/armour")}])
    )
    report = ingest_feed(settings, store, web.url_for("/feed"))
    assert (report.errors, report.added) == ([], 1)
    assert [e.summary for e in _events(store)] == [quoted]
