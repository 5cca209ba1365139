"""Briefs to render in tests: the seed article's developments, a large brief and an empty one."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pikepdf

from briefing.brief.compose import Brief, Window, compose_brief
from briefing.config import DEFAULT_FIGURES, BriefSpec
from briefing.document.page import RenderedPdf
from briefing.event import Event

KYIV = ZoneInfo("Europe/Kyiv")
WINDOW = Window(
    datetime(2024, 10, 25, 7, tzinfo=KYIV), datetime(2024, 10, 26, 7, tzinfo=KYIV), KYIV
)
GENERATED_AT = datetime(2024, 10, 26, 7, 5, tzinfo=KYIV)
SPEC = BriefSpec(title="Ukraine Situation Brief", timezone="Europe/Kyiv")

SEED_RECORDS: list[dict[str, Any]] = [
    {
        "id": "air-attack",
        "occurred_at": "2024-10-26T03:00:00+03:00",
        "category": "military",
        "title": "Russia launches 116 drones and three missiles overnight",
        "summary": "The Ukrainian Air Force reports 59 drones destroyed; damage to civilian "
        "infrastructure in several regions.",
        "location": {"country": "UA", "place": "Nationwide"},
        "actors": ["Russia", "Ukraine"],
        "figures": {"drones_launched": 116, "drones_destroyed": 59, "missiles_launched": 3},
        "figure_notes": {
            "drones_launched": {"qualifier": "approximately", "side": "Russia"},
            "drones_destroyed": {"side": "Ukraine"},
            "missiles_launched": {"side": "Russia"},
        },
        "sources": [
            {
                "name": "Ukrainian Air Force",
                "title": "Results of the air defence overnight",
                "published": "2024-10-26",
                "url": "https://example.org/air-force/2024-10-26",
            }
        ],
        "importance": 5,
    },
    {
        "id": "dprk-troops",
        "occurred_at": "2024-10-25T11:30:00+03:00",
        "category": "military",
        "title": "NATO's Rutte: North Korean troops may already be deployed to Russia",
        "summary": "After meeting South Korean President Yoon Suk Yeol, NATO Secretary General "
        "Mark Rutte said North Korean soldiers may already be in Russia to aid its forces.",
        "location": {"country": "BE", "place": "Brussels"},
        "actors": ["NATO", "North Korea", "South Korea", "Russia"],
        "sources": [
            {"name": "NATO press office", "url": "https://example.org/nato/opinions/230000.htm"},
            {"name": "Reuters", "url": "https://example.org/reuters/world/europe/nato-dprk"},
        ],
        "importance": 5,
    },
    {
        "id": "deep-strike",
        "occurred_at": "2024-10-26T01:15:00+03:00",
        "category": "military",
        "title": "Ukrainian drones strike ammunition plant and airfield 750 km inside Russia",
        "summary": "Ukraine reportedly struck an ammunition factory and a military airfield about "
        "750 km from the border; the extent of the damage is unclear.",
        "location": {"country": "RU"},
        "actors": ["Ukraine", "Russia"],
        "figures": {"distance_km": 750},
        "sources": [
            {"name": "Reuters", "url": "https://example.org/reuters/world/europe/nato-dprk"}
        ],
        "importance": 4,
    },
    {
        "id": "seoul-summons",
        "occurred_at": "2024-10-25T15:00:00+03:00",
        "category": "diplomatic",
        "title": "South Korea summons the Russian ambassador over North Korean deployment",
        "summary": "Seoul's foreign ministry demanded the immediate withdrawal of North Korean "
        "troops from Russia.",
        "location": {"country": "KR", "place": "Seoul"},
        "actors": ["South Korea", "Russia"],
        "sources": [
            {
                "name": "Ministry of Foreign Affairs of the Republic of Korea",
                "url": "https://example.org/mofa/eng/brd/m_5676/view.do?seq=321456&page=1"
                "&srchFr=&srchTo=&srchWord=&srchTp=&multi_itm_seq=0&itm_seq_1=0",
            }
        ],
        "importance": 4,
    },
    {
        "id": "zelensky-call",
        "occurred_at": "2024-10-25T20:00:00+03:00",
        "category": "diplomatic",
        "title": "Zelensky calls for a swift international response to Russia–North Korea "
        "cooperation",
        "summary": "In his evening address the president warned that passivity would let the "
        "alliance widen the war.",
        "location": {"country": "UA", "place": "Kyiv"},
        "actors": ["Volodymyr Zelensky"],
        "sources": [{"name": "Office of the President of Ukraine"}],
        "importance": 3,
    },
    {
        "id": "slovak-pm",
        "occurred_at": "2024-10-25T13:00:00+03:00",
        "category": "diplomatic",
        "title": "Slovak prime minister calls Ukraine's NATO membership bid dangerous",
        "summary": "He cautioned that membership could provoke a wider conflict rather than "
        "bring stability.",
        "location": {"country": "SK", "place": "Bratislava"},
        "actors": ["Slovakia", "NATO"],
        "sources": [{"name": "TASR", "url": "https://example.org/tasr/slovak-pm-nato"}],
        "importance": 2,
    },
    {
        "id": "us-package",
        "occurred_at": "2024-10-25T10:00:00+03:00",
        "category": "aid",
        "title": "Austin announces USD 400 million US arms package on fourth Kyiv visit",
        "summary": "The package includes armoured vehicles, additional ammunition and anti-tank "
        "weapons.",
        "location": {"country": "UA", "place": "Kyiv"},
        "actors": ["United States", "Lloyd Austin"],
        "figures": {"military_aid_usd": 400_000_000},
        "sources": [
            {"name": "U.S. Department of Defense", "url": "https://example.org/dod/release/400m"}
        ],
        "importance": 4,
    },
    {
        "id": "previous-day-attack",
        "occurred_at": "2024-10-24T23:00:00+03:00",
        "category": "military",
        "title": "Russia launches 80 drones overnight",
        "figures": {"drones_launched": 80, "drones_destroyed": 66},
        "figure_notes": {
            "drones_launched": {"side": "Russia"},
            "drones_destroyed": {"side": "Ukraine"},
        },
        "sources": [{"name": "Ukrainian Air Force"}],
    },
]


def event(record: dict[str, Any]) -> Event:
    return Event.model_validate(record, context={"zone": KYIV})


def seed_events() -> list[Event]:
    return [event(record) for record in SEED_RECORDS]


def brief_of(
    events: list[Event],
    *,
    spec: BriefSpec = SPEC,
    window: Window = WINDOW,
    previous: list[Event] | None = None,
    history: list[Event] | None = None,
) -> Brief:
    return compose_brief(
        "daily",
        spec,
        events,
        window=window,
        generated_at=GENERATED_AT,
        figure_specs=DEFAULT_FIGURES,
        previous_events=previous,
        history_events=history or (),
    )


def seed_brief() -> Brief:
    """The seed article's developments, with the day before for figure changes."""
    events = seed_events()
    return brief_of(events, previous=[e for e in events if e.occurred_at < WINDOW.start])


def many_events_brief(count: int) -> Brief:
    """`count` events spread over the window across the three default sections."""
    categories = ["military", "diplomatic", "aid"]
    step = (WINDOW.end - WINDOW.start) / count
    events = []
    for n in range(count):
        record = dict(SEED_RECORDS[n % 7])
        record.update(
            id=f"event-{n:04d}",
            category=categories[n % 3],
            occurred_at=(WINDOW.start + step * n + timedelta(seconds=1)).isoformat(),
            title=f"{record['title']} (report {n + 1})",
            importance=1 + n % 5,
        )
        events.append(event(record))
    return brief_of(events)


def empty_brief() -> Brief:
    return brief_of([])


def figure_alternatives(data: bytes) -> list[str]:
    """The /Alt text of every Figure in the PDF's structure tree (what a screen reader says)."""
    found = []
    with pikepdf.open(io.BytesIO(data)) as pdf:
        nodes = [pdf.Root.StructTreeRoot]
        while nodes:
            node = nodes.pop()
            if node.get("/S") == "/Figure" and "/Alt" in node:
                found.append(str(node.Alt))
            kids = node.get("/K")
            kids = kids if isinstance(kids, pikepdf.Array) else [kids]
            nodes.extend(kid for kid in kids if isinstance(kid, pikepdf.Dictionary))
    return found


def pdf_of(brief: Brief, events: Sequence[Event] = (), **options: Any) -> RenderedPdf:
    """The brief's PDF as `generate` makes it, carrying those of `events` the brief holds."""
    from briefing.document.pdf import render_pdf
    from briefing.edition_brief import events_document

    by_id = {event.id: event for event in events}
    held = [by_id[event_id] for event_id in brief.event_ids if event_id in by_id]
    return render_pdf(
        brief,
        events_json=lambda: events_document(brief, (event.as_json() for event in held)),
        **options,
    )
