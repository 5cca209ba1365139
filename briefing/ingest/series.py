"""Daily figure series files (a JSON array of {"date": …, NAME: number, …}) → series points.

Each numeric field of the records is one series, named `<prefix>_<field>`. Cumulative files
(running totals, like the General Staff's loss counts) become each day's change, so a brief
shows what happened that day. All or nothing: any bad record stores nothing.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from briefing.errors import InputError
from briefing.slug import slug
from briefing.store.series import SeriesPoint

LARGEST_VALUE = 1e15


def series_name(prefix: str, field: str) -> str:
    """'russian_losses' + 'field artillery' → 'russian_losses_field_artillery'."""
    return slug(f"{prefix} {field}", "_")


def read_series_files(
    paths: Sequence[str | Path],
    *,
    source: str,
    prefix: str = "",
    cumulative: bool = False,
    exclude: Sequence[str] = (),
) -> list[SeriesPoint]:
    """Every series point of every file; raises InputError naming each bad record and field."""
    if not source.strip():
        raise InputError("--source: name where the figures come from (it is shown in briefs)")
    values: dict[str, dict[date, float]] = defaultdict(dict)
    errors: list[str] = []
    for path in paths:
        for number, record in enumerate(_records(Path(path)), start=1):
            where = f"{path}: record {number}"
            day = _day(record, where, errors)
            if day is None:
                continue
            for field, value in record.items():
                if field == "date" or field in exclude or value is None or isinstance(value, str):
                    continue
                problem = _value_problem(value)
                name = series_name(prefix, field)
                if problem:
                    errors.append(f"{where}: {field}: {problem}")
                elif day in values[name]:
                    errors.append(f"{where}: {field}: a second value for {day.isoformat()}")
                else:
                    values[name][day] = float(value)
    if errors:
        raise InputError(_summary(errors))
    if cumulative:
        values = {name: _daily_changes(days) for name, days in values.items()}
    return [
        SeriesPoint(name, day, value, source.strip())
        for name, days in sorted(values.items())
        for day, value in sorted(days.items())
    ]


def _records(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: line {exc.lineno}: not JSON: {exc.msg}") from None
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise InputError(f"{path}: expected a JSON array of objects with a 'date' field")
    return data


def _summary(errors: list[str], shown: int = 20) -> str:
    lines = errors[:shown]
    if len(errors) > shown:
        lines.append(f"… and {len(errors) - shown} more errors")
    lines.append(f"nothing was imported ({len(errors)} problem{'s' * (len(errors) != 1)})")
    return "\n".join(lines)


def _day(record: dict[str, Any], where: str, errors: list[str]) -> date | None:
    text = record.get("date")
    if text is None:
        errors.append(f"{where}: date: required field is missing")
        return None
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        errors.append(f"{where}: date: {text!r} is not a date such as 2024-10-26")
        return None


def _value_problem(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{value!r} is not a number"
    if not math.isfinite(value) or abs(value) > LARGEST_VALUE:
        return f"{value!r} is not a number between -1e15 and 1e15"
    return None


def _daily_changes(totals: dict[date, float]) -> dict[date, float]:
    """Each day's change from a running total; a day after a gap has no change of its own."""
    return {
        day: total - totals[day - timedelta(days=1)]
        for day, total in totals.items()
        if day - timedelta(days=1) in totals
    }
