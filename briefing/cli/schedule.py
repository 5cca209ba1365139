"""`briefing schedule`: the scheduler daemon and its status."""

from __future__ import annotations

from datetime import timedelta

import click

from briefing.cli.app import App, echo, json_option, pass_app, print_json
from briefing.cli.logs import configure_logging, log_format_option
from briefing.errors import Stopped


@click.group()
def schedule() -> None:
    """Make and send each brief on its schedule (a daemon), and show what it did."""


@schedule.command()
@log_format_option
@click.option(
    "--standby/--no-standby",
    default=True,
    show_default=True,
    help="If another scheduler runs on this database: wait to take over, or exit with an error.",
)
@pass_app
def run(app: App, log_format: str, standby: bool) -> None:
    """Run the scheduler in the foreground until SIGTERM or Ctrl-C.

    Each brief is made at its `schedule` (cron, in its time zone) and mailed to its
    subscribers; a slot missed while no scheduler ran is caught up within `catch_up`.
    """
    from briefing.schedule.daemon import run_scheduler

    configure_logging(log_format, app.quiet)
    code = run_scheduler(app.settings, lambda: app.store, standby=standby)
    if code:
        raise Stopped(code)


@schedule.command()
@click.option(
    "--runs",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="How many recent runs per brief.",
)
@json_option
@pass_app
def status(app: App, runs: int, as_json: bool) -> None:
    """Each brief's next run in its time zone and its last runs."""
    from briefing.schedule.status import schedule_status

    report = schedule_status(app.settings, app.store, runs)
    if as_json:
        print_json(report)
        return
    echo(f"scheduler: {report['scheduler'] or 'not running'}")
    for brief in report["briefs"]:
        echo(
            f"\n{brief['brief']}: {brief['schedule']!r} in {brief['timezone']}, "
            f"catch-up {timedelta(seconds=brief['catch_up_seconds'])}"
        )
        echo(f"  next run  {brief['next_run'] or 'never'}")
        for item in brief["runs"]:
            echo(f"  {_describe(item)}")
        if not brief["runs"]:
            echo("  no runs yet")


def _describe(run: dict) -> str:
    counts = ", ".join(f"{key} {value}" for key, value in run["counts"].items())
    line = f"{run['slot']}  {run['status']:<9}"
    if run["attempts"] > 1:
        line += f"  attempt {run['attempts']}"
    if counts:
        line += f"  {counts}"
    if run["error"]:
        line += f"  — {run['error']}"
    if run["retry_at"]:
        line += f" (retry at {run['retry_at']})"
    return line
