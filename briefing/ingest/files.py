"""Event files (JSON array, JSON Lines, CSV) → validated events, all or nothing.

Files are read as a stream and validated in chunks, so an import of any size needs memory for
one chunk (and the ids seen so far), not for the whole file.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO, TextIO
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from briefing.config import Settings
from briefing.errors import InputError, summarise_problems, validation_problems
from briefing.event import Event

FORMATS = ("json", "jsonl", "csv")
CHUNK_SIZE = 1000
_LIST_FIELDS = ("actors", "tags")
_SUFFIXES = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
_READ_AHEAD = 1 << 16
_SHOWN_ERRORS = 20


@dataclass(frozen=True)
class Record:
    """One raw record and where it came from: a line (JSON Lines, CSV) or a record number."""

    name: str
    number: int
    data: Any
    problem: str | None = None
    by_line: bool = True

    @property
    def where(self) -> str:
        return f"{self.name}:{self.number}" if self.by_line else f"{self.name}: {self.label}"

    @property
    def label(self) -> str:
        """Where, within its own file: 'line 3' or 'record 3'."""
        return f"line {self.number}" if self.by_line else f"record {self.number}"


@dataclass
class _Problems:
    """The bad records of an import: every one counted, the first few kept to show."""

    shown: list[str] = field(default_factory=list)
    count: int = 0

    def add(self, message: str) -> None:
        self.count += 1
        if len(self.shown) < _SHOWN_ERRORS:
            self.shown.append(message)


def read_event_chunks(
    paths: list[str], settings: Settings, fmt: str | None = None, size: int = CHUNK_SIZE
) -> Iterator[list[Event]]:
    """Every event of every file, validated, in chunks of `size`.

    After the last record, raises InputError listing the bad records (or naming a file that
    held none), so a caller storing the chunks in one transaction stores all or nothing.
    """
    context = {"zone": ZoneInfo(settings.timezone), "categories": settings.categories}
    problems = _Problems()
    seen: dict[str, tuple[int, int, bool]] = {}  # id → file index, number, by line
    chunk: list[Event] = []
    for index, path in enumerate(paths):
        found = 0
        for record in _records(path, fmt):
            found += 1
            event = _validate(record, context, problems)
            if event is None:
                continue
            if event.id in seen:
                problems.add(
                    f"{record.where}: id: {event.id!r} already appears at "
                    f"{_first(paths, index, seen[event.id])}"
                )
                continue
            seen[event.id] = (index, record.number, record.by_line)
            chunk.append(event)
            if len(chunk) >= size:
                if not problems.count:  # once the import is refused, only look for problems
                    yield chunk
                chunk = []
        if not found:
            raise InputError(f"{_display_name(path)}: no events found; nothing was imported")
    if problems.count:
        raise InputError(summarise_problems(problems.shown, problems.count, "record"))
    if chunk:
        yield chunk


def _first(paths: list[str], index: int, earlier: tuple[int, int, bool]) -> str:
    """Where an id first appeared: 'line 3' in the same file, 'a.json: record 3' in another."""
    first_index, number, by_line = earlier
    first = Record(_display_name(paths[first_index]), number, None, by_line=by_line)
    return first.label if first_index == index else first.where


def read_events(paths: list[str], settings: Settings, fmt: str | None = None) -> list[Event]:
    """Every event of every file, validated; raises InputError listing each bad record."""
    return [event for chunk in read_event_chunks(paths, settings, fmt) for event in chunk]


def _validate(record: Record, context: dict, problems: _Problems) -> Event | None:
    if record.problem:
        problems.add(f"{record.where}: {record.problem}")
        return None
    if not isinstance(record.data, dict):
        problems.add(f"{record.where}: expected an object, found {type(record.data).__name__}")
        return None
    try:
        return Event.model_validate(record.data, context=context)
    except ValidationError as exc:
        for name, message in validation_problems(exc):
            problems.add(f"{record.where}: {name}: {message}")
        return None


def _display_name(path: str) -> str:
    return "<stdin>" if path == "-" else path


@contextmanager
def _opened(path: str) -> Iterator[BinaryIO | TextIO]:
    """The file, or standard input for '-', read as bytes where the stream allows."""
    if path == "-":
        yield getattr(sys.stdin, "buffer", sys.stdin)
        return
    try:
        handle = Path(path).open("rb")  # noqa: SIM115
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror}") from None
    with handle:
        yield handle


def _lines(name: str, head: bytes | str, handle: BinaryIO | TextIO) -> Iterator[str]:
    """The lines after `head` (already read), with their endings, decoded as UTF-8."""
    more = handle.readline()
    start: Iterator[bytes] | Iterator[str]
    if isinstance(head, bytes) and isinstance(more, bytes):
        start = io.BytesIO(head + more)
    elif isinstance(head, str) and isinstance(more, str):
        start = io.StringIO(head + more)
    else:
        raise TypeError(f"{name}: the stream mixes bytes and text")
    lines: Iterator[bytes | str] = chain(start, handle)
    for number, line in enumerate(lines, start=1):
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"{name}:{number}: not UTF-8 text (byte {exc.start})") from None
        yield line.removeprefix("\ufeff") if number == 1 else line


def _blocks(name: str, head: bytes | str, handle: BinaryIO | TextIO) -> Iterator[str]:
    """The text from `head` (already read) on, in blocks, decoded as UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, block, first = 0, head, True
    while True:
        if isinstance(block, bytes):
            try:
                text = decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                raise InputError(f"{name}: not UTF-8 text (byte {offset + exc.start})") from None
            offset += len(block)
        else:
            text = block
        yield text.removeprefix("\ufeff") if first else text
        if not block:
            return
        block, first = handle.read(_READ_AHEAD), False


def _first_character(head: bytes | str) -> str:
    """The first character of the content, after a byte order mark and white space."""
    text = head.decode("utf-8", "replace") if isinstance(head, bytes) else head
    return text.removeprefix("\ufeff").lstrip()[:1]


def _detect(path: str, first: str, fmt: str | None) -> str:
    """The format: as asked, by suffix, or by the first character of the content."""
    if fmt:
        return fmt
    if path != "-" and Path(path).suffix.lower() in _SUFFIXES:
        return _SUFFIXES[Path(path).suffix.lower()]
    return "json" if first == "[" else "jsonl" if first == "{" else "csv"


def _records(path: str, fmt: str | None) -> Iterator[Record]:
    name = _display_name(path)
    with _opened(path) as handle:
        try:
            head = handle.read(_READ_AHEAD)
            first = _first_character(head)
            if not first and len(head) < _READ_AHEAD:
                return  # only white space: no records, whatever the format
            kind = _detect(path, first, fmt)
            if kind == "json":
                yield from _json_records(name, _blocks(name, head, handle))
            elif kind == "jsonl":
                yield from _jsonl_records(name, _lines(name, head, handle))
            else:
                yield from _csv_records(name, _lines(name, head, handle))
        except OSError as exc:
            raise InputError(f"{name}: {exc.strerror or exc}") from None


def _jsonl_records(name: str, lines: Iterator[str]) -> Iterator[Record]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield Record(name, number, json.loads(line))
        except json.JSONDecodeError as exc:
            raise InputError(f"{name}:{number}:{exc.colno}: malformed JSON: {exc.msg}") from None


def _json_records(name: str, blocks: Iterator[str]) -> Iterator[Record]:
    """The items of one JSON array, decoded one at a time as the text arrives."""
    reader = _ArrayReader(name, blocks)
    reader.expect("[", "expected a JSON array of events")
    number = 0
    while not reader.at("]"):
        if number:
            reader.expect(",", "Expecting ',' delimiter")
        number += 1
        yield Record(name, number, reader.value(), by_line=False)
    reader.expect("]", "Expecting ']'")
    reader.expect_end()


class _ArrayReader:
    """A window on a stream of JSON text: decodes one value at a time, reads ahead as needed."""

    def __init__(self, name: str, blocks: Iterator[str]) -> None:
        self.name = name
        self.blocks = blocks
        self.buffer = ""
        self.position = 0
        self.line_base = 1
        self.ended = False
        self.decoder = json.JSONDecoder()

    def _read_more(self) -> bool:
        if self.ended:
            return False
        if self.position > _READ_AHEAD:
            dropped = self.buffer[: self.position]
            self.line_base += dropped.count("\n")
            self.buffer, self.position = self.buffer[self.position :], 0
        # At least as much again as is waiting, so a long value is not decoded over and over.
        wanted, pieces = max(_READ_AHEAD, len(self.buffer) - self.position), []
        for block in self.blocks:
            pieces.append(block)
            wanted -= len(block)
            if wanted <= 0:
                break
        else:
            self.ended = True
        self.buffer += "".join(pieces)
        return any(pieces) or not self.ended

    def _skip_space(self) -> None:
        while True:
            while self.position < len(self.buffer) and self.buffer[self.position] in " \t\r\n":
                self.position += 1
            if self.position < len(self.buffer) or not self._read_more():
                return

    def at(self, token: str) -> bool:
        self._skip_space()
        return self.buffer.startswith(token, self.position)

    def expect(self, token: str, message: str) -> None:
        if not self.at(token):
            self._fail(self.position, message)
        self.position += len(token)

    def expect_end(self) -> None:
        self._skip_space()
        if self.position < len(self.buffer):
            self._fail(self.position, "Extra data")

    def value(self) -> Any:
        self._skip_space()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buffer, self.position)
            except json.JSONDecodeError as exc:
                if self._read_more():
                    continue
                self._fail(exc.pos, exc.msg)
            if end == len(self.buffer) and self._read_more():
                continue  # a number may go on in the next piece of text
            self.position = end
            return value

    def _fail(self, position: int, message: str) -> None:
        line = self.line_base + self.buffer.count("\n", 0, position)
        column = position - self.buffer.rfind("\n", 0, position)
        raise InputError(f"{self.name}:{line}:{column}: malformed JSON: {message}")


def _csv_records(name: str, lines: Iterator[str]) -> Iterator[Record]:
    read = 0  # lines given to the reader: its own count lags at a last line without an ending

    def counted() -> Iterator[str]:
        nonlocal read
        for read, line in enumerate(lines, start=1):  # noqa: B007
            yield line

    # strict: a file cut off inside a quoted field is an error, not a shorter last value.
    reader = csv.DictReader(counted(), strict=True)
    try:
        if not reader.fieldnames:
            raise InputError(f"{name}: empty CSV file (expected a header row)")
        for row in reader:
            if None in row:
                yield Record(name, reader.line_num, None, "more values than header columns")
                continue
            try:
                yield Record(name, reader.line_num, _csv_event(row))
            except ValueError as exc:
                yield Record(name, reader.line_num, None, str(exc))
    except csv.Error as exc:
        raise InputError(f"{name}:{read}: malformed CSV: {exc}") from None


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
