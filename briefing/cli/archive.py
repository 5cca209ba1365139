"""`briefing archive`: every edition ever made, and whether its file is intact."""

from __future__ import annotations

import click

from briefing.cli.app import App, echo, json_option, pass_app, print_json, print_table
from briefing.errors import Stopped


@click.group()
def archive() -> None:
    """List, show and verify archived editions."""


@archive.command("list")
@click.option("--brief", metavar="NAME", help="Only this brief.")
@json_option
@pass_app
def list_(app: App, brief: str | None, as_json: bool) -> None:
    """List editions, newest first."""
    from briefing.store.editions import list_editions

    with app.store.session() as session:
        editions = [edition.as_dict() for edition in list_editions(session, brief)]
    if as_json:
        print_json(editions)
        return
    print_table(
        ("id", "brief", "window (UTC)", "events", "pending", "pages", "created", "path"),
        (
            (
                item["edition_id"],
                item["brief"],
                f"{item['window_start'][:16]} → {item['window_end'][:16]}",
                item["events"],
                item["pending_review"] or "-",
                item["pages"] or "-",
                item["created_at"][:16],
                item["path"],
            )
            for item in editions
        ),
    )


@archive.command("show")
@click.argument("edition_id", type=int)
@json_option
@pass_app
def show(app: App, edition_id: int, as_json: bool) -> None:
    """Show one edition's record and where its file is."""
    from briefing.store.editions import get_edition

    with app.store.session() as session:
        edition = get_edition(session, edition_id)
        record = edition.as_dict()
    record["file"] = str((app.settings.output_dir / record["path"]).resolve())
    left_out = _left_out_pending(app, edition.pending_event_ids or [])
    if as_json:
        print_json({**record, "left_out_pending": left_out})
        return
    for key, value in record.items():
        echo(f"{key:>14}: {value}")
    _echo_left_out(left_out)


def _left_out_pending(app: App, ids: list[str]) -> list[dict]:
    """The events an edition left out as awaiting review, and where each stands now."""
    from briefing.store.events import reviewed_events_by_id

    with app.store.session() as session:
        found = {item.event.id: item for item in reviewed_events_by_id(session, ids)}
    return [
        {
            "id": event_id,
            "title": found[event_id].event.title if event_id in found else None,
            "review_now": found[event_id].review.state if event_id in found else "deleted",
        }
        for event_id in ids
    ]


def _echo_left_out(left_out: list[dict]) -> None:
    if left_out:
        echo("left out, awaiting review when the edition was made:")
    for item in left_out:
        echo(f"  {item['id']} ({item['review_now']} now): {item['title'] or ''}")


@archive.command("verify")
@click.option("--brief", metavar="NAME", help="Only this brief.")
@json_option
@pass_app
def verify(app: App, brief: str | None, as_json: bool) -> None:
    """Recompute every checksum, and look for files no edition records; exit 1 if any file
    is missing or altered, or is in the archive without a record."""
    from briefing.archive import unowned_files, verify_edition
    from briefing.store.editions import list_editions

    output = app.settings.output_dir
    with app.store.session() as session:
        editions = list_editions(session)
    chosen = [edition for edition in editions if brief in (None, edition.brief)]
    checks = [verify_edition(output, edition) for edition in chosen]
    problems = [check for check in checks if not check.ok]
    unowned = unowned_files(output, {edition.path for edition in editions}, brief)
    if as_json:
        print_json(
            {
                "checked": len(checks),
                "problems": [{"edition_id": c.edition.id, "problem": c.problem} for c in problems],
                "unowned": [
                    {"path": str(item.path.resolve()), "temporary": item.temporary}
                    for item in unowned
                ],
            }
        )
    else:
        for check in problems:
            echo(f"edition {check.edition.id}: {check.problem}", err=True)
        for item in unowned:
            echo(item.problem, err=True)
        app.say(
            f"{len(checks)} editions checked, {len(problems)} problems, "
            f"{len(unowned)} files no edition records"
        )
    if problems or unowned:
        raise Stopped(
            1, f"{len(problems)} editions failed the check, {len(unowned)} files unrecorded"
        )


@archive.command("search")
@click.argument("query")
@click.option("--brief", "briefs", metavar="NAME", multiple=True, help="Only events in this brief.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 200))
@json_option
@pass_app
def search(app: App, query: str, briefs: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Find events by words in their title, summary or place, with the editions they are in."""
    from briefing.store.search import plain, search_events

    chosen = [app.settings.brief(name)[0] for name in briefs] or None
    with app.store.session() as session:
        hits = search_events(session, query, briefs=chosen, limit=limit)
    if as_json:
        print_json([hit.as_dict() for hit in hits])
        return
    for hit in hits:
        editions = ", ".join(str(ref.id) for ref in hit.editions) or "none"
        echo(f"{hit.occurred_at:%Y-%m-%d} {hit.category:<10} {plain(hit.title)}")
        echo(f"    {_marked(hit.snippet)}  [editions: {editions}]")
    app.say(f"{len(hits)} events found")


def _marked(segments: list[tuple[str, bool]]) -> str:
    return "".join(f"[{piece}]" if matched else piece for piece, matched in segments)
