"""`briefing subscribers`: who receives which brief."""

from __future__ import annotations

from pathlib import Path

import click

from briefing.cli.app import App, echo, json_option, pass_app, print_json
from briefing.errors import InputError


@click.group()
def subscribers() -> None:
    """Add, list, import, unsubscribe and remove subscribers."""


def _address(text: str) -> str:
    from briefing.deliver.roster import normalise_address

    try:
        return normalise_address(text)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _briefs(app: App, names: tuple[str, ...]) -> list[str]:
    """The named briefs, checked against the settings; the default brief when none is named."""
    if not names:
        return [app.settings.brief()[0]]
    return [app.settings.brief(name)[0] for name in names]


@subscribers.command("add")
@click.argument("email")
@click.option("--name", help="Display name used in the To header.")
@click.option(
    "--brief",
    "briefs",
    multiple=True,
    metavar="NAME",
    help="A brief to receive (repeatable; default: the default brief).",
)
@json_option
@pass_app
def add(app: App, email: str, name: str | None, briefs: tuple[str, ...], as_json: bool) -> None:
    """Subscribe EMAIL; an existing subscriber gets the briefs added and is active again."""
    from briefing.deliver.roster import clean_name
    from briefing.store.subscribers import get_subscriber, save_subscriber

    address, chosen = _address(email), _briefs(app, briefs)
    try:
        shown_name = clean_name(name)
    except ValueError as exc:
        raise InputError(f"--name: {exc}") from None
    with app.store.session() as session:
        result = save_subscriber(session, address, name=shown_name, briefs=chosen, reactivate=True)
        subscriber = get_subscriber(session, email=address).as_dict()
    if as_json:
        print_json({"result": result, **subscriber})
    else:
        app.say(f"{result}: {address} ({', '.join(subscriber['briefs'])})")


@subscribers.command("list")
@click.option("--brief", metavar="NAME", help="Only subscribers of this brief.")
@click.option(
    "--status", type=click.Choice(["active", "unsubscribed", "bounced"]), help="Only this status."
)
@json_option
@pass_app
def list_(app: App, brief: str | None, status: str | None, as_json: bool) -> None:
    """List subscribers, their briefs and status."""
    from briefing.store.subscribers import list_subscribers

    with app.store.session() as session:
        rows = [s.as_dict() for s in list_subscribers(session, brief=brief, status=status)]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        name = f" ({row['name']})" if row["name"] else ""
        echo(f"{row['email']}{name}\t{row['status']}\t{', '.join(row['briefs'])}")
    app.say(f"{len(rows)} subscribers")


@subscribers.command("remove")
@click.argument("email")
@pass_app
def remove(app: App, email: str) -> None:
    """Delete EMAIL with its delivery history (use `unsubscribe` to keep the history)."""
    from briefing.store.subscribers import remove_subscriber

    address = _address(email)
    with app.store.session() as session:
        remove_subscriber(session, address)
    app.say(f"removed {address}")


@subscribers.command("unsubscribe")
@click.argument("email", required=False)
@click.option("--token", help="The unsubscribe token from a List-Unsubscribe request.")
@click.option("--brief", metavar="NAME", help="Stop only this brief.")
@pass_app
def unsubscribe(app: App, email: str | None, token: str | None, brief: str | None) -> None:
    """Stop sending to EMAIL (or the subscriber with --token); their history is kept."""
    from briefing.store.subscribers import unsubscribe as stop

    if bool(email) == bool(token):
        raise click.UsageError("give either EMAIL or --token")
    address = _address(email) if email else None
    with app.store.session() as session:
        subscriber = stop(session, email=address, token=token, brief=brief)
        shown = subscriber.email
    app.say(f"unsubscribed {shown}" + (f" from {brief}" if brief else ""))


@subscribers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@pass_app
def import_(app: App, file: Path, as_json: bool) -> None:
    """Import FILE.csv (columns email, name, optional briefs 'a;b'), all or nothing.

    Existing subscribers get new briefs and names; unsubscribed or bounced ones stay so.
    """
    from briefing.deliver.roster import read_subscribers_csv
    from briefing.store.subscribers import save_subscriber

    records = read_subscribers_csv(
        file,
        check_brief=lambda name: app.settings.brief(name)[0],
        default_brief=app.settings.brief()[0],
    )
    counts = {"added": 0, "updated": 0, "unchanged": 0}
    with app.store.session() as session:
        for record in records:
            result = save_subscriber(
                session, record.email, name=record.name, briefs=record.briefs, reactivate=False
            )
            counts[result] += 1
    if as_json:
        print_json({"rows": len(records), **counts})
    else:
        app.say(
            f"imported {len(records)} subscribers: {counts['added']} added, "
            f"{counts['updated']} updated, {counts['unchanged']} unchanged"
        )
