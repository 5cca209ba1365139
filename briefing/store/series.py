"""Imported daily figure series (e.g. claimed losses per day) and the queries that read them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Date, Float, Integer, String, Text, UniqueConstraint, func, insert, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Mapped, Session, mapped_column

from briefing.store.db import Base


class SeriesPointRow(Base):
    """One day's value of one series; a series has at most one value a day."""

    __tablename__ = "figure_series"
    __table_args__ = (UniqueConstraint("series", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    series: Mapped[str] = mapped_column(String(200))
    day: Mapped[date] = mapped_column(Date)
    value: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True)
class SeriesPoint:
    series: str
    day: date
    value: float
    source: str


@dataclass(frozen=True)
class SeriesCounts:
    added: int
    updated: int


@dataclass(frozen=True)
class SeriesSummary:
    series: str
    first_day: date
    last_day: date
    days: int


def store_series_points(session: Session, points: Sequence[SeriesPoint]) -> SeriesCounts:
    """Add new days and replace the value and source of days already stored (re-imports)."""
    names = sorted({point.series for point in points})
    existing = {
        (row.series, row.day): row.id
        for row in session.execute(
            select(SeriesPointRow.id, SeriesPointRow.series, SeriesPointRow.day).where(
                SeriesPointRow.series.in_(names)
            )
        )
    }
    added, updated = [], []
    for point in points:
        values = {"value": point.value, "source": point.source}
        known = existing.get((point.series, point.day))
        if known is None:
            added.append({"series": point.series, "day": point.day, **values})
        else:
            updated.append({"id": known, **values})
    if added:
        session.execute(insert(SeriesPointRow), added)
    if updated:
        session.execute(sql_update(SeriesPointRow), updated)
    return SeriesCounts(added=len(added), updated=len(updated))


def series_between(
    session: Session, names: Iterable[str], first_day: date, last_day: date
) -> dict[str, list[tuple[date, float, str]]]:
    """The (day, value, source) points of each named series from `first_day` to `last_day`."""
    query = (
        select(
            SeriesPointRow.series, SeriesPointRow.day, SeriesPointRow.value, SeriesPointRow.source
        )
        .where(
            SeriesPointRow.series.in_(list(names)),
            SeriesPointRow.day >= first_day,
            SeriesPointRow.day <= last_day,
        )
        .order_by(SeriesPointRow.series, SeriesPointRow.day)
    )
    found: dict[str, list[tuple[date, float, str]]] = defaultdict(list)
    for name, day, value, source in session.execute(query):
        found[name].append((day, value, source))
    return dict(found)


def list_series(session: Session) -> list[SeriesSummary]:
    """Every stored series with its first and last day and how many days it has."""
    query = (
        select(
            SeriesPointRow.series,
            func.min(SeriesPointRow.day),
            func.max(SeriesPointRow.day),
            func.count(),
        )
        .group_by(SeriesPointRow.series)
        .order_by(SeriesPointRow.series)
    )
    return [SeriesSummary(*row) for row in session.execute(query)]
