"""`briefing deliveries`: the delivery ledger, per edition and subscriber."""

from __future__ import annotations

import click

from briefing.cli.app import App, echo, json_option, pass_app, print_json


@click.group()
def deliveries() -> None:
    """Inspect the delivery ledger."""


@deliveries.command("list")
@click.option("--edition", "edition_id", type=int, metavar="ID", help="Only this edition.")
@click.option(
    "--status",
    type=click.Choice(["pending", "sending", "sent", "failed", "bounced", "cancelled"]),
    help="Only this status.",
)
@click.option("--limit", type=click.IntRange(min=1), help="At most this many rows.")
@json_option
@pass_app
def list_(
    app: App, edition_id: int | None, status: str | None, limit: int | None, as_json: bool
) -> None:
    """List deliveries: status, attempts, last error and the server's answer."""
    from briefing.store.deliveries import list_deliveries

    with app.store.session() as session:
        rows = [
            d.as_dict()
            for d in list_deliveries(session, edition_id=edition_id, status=status, limit=limit)
        ]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        detail = row["last_error"] or row["smtp_response"] or ""
        echo(f"{row['edition_id']}\t{row['address']}\t{row['status']}\t{row['attempts']}\t{detail}")
    app.say(f"{len(rows)} deliveries")
