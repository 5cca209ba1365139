"""What ingesting may reach and cost, through the CLI as a user runs it: each limit refuses or
stops in one line, and what it refused leaves the store and the archive as they were."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

import pytest
from werkzeug import Request, Response

from tests.ingest_fixtures import article_html, web

__all__ = ["web"]  # fixture, used by name

PRIVATE = "is a loopback address; feeds may not reach private networks"
AID = "Germany pledged €500 million in military aid to Ukraine, the defence ministry said."


def feed_xml(items: list[dict[str, str]]) -> str:
    """An RSS 2.0 feed whose items carry their own publication times."""
    entries = "".join(
        f"<item><title>{escape(item['title'])}</title><guid>{escape(item['guid'])}</guid>"
        + (f"<link>{escape(item['link'])}</link>" if "link" in item else "")
        + f"<pubDate>{item['published']}</pubDate>"
        f"<description>{escape(item.get('summary', ''))}</description></item>"
        for item in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Wire</title><link>https://wire.example/</link><description>d</description>"
        f"{entries}</channel></rss>"
    )


def published(days: int) -> str:
    moment = datetime(2020, 1, 1, 6, tzinfo=UTC) + timedelta(days=days)
    return format_datetime(moment, usegmt=True)


def stored_events(cli) -> list[dict]:
    listed = cli("events", "list", "--since", "2000-01-01", "--json")
    assert listed.code == 0, listed.err
    return json.loads(listed.out)


def errors(result) -> list[str]:
    return [line for line in result.err.splitlines() if line.startswith("error:")]


def assert_nothing_kept(cli, tmp_path: Path) -> None:
    assert stored_events(cli) == []
    assert not (tmp_path / "output" / "briefs").exists()


def test_a_feed_entry_linking_to_loopback_is_refused_unfetched(cli, tmp_path, web):
    web.expect_request("/secret").respond_with_data(article_html("Secret", AID))
    secret = web.url_for("/secret")
    feed = tmp_path / "wire.xml"
    feed.write_text(
        feed_xml([{"title": "s", "guid": "s", "link": secret, "published": published(0)}])
    )

    result = cli("ingest", "feed", str(feed))

    assert result.code == 1
    assert errors(result) == [
        f"error: {secret}: 127.0.0.1 {PRIVATE} ([ingest] allow_private_networks)",
        "error: 1 feeds or entries could not be ingested",
    ]
    assert web.log == [], "the loopback server was never asked"
    assert_nothing_kept(cli, tmp_path)


def test_a_feed_on_a_private_address_is_refused_unfetched(cli, tmp_path, web):
    web.expect_request("/feed.xml").respond_with_data(feed_xml([]))
    url = web.url_for("/feed.xml")

    result = cli("ingest", "feed", url, "--json")

    assert result.code == 1
    assert f"error: {url}: 127.0.0.1 {PRIVATE} ([ingest] allow_private_networks)\n" in result.err
    assert json.loads(result.out)["entries"] == 0
    assert web.log == []
    assert_nothing_kept(cli, tmp_path)


def test_allow_private_networks_lets_a_feed_reach_loopback(cli, tmp_path, web):
    web.expect_request("/news/aid").respond_with_data(
        article_html("Aid", AID), content_type="text/html"
    )
    link = web.url_for("/news/aid")
    feed = tmp_path / "wire.xml"
    feed.write_text(feed_xml([{"title": "a", "guid": "a", "link": link, "published": "x"}]))
    (tmp_path / "briefing.toml").write_text("[ingest]\nallow_private_networks = true\n")

    result = cli("ingest", "feed", str(feed))

    assert result.code == 0, result.err
    assert [event["category"] for event in stored_events(cli)] == ["aid"]


def test_a_huge_feed_gives_only_its_newest_entries_per_poll(cli, tmp_path):
    count = 2000
    items = [
        {
            "title": f"aid {number}",
            "guid": f"entry-{number}",
            "published": published(number),
            "summary": f"Donor {number} pledged €{number + 1} million in aid to Ukraine, "
            "the ministry said.",
        }
        for number in range(count)
    ]
    feed = tmp_path / "wire.xml"
    feed.write_text(feed_xml(items))
    (tmp_path / "briefing.toml").write_text("[ingest]\nmax_entries_per_poll = 3\n")

    result = cli("ingest", "feed", str(feed))

    assert result.code == 0, result.err
    assert result.err.splitlines()[-1] == (
        f"{count - 3} older entries past the limit of 3 per feed were not taken "
        "([ingest] max_entries_per_poll)"
    )
    titles = sorted(event["summary"].split()[1] for event in stored_events(cli))
    assert titles == ["1997", "1998", "1999"], "the newest three"
    again = cli("ingest", "feed", str(feed), "--json")
    assert (json.loads(again.out)["entries"], json.loads(again.out)["seen"]) == (0, 3)


def _trickle(_request: Request) -> Response:
    def body():
        for _ in range(40):
            time.sleep(0.25)
            yield b" "

    return Response(body(), content_type="text/html")


def test_trickling_entries_stop_at_the_poll_time_limit(cli, tmp_path, web):
    links = []
    for number in range(4):
        web.expect_request(f"/slow/{number}").respond_with_handler(_trickle)
        links.append(web.url_for(f"/slow/{number}"))
    feed = tmp_path / "wire.xml"
    feed.write_text(
        feed_xml(
            [
                {"title": f"s{n}", "guid": f"s{n}", "link": link, "published": published(-n)}
                for n, link in enumerate(links)
            ]
        )
    )
    (tmp_path / "briefing.toml").write_text(
        '[ingest]\nallow_private_networks = true\nfetch_timeout = 1\npoll_time_limit = "1.5s"\n'
    )

    result = cli("ingest", "feed", str(feed))

    assert result.code == 1
    assert errors(result) == [
        f"error: {links[0]}: no complete answer within 1 s",
        f"error: {feed}: poll time limit of 1.5 s reached ([ingest] poll_time_limit); "
        "3 entries left for the next poll",
        "error: 2 feeds or entries could not be ingested",
    ]
    assert len(web.log) == 2, "the last two entries were not even asked for"
    assert_nothing_kept(cli, tmp_path)


@pytest.mark.parametrize("via", ["file", "stdin"])
def test_an_article_over_the_size_limit_is_refused_unread(cli, tmp_path, monkeypatch, via):
    article = tmp_path / "big.txt"
    article.write_text((AID + "\n\n") * (2 * 1024 * 1024 // len(AID.encode())))
    assert article.stat().st_size > 2 * 1024 * 1024
    name = str(article) if via == "file" else "-"
    if via == "stdin":
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(article.read_bytes())))

    result = cli("ingest", "text", name, "--published", "2024-10-26", "--source", "X")

    assert result.code == 1
    shown = str(article) if via == "file" else "stdin"
    assert errors(result) == [
        f"error: {shown}: larger than the limit of 2097152 bytes ([ingest] max_article_bytes)",
        "error: 1 of 1 articles could not be ingested",
    ]
    assert_nothing_kept(cli, tmp_path)


def test_the_article_size_limit_is_a_setting(cli, tmp_path):
    article = tmp_path / "small.txt"
    (tmp_path / "briefing.toml").write_text("[ingest]\nmax_article_bytes = 1024\n")
    article.write_text(AID * 20)

    result = cli("ingest", "text", article, "--published", "2024-10-26", "--source", "X")

    assert result.code == 1
    assert "larger than the limit of 1024 bytes ([ingest] max_article_bytes)" in result.err
    assert_nothing_kept(cli, tmp_path)
