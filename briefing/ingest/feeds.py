"""RSS and Atom feeds: find the entries not seen before and ingest each one's article.

Articles are fetched by `briefing.ingest.fetch` (http or https, public hosts, time and size
limits). A poll is bounded too: it takes the newest `[ingest] max_entries_per_poll` entries
and stops starting new ones when `poll_time_limit` is spent, leaving them for the next poll.
An entry is remembered (by its id, else its link) in the same transaction that stores its
events, so an entry is either fully ingested and remembered, or neither, and a second poll
adds nothing.
"""

from __future__ import annotations

import calendar
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from briefing.config import IngestSettings, Settings
from briefing.errors import ConfigError, InputError
from briefing.ingest.dedupe import store_events
from briefing.ingest.fetch import fetch, is_web_address
from briefing.ingest.text import article_text, extract_events
from briefing.store import Store
from briefing.store.db import now as utc_now
from briefing.store.feeds import last_polled, mark_entry_seen, record_poll, seen_entries

log = logging.getLogger(__name__)

POLL_SLACK = timedelta(seconds=30)

PollProgress = Callable[[int, int, str], None]


@dataclass
class FeedReport:
    """What a poll did: entries new and already seen, events stored, and one line per error.

    `beyond_limit` counts the older entries past `max_entries_per_poll`, which are not taken.
    """

    feeds: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    entries: int = 0
    seen: int = 0
    beyond_limit: int = 0
    added: int = 0
    updated: int = 0
    merged: int = 0
    errors: list[str] = field(default_factory=list)

    def include(self, other: FeedReport) -> None:
        for name, value in vars(other).items():
            setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict:
        return asdict(self)


class _PollClock:
    """The time one feed's poll may still take."""

    def __init__(self, limit: timedelta) -> None:
        self.seconds = limit.total_seconds()
        self._end = time.monotonic() + self.seconds

    def left(self) -> float:
        return self._end - time.monotonic()

    @property
    def expired(self) -> bool:
        return self.left() <= 0


def read_feed(address: str, limits: IngestSettings, *, time_left: float | None = None):
    """The parsed feed at an address or in a file; anything but RSS or Atom is an InputError."""
    import feedparser

    if is_web_address(address):
        data = fetch(address, limits, time_left=time_left).body
    elif "://" in address:
        raise InputError(f"{address}: not an http or https address")
    else:
        try:
            data = Path(address).read_bytes()
        except OSError as exc:
            raise InputError(f"{address}: cannot read: {exc.strerror or exc}") from None
    if not data.strip():
        raise InputError(f"{address}: empty input")
    parsed = feedparser.parse(data)  # bytes: feedparser would open a str that looks like a URL
    if not parsed.entries and not parsed.get("version"):
        reason = parsed.get("bozo_exception")
        detail = f" ({reason})" if reason else ""
        raise InputError(f"{address}: not an RSS or Atom feed{detail}")
    return parsed


def _entry_time(entry):
    """The entry's parsed publication (else update) time, or None; asking feedparser for an
    absent `updated_parsed` would warn about a fallback it is removing."""
    updated = entry.get("updated_parsed") if "updated_parsed" in entry else None
    return entry.get("published_parsed") or updated


def _published(entry) -> datetime:
    parsed = _entry_time(entry)
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC) if parsed else utc_now()


def _decoded(body: bytes, charset: str | None) -> str | bytes:
    """Text in the server's charset; bytes (left to detection) when it names none or lies."""
    try:
        return body.decode(charset) if charset else body
    except (LookupError, UnicodeDecodeError):
        return body


def _entry_article(entry, limits: IngestSettings, time_left: float) -> tuple[str, str | None]:
    """The entry's article text and its web address; the entry's own text when it has no link."""
    link = entry.get("link")
    if link and is_web_address(link):
        page = fetch(link, limits, time_left=time_left)
        return article_text(_decoded(page.body, page.charset), link), link
    contents = [part.get("value", "") for part in entry.get("content", [])]
    text = max([*contents, entry.get("summary", "")], key=len)
    return article_text(text, f"entry {entry.get('title') or entry.get('id')!r}"), None


def _newest_first(entries: list) -> list:
    """Entries by publication time, newest first; undated ones after, in the feed's order."""
    return sorted(
        entries,
        key=lambda entry: _entry_time(entry) or (),
        reverse=True,
    )


def ingest_feed(
    settings: Settings,
    store: Store,
    address: str,
    *,
    source: str | None = None,
    progress: PollProgress | None = None,
) -> FeedReport:
    """Ingest the newest entries of one feed (URL or file) not seen before, within the limits.

    Errors, and entries left when the poll's time is up, go into the report.
    """
    limits = settings.ingest
    clock = _PollClock(limits.poll_time_limit)
    feed = address if is_web_address(address) else str(Path(address).resolve())
    report = FeedReport(feeds=[address])
    try:
        parsed = read_feed(address, limits, time_left=clock.left())
    except InputError as exc:
        report.errors.append(str(exc))
        with store.session() as session:
            record_poll(session, feed, utc_now(), str(exc))
        return report
    source = source or parsed.feed.get("title") or urlsplit(address).hostname or Path(address).name
    newest = _newest_first(parsed.entries)
    report.beyond_limit = max(0, len(newest) - limits.max_entries_per_poll)
    entries: dict[str, Any] = {}
    for entry in newest[: limits.max_entries_per_poll]:
        key = entry.get("id") or entry.get("link")
        if key:
            entries.setdefault(key, entry)
        else:
            report.errors.append(f"{address}: entry {entry.get('title')!r} has no id or link")
    with store.session() as session:
        seen = seen_entries(session, feed, entries)
    report.seen = len(seen)
    new = [(key, entry) for key, entry in entries.items() if key not in seen]
    for done, (key, entry) in enumerate(new, start=1):
        if clock.expired or not _ingest_entry(
            settings, store, feed, key, entry, source, report, clock
        ):
            report.errors.append(
                f"{address}: poll time limit of {clock.seconds:g} s reached ([ingest] "
                f"poll_time_limit); {len(new) - done + 1} entries left for the next poll"
            )
            break
        if progress:
            progress(done, len(new), entry.get("title") or key)
    with store.session() as session:
        record_poll(session, feed, utc_now())
    return report


def _ingest_entry(
    settings: Settings,
    store: Store,
    feed: str,
    key: str,
    entry,
    source: str,
    report: FeedReport,
    clock: _PollClock,
) -> bool:
    """Ingest one entry into the report; False when the poll's time ran out during it."""
    try:
        text, url = _entry_article(entry, settings.ingest, clock.left())
        events = extract_events(
            text, published=_published(entry), source=source, url=url, settings=settings
        )
        with store.session() as session:
            counts = store_events(session, events, ZoneInfo(settings.timezone))
            mark_entry_seen(session, feed, key, link=entry.get("link"), event_ids=counts.ids)
    except InputError as exc:
        if clock.expired:
            return False
        report.errors.append(str(exc))
        return True
    except IntegrityError:
        log.info("entry %s of %s was ingested by a concurrent poll", key, feed)
        report.seen += 1
        return True
    report.entries += 1
    report.added += counts.added
    report.updated += counts.updated
    report.merged += counts.merged
    return True


def poll_feeds(
    settings: Settings,
    store: Store,
    names: list[str] | None = None,
    *,
    force: bool = False,
    progress: PollProgress | None = None,
) -> FeedReport:
    """Poll the configured `[feeds.NAME]` (all, or those named) whose interval has passed.

    With `force`, every selected feed is polled now. A feed polled up to 30 s short of its
    interval counts as due, so a scheduler firing a little early does not skip a round.
    """
    unknown = [name for name in names or [] if name not in settings.feeds]
    if unknown:
        known = ", ".join(settings.feeds) or "none"
        raise ConfigError(f"unknown feed {unknown[0]!r}; configured feeds: {known}")
    report = FeedReport()
    for name in names or list(settings.feeds):
        spec = settings.feeds[name]
        if not force and not _due(store, spec.url, spec.interval):
            report.skipped.append(name)
            continue
        result = ingest_feed(settings, store, spec.url, source=spec.source, progress=progress)
        result.feeds = [name]
        report.include(result)
    return report


def _due(store: Store, feed: str, interval: timedelta) -> bool:
    with store.session() as session:
        last = last_polled(session, feed)
    return last is None or utc_now() - last >= interval - POLL_SLACK
