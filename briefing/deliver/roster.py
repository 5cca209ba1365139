"""Who receives briefs: addresses checked and normalised, subscriber lists read from CSV files."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from briefing.deliver.mail import header_text
from briefing.errors import BriefingError, InputError, summarise_problems
from briefing.event import refuse_control_characters

SUBSCRIBER_COLUMNS = ("email", "name", "briefs")


@dataclass(frozen=True)
class SubscriberRecord:
    email: str
    name: str | None
    briefs: tuple[str, ...]


def normalise_address(text: str) -> str:
    """The canonical form of an address ('Ann@Example.ORG ' → 'Ann@example.org'), or ValueError."""
    try:
        return validate_email(text.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"{text.strip()!r} is not a valid email address: {exc}") from None


def ascii_address(address: str) -> str | None:
    """The address with its domain in IDNA ('user@xn--bcher-kva.example'), for a server without
    SMTPUTF8; None when the mailbox name itself is beyond ASCII and has no such form."""
    if address.isascii():
        return address
    try:
        return validate_email(address, check_deliverability=False).ascii_email
    except EmailNotValidError:
        return None


def clean_name(text: str | None) -> str | None:
    """A display name on one line of plain text (encoded words decoded, no control
    characters: see header_text), or None when blank.

    ValueError if the text as given holds a control character other than tab and newline.
    """
    return header_text(refuse_control_characters(text or ""))[:200] or None


def read_subscribers_csv(
    path: Path, *, check_brief: Callable[[str], str], default_brief: str
) -> list[SubscriberRecord]:
    """Every row of a CSV file (columns email, name, optional briefs 'a;b'), or no row at all.

    Raises InputError listing every bad row by file and line (as `events import` does), so a
    file is fixed in one pass and nothing is half-imported.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            lines = _CountedLines(handle)
            # strict: a file cut off inside a quoted field is an error, not a shorter value.
            reader = csv.DictReader(iter(lines), strict=True)
            reader.fieldnames = _columns(path, reader.fieldnames or [])
            records, problems = _read_rows(path, reader, check_brief, default_brief)
    except csv.Error as exc:
        raise InputError(f"{path}:{lines.read}: malformed CSV: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    if problems:
        raise InputError(summarise_problems(problems[:20], len(problems), "row"))
    if not records:
        raise InputError(f"{path}: no subscribers found; nothing was imported")
    return records


@dataclass
class _CountedLines:
    """A file's lines, counted: the csv reader's own count lags at a last line without an end."""

    handle: Iterable[str]
    read: int = 0

    def __iter__(self) -> Iterator[str]:
        for line in self.handle:
            self.read += 1
            yield line


def _columns(path: Path, found: Sequence[str]) -> list[str]:
    """The header, checked: an email column, no unknown or repeated column."""
    columns = [column.strip().lower() for column in found]
    if "email" not in columns:
        raise InputError(f"{path}:1: no 'email' column (found: {', '.join(columns)})")
    unknown = [column for column in columns if column not in SUBSCRIBER_COLUMNS]
    if unknown:
        raise InputError(
            f"{path}:1: unknown column {', '.join(map(repr, unknown))}"
            f" (expected {', '.join(SUBSCRIBER_COLUMNS)})"
        )
    repeated = sorted({column for column in columns if columns.count(column) > 1})
    if repeated:
        raise InputError(f"{path}:1: column {', '.join(map(repr, repeated))} appears twice")
    return columns


def _read_rows(path, reader, check_brief, default_brief):
    records: dict[str, SubscriberRecord] = {}
    first_line: dict[str, int] = {}
    problems: list[str] = []
    for row in reader:
        where = f"{path}:{reader.line_num}"
        if None in row:
            problems.append(f"{where}: more values than header columns")
            continue
        try:
            record = _record(row, check_brief, default_brief)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        key = record.email.lower()
        if key in records:
            problems.append(
                f"{where}: email: {record.email!r} already appears at line {first_line[key]}"
            )
            continue
        records[key], first_line[key] = record, reader.line_num
    return list(records.values()), problems


def _record(row: dict, check_brief, default_brief) -> SubscriberRecord:
    """One row as a subscriber; ValueError naming the column at fault."""
    try:
        email = normalise_address(row.get("email") or "")
    except ValueError as exc:
        raise ValueError(f"email: {exc}") from None
    try:
        name = clean_name(row.get("name"))
    except ValueError as exc:
        raise ValueError(f"name: {exc}") from None
    briefs = [b.strip() for b in (row.get("briefs") or "").split(";") if b.strip()]
    try:
        briefs = [check_brief(b) for b in briefs] or [default_brief]
    except BriefingError as exc:
        raise ValueError(f"briefs: {exc}") from None
    return SubscriberRecord(email, name, tuple(briefs))
