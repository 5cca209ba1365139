"""`briefing events`: import, add and list stored events."""

from __future__ import annotations

from collections.abc import Iterator

import click

from briefing.commands import App, json_option, pass_app, print_json, print_table
from briefing.ingest.files import FORMATS, read_event_chunks


@click.group()
def events() -> None:
    """Import, add and list stored events."""


@events.command("import")
@click.argument("files", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="Override detection by suffix.")
@click.option("--dry-run", is_flag=True, help="Validate and count; store nothing.")
@json_option
@pass_app
def import_(
    app: App, files: tuple[str, ...], fmt: str | None, dry_run: bool, as_json: bool
) -> None:
    """Import FILES (JSON array, JSON Lines or CSV; '-' reads stdin), all or nothing."""
    from briefing.store.events import import_events

    chunks = _with_progress(app, read_event_chunks(list(files), app.settings, fmt))
    result = {"valid": 0, "added": 0, "updated": 0, "dry_run": dry_run}
    if dry_run:
        result["valid"] = sum(len(chunk) for chunk in chunks)
    else:
        with app.store.session() as session:
            counts = import_events(session, chunks)
        result.update(
            valid=counts.added + counts.updated, added=counts.added, updated=counts.updated
        )
    if as_json:
        print_json(result)
    elif dry_run:
        app.say(f"{result['valid']} valid events; nothing stored (--dry-run)")
    else:
        app.say(
            f"imported {result['valid']} events: {result['added']} added, "
            f"{result['updated']} updated"
        )


def _with_progress(app: App, chunks: Iterator[list]) -> Iterator[list]:
    """The chunks, counted on a terminal's status line (nothing when quiet or piped)."""
    from rich.console import Console

    console = Console(stderr=True)
    if app.quiet or not console.is_terminal:
        yield from chunks
        return
    done = 0
    with console.status("Reading events…") as status:
        for chunk in chunks:
            done += len(chunk)
            status.update(f"{done:,} events valid so far…")
            yield chunk


@events.command("add")
@click.option("--title", required=True)
@click.option("--category", required=True)
@click.option("--occurred-at", "occurred_at", required=True, help="Date or ISO 8601 time.")
@click.option("--summary", default="")
@click.option("--id", "event_id", help="Stable id (derived when absent).")
@click.option("--subtype")
@click.option("--country")
@click.option("--place")
@click.option("--actor", "actors", multiple=True)
@click.option("--figure", "figures", multiple=True, metavar="NAME=NUMBER")
@click.option("--source", "sources", multiple=True, metavar="NAME[|URL]")
@click.option("--importance", type=click.IntRange(1, 5), default=3, show_default=True)
@click.option("--tag", "tags", multiple=True)
@json_option
@pass_app
def add(app: App, as_json: bool, **fields) -> None:
    """Add (or update, by id) one event."""
    from briefing.ingest.manual import event_from_options
    from briefing.store.events import upsert_events

    event = event_from_options(app.settings, fields)
    with app.store.session() as session:
        counts = upsert_events(session, [event])
    if as_json:
        print_json(event.model_dump(mode="json"))
    else:
        app.say(f"{'added' if counts.added else 'updated'} {event.id}")


@events.command("list")
@click.option("--since", help="Date or ISO time (inclusive).")
@click.option("--until", help="Date (inclusive) or ISO time (exclusive).")
@click.option("--category", "categories", multiple=True)
@json_option
@pass_app
def list_(app: App, since: str | None, until: str | None, categories, as_json: bool) -> None:
    """List stored events, oldest first."""
    from zoneinfo import ZoneInfo

    from briefing.store.events import events_between
    from briefing.window import parse_span

    zone = ZoneInfo(app.settings.timezone)
    start, end = parse_span(since, until, zone)
    with app.store.session() as session:
        found = events_between(session, start, end, list(categories) or None)
    if as_json:
        print_json([event.model_dump(mode="json") for event in found])
        return
    print_table(
        (f"time ({zone.key})", "category", "imp.", "title", "id"),
        (
            (
                f"{event.occurred_at.astimezone(zone):%Y-%m-%d %H:%M}",
                event.category,
                event.importance,
                event.title,
                event.id,
            )
            for event in found
        ),
    )
    app.say(f"{len(found)} events")
