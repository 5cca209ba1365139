"""`briefing send`: mail an edition to its subscribers."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from briefing.cli.app import App, json_option, pass_app, print_json
from briefing.errors import Stopped

if TYPE_CHECKING:
    from briefing.pipeline import Sending
    from briefing.store.editions import Edition


@click.command()
@click.option("--brief", metavar="NAME", help="Configured brief (default: the default one).")
@click.option("--edition", "edition_id", type=int, metavar="ID", help="This edition (by id).")
@click.option("--dry-run", is_flag=True, help="Write .eml files under output/outbox/; send none.")
@json_option
@pass_app
def send(app: App, brief: str | None, edition_id: int | None, dry_run: bool, as_json: bool) -> None:
    """Send an edition to every subscriber who has not received it yet.

    Without --edition: the latest edition of the brief, generated first when there is none
    for the brief's current schedule slot (never by --dry-run, which changes nothing). An
    edition without events is not mailed unless the brief's send_when_empty is true. Run it
    again after a failure or a crash: only what was not sent goes out. Exits 1 when
    deliveries are left failed or the server refuses to take mail from us at all.
    """
    from briefing.deliver import DeliveryError
    from briefing.deliver.send import outbox_folder
    from briefing.pipeline import publish
    from briefing.store.deliveries import list_deliveries

    stop = threading.Event()

    @contextmanager
    def watch(edition: Edition) -> Iterator[Sending]:
        """The progress bar and Ctrl-C's gentle stop, for the mailing only."""
        with _progress(app, edition.id) as progress, _stop_on_signals(stop):
            yield progress, stop

    published = publish(
        app.settings, app.store, brief, edition_id=edition_id, dry_run=dry_run, watch=watch
    )
    edition = published.edition
    counts = published.sent
    if counts is None:  # stopped between choosing the edition and mailing it
        raise Stopped(130, "interrupted; run send again to finish")
    result = {
        "edition_id": edition.id,
        "dry_run": dry_run,
        **counts.as_dict(),
        "skipped": counts.skipped,
    }
    if dry_run:
        result["outbox"] = str(outbox_folder(app.settings, edition))
    if as_json:
        print_json(result)
    elif counts.skipped:
        app.say(counts.skipped)
    elif dry_run:
        app.say(f"edition {edition.id}: wrote {counts.sent} messages to {result['outbox']}")
    else:
        app.say(
            f"edition {edition.id}: {counts.sent} sent, {counts.bounced} bounced, "
            f"{counts.failed} failed, {counts.already_sent} sent before, "
            f"{counts.cancelled} cancelled, {counts.remaining} remaining"
        )
    if stop.is_set():
        raise Stopped(130, "interrupted; run send again to finish")
    if counts.failed:
        with app.store.session() as session:
            failed = list_deliveries(session, edition_id=edition.id, status="failed", limit=1)
        reason = f": {failed[0].last_error}" if failed and failed[0].last_error else ""
        raise DeliveryError(
            f"edition {edition.id}: {counts.failed} deliveries failed{reason}; "
            "run `briefing send` again to retry them"
        )


@contextmanager
def _stop_on_signals(stop: threading.Event):
    """First Ctrl-C or SIGTERM: finish the message in flight and stop; a second one aborts."""

    def handle(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def _progress(app: App, edition_id: int):
    """A progress bar of sent/failed/remaining on a terminal's stderr; nothing otherwise."""
    from rich.console import Console

    console = Console(stderr=True)
    if app.quiet or not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("edition {task.fields[edition]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("send", total=None, edition=edition_id, detail="")

        def update(counts) -> None:
            done = counts.sent + counts.bounced + counts.failed
            bar.update(
                task,
                completed=done,
                total=done + counts.remaining,
                detail=f"sent {counts.sent} · failed {counts.failed + counts.bounced} "
                f"· remaining {counts.remaining}",
            )

        yield update
