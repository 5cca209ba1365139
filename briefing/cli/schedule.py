"""`briefing schedule`: the scheduler daemon and its status."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timedelta

import click

from briefing.cli.app import App, echo, json_option, pass_app, print_json
from briefing.errors import Stopped

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class PlainFormatter(logging.Formatter):
    """`2024-10-26T07:00:02+03:00 INFO message` — one line per event."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created).astimezone()
        line = f"{moment.isoformat(timespec='seconds')} {record.levelname} {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created).astimezone()
        data = {
            "time": moment.isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=_json_value)


def _json_value(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def configure_logging(log_format: str, quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else PlainFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("briefing").setLevel(logging.WARNING if quiet else logging.INFO)
    logging.getLogger("weasyprint").setLevel(logging.ERROR)  # font notes on every render


@click.group()
def schedule() -> None:
    """Make and send each brief on its schedule (a daemon), and show what it did."""


@schedule.command()
@click.option(
    "--log-format",
    type=click.Choice(["plain", "json"]),
    default="plain",
    show_default=True,
    help="Log lines for people, or JSON lines for a log collector.",
)
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
