"""How the long-running commands (`schedule run`, `serve`) log: plain lines or JSON lines."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click

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
    """One handler on stderr in the chosen format; briefing at INFO unless --quiet."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else PlainFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("briefing").setLevel(logging.WARNING if quiet else logging.INFO)
    logging.getLogger("weasyprint").setLevel(logging.ERROR)  # font notes on every render


def log_format_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--log-format",
        type=click.Choice(["plain", "json"]),
        default="plain",
        show_default=True,
        help="Log lines for people, or JSON lines for a log collector.",
    )(function)
