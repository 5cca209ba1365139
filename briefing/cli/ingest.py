"""`briefing ingest`: news articles and RSS/Atom feeds become events."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, date, datetime, time
from urllib.parse import urlsplit

import click

from briefing.cli.app import App, echo, json_option, pass_app, print_json, printable
from briefing.errors import InputError


@click.group()
def ingest() -> None:
    """Turn news articles and RSS/Atom feeds into sourced events."""


def _published(value: str) -> date | datetime:
    from briefing.event import within_supported_range

    try:
        when = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"--published: {value!r} is not a date or an ISO 8601 time") from None
    moment = when if isinstance(when, datetime) else datetime.combine(when, time())
    try:
        within_supported_range(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    except ValueError as exc:
        raise InputError(f"--published: {exc}") from None
    return when


def _source(name: str | None, url: str | None) -> tuple[str, str | None]:
    """The article's source name and address, checked as an event's source is."""
    from briefing.event import refuse_control_characters, web_address

    try:
        url = web_address(refuse_control_characters(url)) if url else None
    except ValueError as exc:
        raise InputError(f"--url: {exc}") from None
    name = name or (urlsplit(url).hostname if url else None)
    if not name:
        raise click.UsageError("give --source (or --url, whose host names the source)")
    try:
        return refuse_control_characters(name), url
    except ValueError as exc:
        raise InputError(f"--source: {exc}") from None


@ingest.command("text")
@click.argument("files", nargs=-1, required=True)
@click.option(
    "--published",
    required=True,
    help="Publication date or ISO 8601 time; 'overnight' or 'on Tuesday' are read against it.",
)
@click.option("--source", help="Source name shown in the brief (default: the host of --url).")
@click.option("--url", help="The article's web address, kept as its source link.")
@click.option("--dry-run", is_flag=True, help="Show the events for review; store nothing.")
@json_option
@pass_app
def text(
    app: App,
    files: tuple[str, ...],
    published: str,
    source: str | None,
    url: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Ingest articles in FILES (plain text or HTML; '-' reads stdin), one event per development.

    With --dry-run --json the events are printed as a JSON array that `briefing events import`
    accepts after review.
    """
    from briefing.ingest.text import IngestReport, extract_events, ingest_text, read_article

    when = _published(published)
    source, url = _source(source, url)
    reports: list[IngestReport] = []
    failed = 0
    for path in files:
        try:
            article = read_article(path, app.settings.ingest.max_article_bytes)
            if dry_run:
                found = extract_events(
                    article, published=when, source=source, url=url, settings=app.settings
                )
                reports.append(IngestReport(path, found))
            else:
                reports.append(
                    ingest_text(
                        app.settings,
                        app.store,
                        article,
                        published=when,
                        source=source,
                        url=url,
                        name=path,
                    )
                )
        except InputError as exc:
            echo(f"error: {exc}", err=True)
            failed += 1
    _show_articles(app, reports, dry_run, as_json)
    if failed:
        raise InputError(f"{failed} of {len(files)} articles could not be ingested")


def _show_articles(app: App, reports, dry_run: bool, as_json: bool) -> None:
    events = [event for report in reports for event in report.events]
    if as_json and dry_run:
        print_json([event.model_dump(mode="json") for event in events])
        return
    if as_json:
        print_json(
            [
                {
                    "name": r.name,
                    "added": r.added,
                    "updated": r.updated,
                    "merged": r.merged,
                    "events": [e.model_dump(mode="json") for e in r.events],
                }
                for r in reports
            ]
        )
        return
    if dry_run:
        for event in events:
            figures = ", ".join(f"{k}={v:,.10g}" for k, v in event.figures.items())
            line = f"{event.occurred_at:%Y-%m-%d %H:%M}  {event.category:<12} {event.title}"
            echo(f"{line}  [{figures}]" if figures else line)
        app.say(f"{len(events)} events found; nothing stored (--dry-run)")
        return
    for r in reports:
        app.say(
            f"{r.name}: {len(r.events)} developments: {r.added} added, {r.updated} updated, "
            f"{r.merged} merged into events from other sources"
        )


class _EntryProgress:
    """A rich progress bar on stderr, one task per feed."""

    def __init__(self, progress) -> None:
        self.progress = progress
        self.task = None

    def __call__(self, done: int, total: int, label: str) -> None:
        if self.task is None or done == 1:
            self.task = self.progress.add_task("", total=total)
        from rich.markup import escape

        shown = escape(printable(label[:60]))
        self.progress.update(self.task, completed=done, description=shown)


@ingest.command("feed")
@click.argument("targets", nargs=-1)
@click.option("--all", "poll_all", is_flag=True, help="Poll every configured [feeds.NAME].")
@click.option("--due", is_flag=True, help="Only configured feeds whose interval has passed.")
@click.option("--source", help="Source name for a URL or FILE (default: the feed's title).")
@json_option
@pass_app
def feed(
    app: App,
    targets: tuple[str, ...],
    poll_all: bool,
    due: bool,
    source: str | None,
    as_json: bool,
) -> None:
    """Ingest the new entries of feeds: TARGETS are configured feed names, URLs or files.

    Each entry's article is fetched (http/https, public hosts only) and ingested; entries seen
    before are skipped, so a second run adds nothing. Time, size and entry limits are the
    [ingest] settings.
    """
    from rich.console import Console
    from rich.progress import Progress

    from briefing.ingest.feeds import FeedReport, ingest_feed, poll_feeds

    if not targets and not (poll_all or due):
        raise click.UsageError("name feeds, URLs or files, or give --all")
    names = [t for t in targets if t in app.settings.feeds]
    addresses = [t for t in targets if t not in app.settings.feeds]
    shown = not app.quiet
    bar = Progress(console=Console(stderr=True), transient=True) if shown else nullcontext()
    report = FeedReport()
    with bar:
        progress = _EntryProgress(bar) if shown else None
        if names or poll_all or due:
            chosen = None if poll_all else names or None
            report.include(
                poll_feeds(
                    app.settings,
                    app.store,
                    chosen,
                    force=not due,
                    progress=progress,
                )
            )
        for address in addresses:
            report.include(
                ingest_feed(
                    app.settings,
                    app.store,
                    address,
                    source=source,
                    progress=progress,
                )
            )
    for error in report.errors:
        echo(f"error: {error}", err=True)
    if as_json:
        print_json(report.as_dict())
    else:
        app.say(
            f"{len(report.feeds)} feeds polled ({len(report.skipped)} not due): "
            f"{report.entries} new entries, {report.seen} seen before; events: "
            f"{report.added} added, {report.updated} updated, {report.merged} merged"
        )
        if report.beyond_limit:
            app.say(
                f"{report.beyond_limit} older entries past the limit of "
                f"{app.settings.ingest.max_entries_per_poll} per feed were not taken "
                "([ingest] max_entries_per_poll)"
            )
    if report.errors:
        raise InputError(f"{len(report.errors)} feeds or entries could not be ingested")
