"""`briefing generate`: one edition of a brief, now."""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from briefing.cli.app import App, echo, json_option, pass_app, print_json


@click.command()
@click.option(
    "--brief", "brief", metavar="NAME", help="Configured brief (default: the default one)."
)
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="One local day.")
@click.option("--since", help="Window start: date or ISO time (default: end of the last edition).")
@click.option("--until", help="Window end: date (inclusive) or ISO time (default: now).")
@click.option(
    "--format", "fmt", type=click.Choice(["pdf", "html"]), default="pdf", show_default=True
)
@click.option("--out", type=click.Path(dir_okay=True, path_type=Path), help="Also copy it here.")
@click.option("--force", is_flag=True, help="Let --out replace an existing file.")
@json_option
@pass_app
def generate(
    app: App,
    brief: str | None,
    day,
    since: str | None,
    until: str | None,
    fmt: str,
    out: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    """Compose, render and archive an edition; print its path."""
    if day and (since or until):
        raise click.UsageError("--date cannot be combined with --since/--until")
    if out and not out.is_dir() and not out.parent.is_dir():
        raise click.BadParameter(f"folder {out.parent} does not exist", param_hint="--out")
    if out and out.exists() and not out.is_dir() and not force:
        raise click.BadParameter(
            f"{out} already exists; pass --force to replace it", param_hint="--out"
        )
    chosen: date | None = day.date() if day else None
    with _pdf_renderer(app, brief, fmt) as render_pdf, _status(app, "Rendering brief…"):
        # Imported only now, while the renderer's process is already loading WeasyPrint.
        from briefing.edition_brief import edition_file
        from briefing.pipeline import generate_edition

        edition = generate_edition(
            app.settings,
            app.store,
            brief,
            since=since,
            until=until,
            day=chosen,
            fmt=fmt,
            render_pdf=render_pdf,
        )
    path = edition_file(app.settings, edition).resolve()
    if out:
        from briefing.archive import copy_out

        copy_out(path, out / path.name if out.is_dir() else out, replace=force)
    if as_json:
        print_json(
            {
                "edition_id": edition.id,
                "path": str(path),
                "sha256": edition.sha256,
                "pages": edition.pages,
                "events": len(edition.event_ids),
            }
        )
    else:
        zone = ZoneInfo(edition.timezone)
        app.say(
            f"edition {edition.id}: {len(edition.event_ids)} events, "
            f"{edition.pages or '-'} pages, {edition.window_start.astimezone(zone):%Y-%m-%d %H:%M}"
            f" → {edition.window_end.astimezone(zone):%Y-%m-%d %H:%M} ({zone.key})"
        )
        echo(path)


@contextmanager
def _pdf_renderer(app: App, brief: str | None, fmt: str):
    """For a PDF, a renderer whose process starts loading WeasyPrint before anything else, and
    then what the brief's templates need."""
    if fmt != "pdf":
        yield None
        return
    from briefing.document.pdf_worker import pdf_worker

    with pdf_worker() as worker:
        _, spec = app.settings.brief(brief)
        worker.prepare(app.settings.template_dir, spec.locale)
        yield worker.render_pdf


def _status(app: App, message: str):
    """A spinner on a terminal; nothing when quiet or piped."""
    if app.quiet:
        return nullcontext()
    from rich.console import Console

    console = Console(stderr=True)
    return console.status(message) if console.is_terminal else nullcontext()
