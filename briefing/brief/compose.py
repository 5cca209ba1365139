"""Select and group events into a brief: a plain data object, no I/O."""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import NamedTuple, TypeVar

from briefing.brief.window import Window
from briefing.config import BriefSpec, FigureSpec
from briefing.event import Development, Event, FigureNote

SECTION_HEADINGS = {
    "military": "Military",
    "diplomatic": "Diplomatic",
    "aid": "Aid",
    "humanitarian": "Humanitarian",
    "other": "Other developments",
}


TREND_DAYS = 30
_NEW_NAMES_SHOWN = 4


@dataclass(frozen=True)
class SourceRef:
    """One entry of the sources list: outlet, and when known the title, date and address."""

    number: int
    name: str
    url: str | None
    title: str | None = None
    published: date | None = None


@dataclass(frozen=True)
class Item:
    event: Event
    refs: tuple[SourceRef, ...]
    local_time: datetime
    number: int = 0


@dataclass(frozen=True)
class Section:
    """One category's items, at most the brief's `max_items`; `more` counts the rest."""

    category: str
    heading: str
    items: tuple[Item, ...]
    more: int = 0


@dataclass(frozen=True)
class TrendPoint:
    day: date
    value: float


@dataclass(frozen=True)
class FigureTotal:
    """A key figure of the window, with what a reader needs to weigh it.

    `qualifier` and `side` are kept when every report agrees ("approximately", whose count);
    `trend` is the figure's daily value over the last days, from the stored events.
    """

    name: str
    label: str
    unit: str
    value: float
    previous: float | None
    qualifier: str | None = None
    side: str | None = None
    upper: float | None = None
    trend: tuple[TrendPoint, ...] = ()
    event_ids: tuple[str, ...] = ()

    @property
    def name_label(self) -> str:
        """The label without the side, for one event's own figure line."""
        return self.label.removesuffix(f" ({self.side})") if self.side else self.label

    @property
    def change(self) -> float | None:
        return None if self.previous is None else self.value - self.previous


@dataclass(frozen=True)
class SeriesTrend:
    """An imported daily series (e.g. claimed losses) over the last days, with its source."""

    name: str
    label: str
    unit: str
    source: str
    points: tuple[TrendPoint, ...]

    @property
    def latest(self) -> TrendPoint:
        return self.points[-1]

    @property
    def change(self) -> float | None:
        return self.points[-1].value - self.points[-2].value if len(self.points) > 1 else None

    @property
    def total(self) -> float:
        return sum(point.value for point in self.points)


@dataclass(frozen=True)
class Takeaway:
    """One line of what changed, built from the data and citing the items it rests on.

    kind "figures": `figures` reported together; "new": `names` not named in the window
    before; "count": developments per section (`counts`) and the most named `names`.
    """

    kind: str
    category: str
    item_numbers: tuple[int, ...]
    figures: tuple[FigureTotal, ...] = ()
    names: tuple[str, ...] = ()
    more_names: int = 0
    counts: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Brief:
    """Everything a template needs to show one edition of a brief."""

    name: str
    title: str
    window: Window
    generated_at: datetime
    takeaways: tuple[Takeaway, ...]
    figures: tuple[FigureTotal, ...]
    sections: tuple[Section, ...]
    sources: tuple[SourceRef, ...]
    event_ids: tuple[str, ...] = field(repr=False)  # every event of the window, oldest first
    pending_review: tuple[str, ...] = ()  # ids of the window's events left out, awaiting review
    series: tuple[SeriesTrend, ...] = ()
    locale: str = "en_GB"
    publisher: str | None = None
    distribution: str | None = None
    logo: str | None = None
    edition_number: int | None = None
    trend_days: int = TREND_DAYS

    @property
    def edition_date(self) -> date:
        return self.window.edition_date


Shown = TypeVar("Shown", bound=Development)


def select_events(events: Sequence[Shown], spec: BriefSpec) -> list[Shown]:
    """The events a brief shows: its sections' categories, then its tag and country filters."""
    chosen = [event for event in events if event.category in spec.sections]
    if spec.tags:
        chosen = [event for event in chosen if set(event.tags) & set(spec.tags)]
    if spec.countries:
        wanted = {country.upper() for country in spec.countries}
        chosen = [event for event in chosen if (event.country or "").upper() in wanted]
    return chosen


FigureKey = tuple[str, str | None, str | None]
"""A key figure's name, unit and side: only figures alike in all three are added up."""


class _Report(NamedTuple):
    """An event's figures as adding up reads them, worked out once for each event (a window
    may hold 100,000, counted for the window and again for its day's trend point)."""

    event: Development
    figures: tuple[tuple[FigureKey, float, FigureNote | None], ...]
    signature: tuple  # day, category and figures: what two sources' reports of one share
    sources: frozenset[str]


def _reports(events: Iterable[Development]) -> list[_Report]:
    """The events that report figures (most of a large window reports none), oldest first."""
    found = []
    for event in events:
        figures = event.figures
        if not figures:
            continue
        notes = event.figure_notes
        keyed = []
        for name, value in figures.items():
            note = notes.get(name)
            keyed.append(
                ((name, note.unit, note.side) if note else (name, None, None), value, note)
            )
        reported = frozenset((key[0], value, key[2]) for key, value, _ in keyed)
        signature = (event.occurred_at.date(), event.category, reported)
        found.append(_Report(event, tuple(keyed), signature, event.source_names))
    found.sort(key=lambda report: report.event.occurred_at)
    return found


def total_figures(
    events: Sequence[Development], specs: Mapping[str, FigureSpec]
) -> dict[FigureKey, float]:
    """Each figure added up over the events as its registry entry says (sum, max or latest).

    Figures are kept apart by unit and side (Russian drones downed are not added to Ukrainian
    ones), and a development that two sources reported as two events counts once.
    """
    return _added_up(_reports(events), specs)


def _added_up(
    reports: Iterable[_Report], specs: Mapping[str, FigureSpec]
) -> dict[FigureKey, float]:
    totals: dict[FigureKey, float] = {}
    seen: dict[tuple, set[frozenset[str]]] = {}
    for report in reports:
        if _reported_before(report, seen):
            continue
        for key, value, _ in report.figures:
            how = specs[key[0]].aggregate if key[0] in specs else "sum"
            if key not in totals or how == "latest":
                totals[key] = value
            elif how == "sum":
                totals[key] += value
            else:
                totals[key] = max(totals[key], value)
    return totals


def _reported_before(report: _Report, seen: dict[tuple, set[frozenset[str]]]) -> bool:
    """Whether another source's event with the same day, category and figures was counted.

    Each distinct set of sources is kept once: a window of 100,000 events holds few, and
    comparing with every earlier event instead took minutes.
    """
    sources = report.sources
    if not sources:
        return False
    earlier = seen.setdefault(report.signature, set())
    if sources in earlier:  # a set is kept only if it shares a source with every one before it
        return False
    if any(not (sources & other) for other in earlier):
        return True
    earlier.add(sources)
    return False


def _figure_rows(
    shown: Sequence[_Report],
    previous: Mapping[FigureKey, float] | None,
    specs: Mapping[str, FigureSpec],
    trends: Mapping[FigureKey, tuple[TrendPoint, ...]],
) -> tuple[FigureTotal, ...]:
    totals = _added_up(shown, specs)
    order = list(specs)
    keys = sorted(
        totals,
        key=lambda k: (order.index(k[0]) if k[0] in order else len(order), k[0], k[2] or ""),
    )
    reporting: dict[FigureKey, list[tuple[str, FigureNote | None]]] = defaultdict(list)
    for report in shown:  # one pass, not one per key
        for key, _, note in report.figures:
            reporting[key].append((report.event.id, note))
    return tuple(
        _figure_row(key, totals[key], reporting[key], previous, specs, trends) for key in keys
    )


def _figure_row(
    key: FigureKey,
    value: float,
    reporting: Sequence[tuple[str, FigureNote | None]],
    previous: Mapping[FigureKey, float] | None,
    specs: Mapping[str, FigureSpec],
    trends: Mapping[FigureKey, tuple[TrendPoint, ...]],
) -> FigureTotal:
    """The row of one key figure; `reporting` are the ids and notes of the shown events that
    report it, oldest first."""
    name, unit, side = key
    notes = [note for _, note in reporting]
    spec = specs.get(name)
    return FigureTotal(
        name=name,
        label=_figure_label(name, side, specs),
        unit=unit or (spec.unit if spec else ""),
        value=value,
        previous=None if previous is None else previous.get(key, 0),
        qualifier=_total_qualifier([note.qualifier if note else None for note in notes]),
        side=side,
        upper=notes[0].upper if len(notes) == 1 and notes[0] else None,
        trend=trends.get(key, ()),
        event_ids=tuple(event_id for event_id, _ in reporting),
    )


def _figure_label(name: str, side: str | None, specs: Mapping[str, FigureSpec]) -> str:
    label = specs[name].label if name in specs else name.replace("_", " ").capitalize()
    return f"{label} ({side})" if side else label


def _agreed(values) -> str | None:
    """The one value every report gives, else None."""
    distinct = set(values)
    return distinct.pop() if len(distinct) == 1 else None


def _total_qualifier(qualifiers: Sequence[str | None]) -> str | None:
    """A total of estimates is an estimate: the shared qualifier, or "approximately" if mixed."""
    if not any(qualifiers):
        return None
    return _agreed(qualifiers) or "approximately"


def _daily_trends(
    reports: Sequence[_Report], specs: Mapping[str, FigureSpec], window: Window, days: int
) -> dict[FigureKey, tuple[TrendPoint, ...]]:
    """Each figure's value per local day over the `days` days ending with the window."""
    last_day = window.edition_date
    first_day = last_day - timedelta(days=days - 1)
    by_day: dict[date, list[_Report]] = defaultdict(list)
    for report in reports:
        moment = report.event.occurred_at
        day = moment.astimezone(window.zone).date()
        if first_day <= day <= last_day and moment < window.end:
            by_day[day].append(report)
    points: dict[FigureKey, list[TrendPoint]] = defaultdict(list)
    for day in sorted(by_day):
        for key, value in _added_up(by_day[day], specs).items():
            points[key].append(TrendPoint(day, value))
    return {key: tuple(found) for key, found in points.items()}


class _SourceList:
    """Numbers each distinct source once, in order of first citation."""

    def __init__(self) -> None:
        self.refs: dict[tuple, SourceRef] = {}

    def cite(self, event: Event) -> tuple[SourceRef, ...]:
        cited = []
        for source in event.sources:
            key = (source.name, source.url, source.title, source.published)
            if key not in self.refs:
                self.refs[key] = SourceRef(
                    len(self.refs) + 1, source.name, source.url, source.title, source.published
                )
            cited.append(self.refs[key])
        return tuple(cited)


def compose_brief(
    name: str,
    spec: BriefSpec,
    events: Sequence[Development],
    *,
    window: Window,
    generated_at: datetime,
    figure_specs: Mapping[str, FigureSpec],
    previous_events: Sequence[Development] | None = None,
    history_events: Sequence[Development] = (),
    series: Mapping[str, Sequence[tuple[date, float, str]]] | None = None,
    edition_number: int | None = None,
) -> Brief:
    """The brief for `window`: sections in the configured order, each with its `max_items`
    most important (then most recent) items and a count of the rest; key figures and
    `Brief.event_ids` hold every event of the window. Only the shown items' events are built
    whole.

    `previous_events` are the events of the window before; when given, key figures show
    the change against them and takeaways name what is new. `history_events` (the last
    TREND_DAYS days) give each key figure its daily trend; `series` holds the (day, value,
    source) points of imported series, of which the brief charts those its spec names.
    """
    shown = [e for e in select_events(events, spec) if window.start <= e.occurred_at < window.end]
    sources = _SourceList()
    sections = []
    by_category: dict[str, list[Development]] = {category: [] for category in spec.sections}
    for event in shown:
        by_category[event.category].append(event)
    for category, in_category in by_category.items():
        ranked = heapq.nsmallest(spec.max_items, in_category, key=lambda e: e.sort_key)
        items = tuple(
            Item(whole, sources.cite(whole), whole.occurred_at.astimezone(window.zone))
            for whole in (event.whole() for event in ranked)
        )
        heading = SECTION_HEADINGS.get(category, category.title())
        sections.append(Section(category, heading, items, len(in_category) - len(items)))
    sections = _numbered(sections)
    previous_selected = None if previous_events is None else select_events(previous_events, spec)
    previous = None
    if previous_selected is not None:
        previous = total_figures(previous_selected, figure_specs)
    reported = _reports(shown)
    history = _reports(select_events(history_events, spec))
    trends = _daily_trends(
        sorted([*history, *reported], key=lambda report: report.event.occurred_at),
        figure_specs,
        window,
        TREND_DAYS,
    )
    figures = _figure_rows(reported, previous, figure_specs, trends)
    return Brief(
        name=name,
        title=spec.title,
        window=window,
        generated_at=generated_at,
        takeaways=key_takeaways(sections, figures, previous_selected, spec.takeaways),
        figures=figures,
        sections=tuple(sections),
        sources=tuple(sources.refs.values()),
        event_ids=tuple(event.id for event in sorted(shown, key=lambda e: e.occurred_at)),
        series=series_trends(spec.series, series or {}, figure_specs),
        locale=spec.locale,
        publisher=spec.publisher,
        distribution=spec.distribution,
        logo=spec.logo,
        edition_number=edition_number,
    )


def series_trends(
    names: Sequence[str],
    points: Mapping[str, Sequence[tuple[date, float, str]]],
    specs: Mapping[str, FigureSpec],
) -> tuple[SeriesTrend, ...]:
    """The brief's configured series, in its order, labelled like figures; empty ones left out."""
    trends = []
    for name in names:
        found = sorted(points.get(name, ()))
        if not found:
            continue
        spec = specs.get(name)
        trends.append(
            SeriesTrend(
                name=name,
                label=spec.label if spec else name.replace("_", " ").capitalize(),
                unit=spec.unit if spec else "",
                source="; ".join(dict.fromkeys(source for _, _, source in found)),
                points=tuple(TrendPoint(day, value) for day, value, _ in found),
            )
        )
    return tuple(trends)


def _numbered(sections: list[Section]) -> list[Section]:
    """Items numbered 1…N through the brief, so takeaways can cite them."""
    numbered, number = [], 0
    for section in sections:
        items = []
        for item in section.items:
            number += 1
            items.append(replace(item, number=number))
        numbered.append(replace(section, items=tuple(items)))
    return numbered


# --- key takeaways: what changed, from the data ----------------------------------------------


def key_takeaways(
    sections: Sequence[Section],
    figures: Sequence[FigureTotal],
    previous_events: Sequence[Development] | None,
    limit: int,
) -> tuple[Takeaway, ...]:
    """Figures reported together, names new since the window before, developments per section.

    Deterministic and drawn only from the events: nothing a reader cannot trace to an item.
    The figures come first, but leave room for what is new and for the count.
    """
    items = [item for section in sections for item in section.items]
    if not items or limit == 0:
        return ()
    others = [_count_takeaway(sections, items)]
    if previous_events:
        others[:0] = _new_name_takeaway(items, previous_events)
    figure_lines = _figure_takeaways(figures, items)[: max(limit - len(others), 1)]
    return tuple([*figure_lines, *others][:limit])


def _figure_takeaways(figures: Sequence[FigureTotal], items: Sequence[Item]) -> list[Takeaway]:
    number_of = {item.event.id: item.number for item in items}
    category_of = {item.event.id: item.event.category for item in items}
    groups: dict[tuple[str, ...], list[FigureTotal]] = {}
    for figure in figures:
        groups.setdefault(figure.event_ids, []).append(figure)
    # A section shows at most `max_items`; a figure's other reports are counted, not cited.
    cited = {ids: [i for i in ids if i in number_of] for ids in groups}
    return [
        Takeaway(
            kind="figures",
            category=category_of[cited[ids][0]],
            item_numbers=tuple(sorted(number_of[i] for i in cited[ids])),
            figures=tuple(group),
        )
        for ids, group in groups.items()
        if cited[ids]
    ]


def _new_name_takeaway(
    items: Sequence[Item], previous_events: Sequence[Development]
) -> list[Takeaway]:
    known = {actor for event in previous_events for actor in event.actors}
    new: dict[str, list[Item]] = {}
    for item in items:
        for actor in item.event.actors:
            if actor not in known:
                new.setdefault(actor, []).append(item)
    if not new:
        return []
    names = sorted(new, key=lambda a: (-len(new[a]), new[a][0].number, a))
    shown = names[:_NEW_NAMES_SHOWN]
    return [
        Takeaway(
            kind="new",
            category=new[shown[0]][0].event.category,
            item_numbers=tuple(sorted({item.number for a in shown for item in new[a]})),
            names=tuple(shown),
            more_names=len(names) - len(shown),
        )
    ]


def _count_takeaway(sections: Sequence[Section], items: Sequence[Item]) -> Takeaway:
    named = Counter(actor for item in items for actor in item.event.actors)
    top = sorted(named, key=lambda a: (-named[a], a))[:3]
    return Takeaway(
        kind="count",
        category="",
        item_numbers=tuple(item.number for item in items),
        names=tuple(top),
        counts=tuple((section.heading, len(section.items) + section.more) for section in sections),
    )
