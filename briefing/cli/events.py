"""`briefing events`: import, add and list stored events."""

from __future__ import annotations

from collections.abc import Iterator

import click

from briefing.cli.app import App, echo, json_option, pass_app, print_json, print_table
from briefing.ingest.files import FORMATS, read_event_chunks

REVIEW_STATES = ("pending", "approved", "rejected")


@click.group()
def events() -> None:
    """Import, add, list and review stored events."""


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
    from briefing.review import reviewer_name
    from briefing.store.events import APPROVED, Review, import_events

    chunks = _with_progress(app, read_event_chunks(list(files), app.settings, fmt))
    result = {"valid": 0, "added": 0, "updated": 0, "dry_run": dry_run}
    if dry_run:
        result["valid"] = sum(len(chunk) for chunk in chunks)
    else:
        with app.store.session() as session:
            # Events the desk imports itself are approved by their author as they are stored.
            approved = Review(APPROVED, by=reviewer_name(), reason="imported from a file")
            counts = import_events(session, chunks, review=approved)
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
        _approve_as_author(session, [event.id], "added on the command line")
    if as_json:
        print_json(event.model_dump(mode="json"))
    else:
        app.say(f"{'added' if counts.added else 'updated'} {event.id}")


@events.command("list")
@click.option("--since", help="Date or ISO time (inclusive).")
@click.option("--until", help="Date (inclusive) or ISO time (exclusive).")
@click.option("--category", "categories", multiple=True)
@click.option("--review", "states", multiple=True, type=click.Choice(REVIEW_STATES))
@json_option
@pass_app
def list_(
    app: App, since: str | None, until: str | None, categories, states, as_json: bool
) -> None:
    """List stored events and their review state, oldest first."""
    from zoneinfo import ZoneInfo

    from briefing.brief.window import parse_span

    zone = ZoneInfo(app.settings.timezone)
    start, end = parse_span(since, until, zone)
    reviewed = _reviewed_events(app, start, end, categories, states)
    if as_json:
        print_json(_with_reviews(app, reviewed))
        return
    print_table(
        (f"time ({zone.key})", "category", "imp.", "review", "title", "id"),
        (
            (
                f"{item.event.occurred_at.astimezone(zone):%Y-%m-%d %H:%M}",
                item.event.category,
                item.event.importance,
                item.review.state,
                item.event.title,
                item.event.id,
            )
            for item in reviewed
        ),
    )
    app.say(f"{len(reviewed)} events")


# --- the review gate -------------------------------------------------------------------------


def _approve_as_author(session, ids: list[str], how: str) -> None:
    from briefing.review import approve_as_author

    approve_as_author(session, ids, how)


def _reviewed_events(app: App, start, end, categories, states) -> list:
    from briefing.store.events import reviewed_events_between

    with app.store.session() as session:
        return reviewed_events_between(
            session, start, end, list(categories) or None, list(states) or None
        )


def _with_reviews(app: App, reviewed: list) -> list[dict]:
    from briefing.review import as_record

    return [as_record(item, app.settings) for item in reviewed]


def _reviewer_options(function):
    function = click.option(
        "--reviewer", metavar="NAME", help="Who decides (default: your login name)."
    )(function)
    return click.option("--reason", help="Why, kept with the decision.")(function)


@events.group(invoke_without_command=True)
@click.option("--since", help="Date or ISO time (inclusive).")
@click.option("--until", help="Date (inclusive) or ISO time (exclusive).")
@json_option
@pass_app
def review(app: App, since: str | None, until: str | None, as_json: bool) -> None:
    """List ingested events waiting for review, oldest first; or approve, edit, reject them.

    Briefs with `review = "required"` publish only approved events; with `review = "auto"`
    (the default) also those whose confidence reaches `auto_approve_above`.
    """
    if click.get_current_context().invoked_subcommand is not None:
        return
    from zoneinfo import ZoneInfo

    from briefing.brief.window import parse_span
    from briefing.review import auto_briefs, pending_events

    zone = ZoneInfo(app.settings.timezone)
    start, end = parse_span(since, until, zone)
    waiting = pending_events(app.store, start, end)
    if as_json:
        print_json(_with_reviews(app, waiting))
        return
    for item in waiting:
        _echo_pending(item, zone, auto_briefs(item, app.settings))
    app.say(f"{len(waiting)} events waiting for review")


def _echo_pending(item, zone, auto_approved_in: list[str]) -> None:
    """One pending event as plain text (never markup): what a reviewer checks, and its id."""
    event = item.event
    confidence = "-" if item.confidence is None else f"{item.confidence:.2f}"
    echo(
        f"{event.occurred_at.astimezone(zone):%Y-%m-%d %H:%M}  {event.category}  "
        f"confidence {confidence}  {event.id}"
    )
    echo(f"  {event.title}")
    if event.location.place:
        echo(f"  place: {event.location.place}")
    if event.figures:
        echo("  figures: " + ", ".join(f"{k}={v:,.10g}" for k, v in event.figures.items()))
    for source in event.sources:
        echo(f"  source: {source.name}" + (f" {source.url}" if source.url else ""))
    for reason in item.reasons:
        echo(f"  why: {reason}")
    if auto_approved_in:
        echo(f"  let through by the auto rule of: {', '.join(auto_approved_in)}")
    echo("")


def _report(app: App, done: str, changed: list, as_json: bool) -> None:
    if as_json:
        print_json(_with_reviews(app, changed))
    else:
        count = f"{len(changed)} event{'' if len(changed) == 1 else 's'}"
        app.say(f"{done} {count}: {', '.join(item.event.id for item in changed)}")


@review.command("approve")
@click.argument("ids", nargs=-1, required=True)
@_reviewer_options
@json_option
@pass_app
def approve(app: App, ids, reviewer: str | None, reason: str | None, as_json: bool) -> None:
    """Let events IDS into briefs."""
    _decide(app, ids, "approved", reviewer, reason, as_json)


@review.command("reject")
@click.argument("ids", nargs=-1, required=True)
@_reviewer_options
@json_option
@pass_app
def reject(app: App, ids, reviewer: str | None, reason: str | None, as_json: bool) -> None:
    """Keep events IDS out of every brief, also when their article is ingested again."""
    _decide(app, ids, "rejected", reviewer, reason, as_json)


def _decide(
    app: App, ids, state: str, reviewer: str | None, reason: str | None, as_json: bool
) -> None:
    from briefing.review import decide, reviewer_name

    changed = decide(app.store, list(ids), state, by=reviewer_name(reviewer), reason=reason)
    _report(app, state, changed, as_json)


@review.command("edit")
@click.argument("ids", nargs=-1, required=True)
@click.option("--title", help="The corrected title (one event at a time).")
@click.option("--summary", help="The corrected summary (one event at a time).")
@click.option("--category", help="One of the configured categories.")
@click.option("--importance", type=click.IntRange(1, 5), help="1 (least) to 5 (most).")
@click.option("--place", help="The place ('' clears it).")
@click.option(
    "--figure",
    "figures",
    multiple=True,
    metavar="NAME=NUMBER",
    help="Set a figure; NAME= removes it. Repeat for several.",
)
@click.option("--approve", "and_approve", is_flag=True, help="Approve the events too.")
@_reviewer_options
@json_option
@pass_app
def edit(
    app: App,
    ids,
    figures: tuple[str, ...],
    and_approve: bool,
    reviewer: str | None,
    reason: str | None,
    as_json: bool,
    **fields,
) -> None:
    """Correct events IDS; re-ingesting their article later keeps the correction."""
    from briefing.review import Correction, correct, reviewer_name

    correction = Correction(**fields, figures=_figure_changes(figures))
    if len(set(ids)) > 1 and (correction.title, correction.summary) != (None, None):
        raise click.UsageError("--title and --summary correct one event: give a single ID")
    if correction.is_empty() and not and_approve:
        raise click.UsageError(
            "give at least one of --title, --summary, --category, "
            "--importance, --place, --figure or --approve"
        )
    changed = correct(
        app.store,
        app.settings,
        list(ids),
        correction,
        by=reviewer_name(reviewer),
        reason=reason,
        approve=and_approve,
    )
    _report(app, "edited and approved" if and_approve else "edited", changed, as_json)


def _figure_changes(items: tuple[str, ...]) -> dict[str, float | None]:
    """`--figure` values: NAME=NUMBER sets a figure, NAME= removes it."""
    changes: dict[str, float | None] = {}
    for item in items:
        name, equals, number = (part.strip() for part in item.partition("="))
        if not name or not equals:
            raise click.BadParameter(
                f"{item!r} is not NAME=NUMBER (or NAME= to remove)", param_hint="--figure"
            )
        try:
            changes[name] = float(number) if number else None
        except ValueError:
            raise click.BadParameter(
                f"{item!r}: {number!r} is not a number", param_hint="--figure"
            ) from None
    return changes
