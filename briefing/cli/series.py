"""`briefing series`: import daily figure series and list the stored ones."""

from __future__ import annotations

import click

from briefing.cli.app import App, echo, json_option, pass_app, print_json


@click.group()
def series() -> None:
    """Import daily figure series (charted as 30-day trends by briefs that name them)."""


@series.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--source", required=True, help="Whose figures these are; shown under the chart.")
@click.option("--prefix", default="", help="Put before each field's name: PREFIX_FIELD.")
@click.option("--cumulative", is_flag=True, help="Values are running totals: store daily changes.")
@click.option("--exclude", multiple=True, metavar="FIELD", help="A numeric field to skip.")
@click.option("--dry-run", is_flag=True, help="Validate and count; store nothing.")
@json_option
@pass_app
def import_(
    app: App,
    files: tuple[str, ...],
    source: str,
    prefix: str,
    cumulative: bool,
    exclude: tuple[str, ...],
    dry_run: bool,
    as_json: bool,
) -> None:
    """Import FILES (JSON arrays of {"date": …, FIELD: number}), all or nothing."""
    from briefing.ingest.series import read_series_files
    from briefing.store.series import store_series_points

    points = read_series_files(
        files, source=source, prefix=prefix, cumulative=cumulative, exclude=exclude
    )
    names = sorted({point.series for point in points})
    result = {"series": names, "points": len(points), "added": 0, "updated": 0, "dry_run": dry_run}
    if not dry_run:
        with app.store.session() as session:
            counts = store_series_points(session, points)
        result.update(added=counts.added, updated=counts.updated)
    if as_json:
        print_json(result)
    else:
        done = (
            "nothing stored (--dry-run)"
            if dry_run
            else (f"{result['added']} added, {result['updated']} updated")
        )
        app.say(f"{len(points)} points in {len(names)} series: {done}")


@series.command("list")
@json_option
@pass_app
def list_(app: App, as_json: bool) -> None:
    """Every stored series: its name (for a brief's `series`), first and last day."""
    from briefing.store.series import list_series

    with app.store.session() as session:
        found = list_series(session)
    if as_json:
        print_json([vars(summary) for summary in found])
        return
    for summary in found:
        echo(f"{summary.series}\t{summary.first_day}\t{summary.last_day}\t{summary.days} days")
