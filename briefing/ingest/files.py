"""Event files (JSON array, JSON Lines, CSV) → validated events, all or nothing."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from briefing.config import Settings
from briefing.errors import InputError, validation_problems
from briefing.event import Event

FORMATS = ("json", "jsonl", "csv")
_LIST_FIELDS = ("actors", "tags")
_SUFFIXES = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


@dataclass(frozen=True)
class Record:
    """One raw record and where it came from, for error messages."""

    name: str
    where: str
    data: Any
    problem: str | None = None

    @property
    def label(self) -> str:
        """Where, within its own file: 'line 3' or 'record 3'."""
        rest = self.where.removeprefix(self.name).lstrip(": ")
        return rest if rest.startswith("record") else f"line {rest}"


def read_events(paths: list[str], settings: Settings, fmt: str | None = None) -> list[Event]:
    """Every event of every file, validated; raises InputError listing each bad record."""
    context = {"zone": ZoneInfo(settings.timezone), "categories": settings.categories}
    events: list[Event] = []
    errors: list[str] = []
    seen: dict[str, Record] = {}
    for path in paths:
        for record in _records(path, fmt):
            event = _validate(record, context, errors)
            if event is None:
                continue
            if event.id in seen:
                first = seen[event.id]
                first = first.label if first.name == record.name else first.where
                errors.append(f"{record.where}: id: {event.id!r} already appears at {first}")
                continue
            seen[event.id] = record
            events.append(event)
    if errors:
        raise InputError(_summarise(errors))
    return events


def _summarise(errors: list[str], shown: int = 20) -> str:
    lines = errors[:shown]
    if len(errors) > shown:
        lines.append(f"… and {len(errors) - shown} more errors")
    lines.append(f"nothing was imported ({len(errors)} bad record{'s' * (len(errors) != 1)})")
    return "\n".join(lines)


def _validate(record: Record, context: dict, errors: list[str]) -> Event | None:
    if record.problem:
        errors.append(f"{record.where}: {record.problem}")
        return None
    if not isinstance(record.data, dict):
        errors.append(f"{record.where}: expected an object, found {type(record.data).__name__}")
        return None
    try:
        return Event.model_validate(record.data, context=context)
    except ValidationError as exc:
        for field, message in validation_problems(exc):
            errors.append(f"{record.where}: {field}: {message}")
        return None


def _read_text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror}") from None


def _detect(path: str, text: str, fmt: str | None) -> str:
    if fmt:
        return fmt
    if path != "-" and Path(path).suffix.lower() in _SUFFIXES:
        return _SUFFIXES[Path(path).suffix.lower()]
    start = text.lstrip()[:1]
    return "json" if start == "[" else "jsonl" if start == "{" else "csv"


def _records(path: str, fmt: str | None) -> Iterator[Record]:
    text = _read_text(path)
    name = "<stdin>" if path == "-" else path
    kind = _detect(path, text, fmt)
    if kind == "json":
        yield from _json_records(name, text)
    elif kind == "jsonl":
        yield from _jsonl_records(name, text)
    else:
        yield from _csv_records(name, text)


def _json_records(name: str, text: str) -> Iterator[Record]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}:{exc.lineno}:{exc.colno}: malformed JSON: {exc.msg}") from None
    if not isinstance(data, list):
        raise InputError(f"{name}: expected a JSON array of events, found {type(data).__name__}")
    for index, item in enumerate(data, start=1):
        yield Record(name, f"{name}: record {index}", item)


def _jsonl_records(name: str, text: str) -> Iterator[Record]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield Record(name, f"{name}:{number}", json.loads(line))
        except json.JSONDecodeError as exc:
            raise InputError(f"{name}:{number}:{exc.colno}: malformed JSON: {exc.msg}") from None


def _csv_records(name: str, text: str) -> Iterator[Record]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise InputError(f"{name}: empty CSV file (expected a header row)")
    for row in reader:
        where = f"{name}:{reader.line_num}"
        if None in row:
            yield Record(name, where, None, "more values than header columns")
            continue
        try:
            yield Record(name, where, _csv_event(row))
        except ValueError as exc:
            yield Record(name, where, None, str(exc))


def _csv_event(row: dict[str, str]) -> dict[str, Any]:
    """Nest `a.b` columns, split `;` lists, and read figures as numbers."""
    data: dict[str, Any] = {}
    source_names: list[str] = []
    source_urls: list[str] = []
    for column, raw in row.items():
        value = (raw or "").strip()
        if not value:
            continue
        head, _, rest = column.strip().partition(".")
        if head in _LIST_FIELDS:
            data[head] = [item.strip() for item in value.split(";") if item.strip()]
        elif column == "sources.name":
            source_names = [item.strip() for item in value.split(";")]
        elif column == "sources.url":
            source_urls = [item.strip() for item in value.split(";")]
        elif head == "figures" and rest:
            data.setdefault("figures", {})[rest] = _csv_number(value, column)
        elif rest:
            data.setdefault(head, {})[rest] = value
        else:
            data[head] = value
    if source_urls and len(source_urls) != len(source_names):
        raise ValueError(f"sources.url: {len(source_urls)} URLs for {len(source_names)} names")
    if source_names:
        urls = source_urls or [""] * len(source_names)
        data["sources"] = [
            {"name": n, "url": u or None} for n, u in zip(source_names, urls, strict=True)
        ]
    return data


def _csv_number(value: str, column: str) -> float | int:
    try:
        number = float(value.replace(",", ""))
    except ValueError:
        raise ValueError(f"{column}: {value!r} is not a number") from None
    return int(number) if number.is_integer() else number
