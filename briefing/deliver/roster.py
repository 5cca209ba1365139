"""Who receives briefs: addresses checked and normalised, subscriber lists read from CSV files."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from briefing.errors import BriefingError, InputError
from briefing.event import refuse_control_characters


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


def clean_name(text: str | None) -> str | None:
    """A display name on one line, or None when blank; ValueError if it has control characters."""
    cleaned = refuse_control_characters(" ".join((text or "").split()))
    return cleaned[:200] or None


def read_subscribers_csv(
    path: Path, *, check_brief: Callable[[str], str], default_brief: str
) -> list[SubscriberRecord]:
    """Every row of a CSV file (columns email, name, optional briefs 'a;b'), or no row at all.

    Raises InputError naming the file, line and column of the first bad row, with how many
    other rows are bad, so a file is fixed in one pass and nothing is half-imported.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip().lower() for c in reader.fieldnames or []]
            if "email" not in columns:
                raise InputError(f"{path}:1: no 'email' column (found: {', '.join(columns)})")
            reader.fieldnames = columns
            records, errors = _read_rows(path, reader, check_brief, default_brief)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    if errors:
        more = f" (and {len(errors) - 1} more bad rows)" if len(errors) > 1 else ""
        raise InputError(errors[0] + more)
    return records


def _read_rows(path, reader, check_brief, default_brief):
    records: dict[str, SubscriberRecord] = {}
    errors: list[str] = []
    for row in reader:
        where = f"{path}:{reader.line_num}"
        try:
            email = normalise_address(row.get("email") or "")
        except ValueError as exc:
            errors.append(f"{where}: email: {exc}")
            continue
        briefs = [b.strip() for b in (row.get("briefs") or "").split(";") if b.strip()]
        try:
            briefs = [check_brief(b) for b in briefs] or [default_brief]
        except BriefingError as exc:
            errors.append(f"{where}: briefs: {exc}")
            continue
        earlier = records.get(email.lower())
        if earlier:
            briefs = sorted(set(briefs) | set(earlier.briefs))
        name = clean_name(row.get("name")) or (earlier.name if earlier else None)
        records[email.lower()] = SubscriberRecord(email, name, tuple(briefs))
    return list(records.values()), errors
