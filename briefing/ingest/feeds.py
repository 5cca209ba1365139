"""RSS and Atom feeds: find the entries not seen before and ingest each one's article.

Articles are fetched over http or https only, with a time limit and a size limit. An entry is
remembered (by its id, else its link) in the same transaction that stores its events, so an
entry is either fully ingested and remembered, or neither, and a second poll adds nothing.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import logging
import math
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from briefing import __version__
from briefing.config import Settings
from briefing.errors import ConfigError, InputError
from briefing.ingest.dedupe import store_events
from briefing.ingest.text import article_text, extract_events
from briefing.store import Store
from briefing.store.db import now as utc_now
from briefing.store.feeds import last_polled, mark_entry_seen, record_poll, seen_entries

log = logging.getLogger(__name__)

TIMEOUT = 20.0
MAX_BYTES = 5 * 1024 * 1024
CHUNK = 64 * 1024
POLL_SLACK = timedelta(seconds=30)
USER_AGENT = f"briefing/{__version__} (feed reader)"

Progress = Callable[[int, int, str], None]


@dataclass
class FeedReport:
    """What a poll did: entries new and already seen, events stored, and one line per error."""

    feeds: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    entries: int = 0
    seen: int = 0
    added: int = 0
    updated: int = 0
    merged: int = 0
    errors: list[str] = field(default_factory=list)

    def include(self, other: FeedReport) -> None:
        for name, value in vars(other).items():
            setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict:
        return asdict(self)


class _WebOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http and https only, never to file: or ftp:."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise InputError(f"{req.full_url}: redirected to a non-web address {newurl!r}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


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


class _Watched:
    """An http.client connection whose socket is handed to the fetch's deadline once open."""

    def __init__(self, *args, deadline: _Deadline, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline

    def connect(self) -> None:
        super().connect()
        self.deadline.watch(self.sock)


class _WatchedHTTP(_Watched, http.client.HTTPConnection):
    pass


class _WatchedHTTPS(_Watched, http.client.HTTPSConnection):
    pass


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def http_open(self, req):
        return self.do_open(functools.partial(_WatchedHTTP, deadline=self.deadline), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def https_open(self, req):
        return self.do_open(functools.partial(_WatchedHTTPS, deadline=self.deadline), req)


def fetch(
    url: str, *, timeout: float = TIMEOUT, max_bytes: int = MAX_BYTES
) -> tuple[bytes, str | None]:
    """The body at an http(s) address and the charset the server names, if any.

    `timeout` bounds the whole fetch, from connecting to the last byte, redirects included.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"{url}: not an http or https address")
    deadline = _Deadline(timeout)
    opener = urllib.request.build_opener(
        _WebOnlyRedirects, _HTTPHandler(deadline), _HTTPSHandler(deadline)
    )
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with deadline, opener.open(request, timeout=timeout) as response:
            body = _read_limited(response, url, deadline, max_bytes)
            charset = response.headers.get_content_charset()
    except HTTPError as exc:
        raise InputError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (OSError, http.client.HTTPException) as exc:
        reason = exc.reason if isinstance(exc, URLError) else exc
        if deadline.expired or isinstance(reason, TimeoutError):
            raise InputError(f"{url}: no answer within {timeout:g} s") from None
        raise InputError(f"{url}: {reason}") from None
    return body, charset


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


def _is_web(address: str) -> bool:
    return urlsplit(address).scheme in ("http", "https")


def read_feed(address: str, *, timeout: float = TIMEOUT, max_bytes: int = MAX_BYTES):
    """The parsed feed at an address or in a file; anything but RSS or Atom is an InputError."""
    import feedparser

    if _is_web(address):
        data, _ = fetch(address, timeout=timeout, max_bytes=max_bytes)
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


def _published(entry) -> datetime:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return datetime(*parsed[:6], tzinfo=UTC) if parsed else utc_now()


def _decoded(body: bytes, charset: str | None) -> str | bytes:
    """Text in the server's charset; bytes (left to detection) when it names none or lies."""
    try:
        return body.decode(charset) if charset else body
    except (LookupError, UnicodeDecodeError):
        return body


def _entry_article(entry, *, timeout: float, max_bytes: int) -> tuple[str, str | None]:
    """The entry's article text and its web address; the entry's own text when it has no link."""
    link = entry.get("link")
    if link and _is_web(link):
        body, charset = fetch(link, timeout=timeout, max_bytes=max_bytes)
        return article_text(_decoded(body, charset), link), link
    contents = [part.get("value", "") for part in entry.get("content", [])]
    text = max([*contents, entry.get("summary", "")], key=len)
    return article_text(text, f"entry {entry.get('title') or entry.get('id')!r}"), None


def ingest_feed(
    settings: Settings,
    store: Store,
    address: str,
    *,
    source: str | None = None,
    timeout: float = TIMEOUT,
    max_bytes: int = MAX_BYTES,
    progress: Progress | None = None,
) -> FeedReport:
    """Ingest every entry of one feed (URL or file) not seen before; errors go into the report."""
    feed = address if _is_web(address) else str(Path(address).resolve())
    report = FeedReport(feeds=[address])
    try:
        parsed = read_feed(address, timeout=timeout, max_bytes=max_bytes)
    except InputError as exc:
        report.errors.append(str(exc))
        with store.session() as session:
            record_poll(session, feed, utc_now(), str(exc))
        return report
    source = source or parsed.feed.get("title") or urlsplit(address).hostname or Path(address).name
    entries = {}
    for entry in parsed.entries:
        key = entry.get("id") or entry.get("link")
        if key:
            entries[key] = entry
        else:
            report.errors.append(f"{address}: entry {entry.get('title')!r} has no id or link")
    with store.session() as session:
        seen = seen_entries(session, feed, entries)
    report.seen = len(seen)
    new = [(key, entry) for key, entry in entries.items() if key not in seen]
    for done, (key, entry) in enumerate(new, start=1):
        _ingest_entry(settings, store, feed, key, entry, source, report, timeout, max_bytes)
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
    timeout: float,
    max_bytes: int,
) -> None:
    try:
        text, url = _entry_article(entry, timeout=timeout, max_bytes=max_bytes)
        events = extract_events(
            text, published=_published(entry), source=source, url=url, settings=settings
        )
        with store.session() as session:
            counts = store_events(session, events, ZoneInfo(settings.timezone))
            mark_entry_seen(session, feed, key, link=entry.get("link"), event_ids=counts.ids)
    except InputError as exc:
        report.errors.append(str(exc))
        return
    except IntegrityError:
        log.info("entry %s of %s was ingested by a concurrent poll", key, feed)
        report.seen += 1
        return
    report.entries += 1
    report.added += counts.added
    report.updated += counts.updated
    report.merged += counts.merged


def poll_feeds(
    settings: Settings,
    store: Store,
    names: list[str] | None = None,
    *,
    force: bool = False,
    timeout: float = TIMEOUT,
    max_bytes: int = MAX_BYTES,
    progress: Progress | None = None,
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
        result = ingest_feed(
            settings,
            store,
            spec.url,
            source=spec.source,
            timeout=timeout,
            max_bytes=max_bytes,
            progress=progress,
        )
        result.feeds = [name]
        report.include(result)
    return report


def _due(store: Store, feed: str, interval: timedelta) -> bool:
    with store.session() as session:
        last = last_polled(session, feed)
    return last is None or utc_now() - last >= interval - POLL_SLACK
