"""`briefing archive`: every edition ever made, and whether its file is intact."""

from __future__ import annotations

import click

from briefing.commands import App, echo, json_option, pass_app, print_json, print_table


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
        ("id", "brief", "window (UTC)", "events", "pages", "created", "path"),
        (
            (
                item["edition_id"],
                item["brief"],
                f"{item['window_start'][:16]} → {item['window_end'][:16]}",
                item["events"],
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
        record = get_edition(session, edition_id).as_dict()
    record["file"] = str((app.settings.output_dir / record["path"]).resolve())
    if as_json:
        print_json(record)
        return
    for key, value in record.items():
        echo(f"{key:>13}: {value}")


@archive.command("verify")
@click.option("--brief", metavar="NAME", help="Only this brief.")
@json_option
@pass_app
def verify(app: App, brief: str | None, as_json: bool) -> None:
    """Recompute every checksum; exit 1 if any file is missing or altered."""
    from briefing.archive import verify_edition
    from briefing.store.editions import list_editions

    with app.store.session() as session:
        checks = [verify_edition(app.settings.output_dir, e) for e in list_editions(session, brief)]
    problems = [check for check in checks if not check.ok]
    if as_json:
        print_json(
            {
                "checked": len(checks),
                "problems": [{"edition_id": c.edition.id, "problem": c.problem} for c in problems],
            }
        )
    else:
        for check in problems:
            echo(f"edition {check.edition.id}: {check.problem}", err=True)
        app.say(f"{len(checks)} editions checked, {len(problems)} problems")
    if problems:
        raise SystemExit(1)
