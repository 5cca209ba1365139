"""Select and group events into a brief: a plain data object, no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from briefing.config import BriefSpec, FigureSpec
from briefing.event import Event
from briefing.window import Window

SECTION_HEADINGS = {
    "military": "Military",
    "diplomatic": "Diplomatic",
    "aid": "Aid",
    "humanitarian": "Humanitarian",
    "other": "Other developments",
}


@dataclass(frozen=True)
class SourceRef:
    number: int
    name: str
    url: str | None


@dataclass(frozen=True)
class Item:
    event: Event
    refs: tuple[SourceRef, ...]
    local_time: datetime


@dataclass(frozen=True)
class Section:
    category: str
    heading: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class FigureTotal:
    name: str
    label: str
    unit: str
    value: float
    previous: float | None

    @property
    def change(self) -> float | None:
        return None if self.previous is None else self.value - self.previous


@dataclass(frozen=True)
class Brief:
    """Everything a template needs to show one edition of a brief."""

    name: str
    title: str
    window: Window
    generated_at: datetime
    takeaways: tuple[Item, ...]
    figures: tuple[FigureTotal, ...]
    sections: tuple[Section, ...]
    sources: tuple[SourceRef, ...]
    events: tuple[Event, ...] = field(repr=False)
    pending_review: tuple[str, ...] = ()  # ids of the window's events left out, awaiting review

    @property
    def edition_date(self) -> date:
        return self.window.edition_date


def select_events(events: Sequence[Event], spec: BriefSpec) -> list[Event]:
    """The events a brief shows: its sections' categories, then its tag and country filters."""
    chosen = [event for event in events if event.category in spec.sections]
    if spec.tags:
        chosen = [event for event in chosen if set(event.tags) & set(spec.tags)]
    if spec.countries:
        wanted = {country.upper() for country in spec.countries}
        chosen = [event for event in chosen if (event.location.country or "").upper() in wanted]
    return chosen


def total_figures(events: Sequence[Event], specs: Mapping[str, FigureSpec]) -> dict[str, float]:
    """Each figure added up over the events as its registry entry says (sum, max or latest)."""
    totals: dict[str, float] = {}
    for event in sorted(events, key=lambda e: e.occurred_at):
        for name, value in event.figures.items():
            how = specs[name].aggregate if name in specs else "sum"
            if name not in totals or how == "latest":
                totals[name] = value
            elif how == "sum":
                totals[name] += value
            else:
                totals[name] = max(totals[name], value)
    return totals


def _figure_rows(
    totals: Mapping[str, float],
    previous: Mapping[str, float] | None,
    specs: Mapping[str, FigureSpec],
) -> tuple[FigureTotal, ...]:
    order = list(specs)
    names = sorted(totals, key=lambda n: (order.index(n) if n in order else len(order), n))
    return tuple(
        FigureTotal(
            name=name,
            label=specs[name].label if name in specs else name.replace("_", " ").capitalize(),
            unit=specs[name].unit if name in specs else "",
            value=totals[name],
            previous=None if previous is None else previous.get(name, 0),
        )
        for name in names
    )


class _SourceList:
    """Numbers each distinct source once, in order of first citation."""

    def __init__(self) -> None:
        self.refs: dict[tuple[str, str | None], SourceRef] = {}

    def cite(self, event: Event) -> tuple[SourceRef, ...]:
        cited = []
        for source in event.sources:
            key = (source.name, source.url)
            if key not in self.refs:
                self.refs[key] = SourceRef(len(self.refs) + 1, source.name, source.url)
            cited.append(self.refs[key])
        return tuple(cited)


def compose_brief(
    name: str,
    spec: BriefSpec,
    events: Sequence[Event],
    *,
    window: Window,
    generated_at: datetime,
    figure_specs: Mapping[str, FigureSpec],
    previous_events: Sequence[Event] | None = None,
) -> Brief:
    """The brief for `window`: sections in the configured order, most important items first.

    `previous_events` are the events of the window before; when given, key figures show
    the change against them.
    """
    shown = [e for e in select_events(events, spec) if window.start <= e.occurred_at < window.end]
    sources = _SourceList()
    sections = []
    items_by_id: dict[str, Item] = {}
    for category in spec.sections:
        ranked = sorted((e for e in shown if e.category == category), key=lambda e: e.sort_key)
        items = []
        for event in ranked:
            item = Item(event, sources.cite(event), event.occurred_at.astimezone(window.zone))
            items.append(item)
            items_by_id[event.id] = item
        sections.append(
            Section(category, SECTION_HEADINGS.get(category, category.title()), tuple(items))
        )
    ranked_all = sorted(shown, key=lambda e: e.sort_key)
    previous = None
    if previous_events is not None:
        previous = total_figures(select_events(previous_events, spec), figure_specs)
    return Brief(
        name=name,
        title=spec.title,
        window=window,
        generated_at=generated_at,
        takeaways=tuple(items_by_id[e.id] for e in ranked_all[: spec.takeaways]),
        figures=_figure_rows(total_figures(shown, figure_specs), previous, figure_specs),
        sections=tuple(sections),
        sources=tuple(sources.refs.values()),
        events=tuple(sorted(shown, key=lambda e: e.occurred_at)),
    )
