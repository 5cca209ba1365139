"""What an import stores, on SQLite and PostgreSQL: each event as validated, found by search."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from briefing.event import Event
from briefing.store import Store
from briefing.store.search import plain, search_events

RICH = {
    "id": "rich",
    "occurred_at": "2024-10-26T03:00:00+03:00",
    "category": "military",
    "subtype": "air_attack",
    "title": "  Drones   strike the refinery at Novokuibyshevsk ",
    "summary": "Ukraïne's drones hit the refinery — fires reported.",
    "location": {"country": "RU", "place": "Novokuibyshevsk"},
    "actors": ["Ukraïne", "Russia"],
    "figures": {"drones_launched": 116, "share_percent": 45.5},
    "figure_notes": {
        "drones_launched": {"qualifier": "approximately", "side": "Russia"},
        "share_percent": {"unit": "%", "upper": 52},
    },
    "sources": [
        {"name": "Air Force", "title": "Overnight", "published": "2024-10-26"},
        {"name": "Wire", "url": "https://wire.example/1"},
    ],
    "importance": 4,
    "tags": ["energy"],
    "classification": {"confidence": 0.8, "scores": {"military": 3.0}, "notes": [None, "é"]},
}


def _import(cli, tmp_path: Path, records: list[dict]) -> dict:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    result = cli("events", "import", path, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_an_imported_event_reads_back_as_validated(cli, tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("BRIEFING_DATABASE_URL", database_url)
    monkeypatch.setenv("BRIEFING_TIMEZONE", "UTC")
    plain_record = {"occurred_at": "2024-10-26", "category": "aid", "title": "Aid package"}
    assert _import(cli, tmp_path, [RICH, plain_record])["added"] == 2

    listed = {event["id"]: event for event in json.loads(cli("events", "list", "--json").out)}
    context = {"zone": ZoneInfo("UTC")}
    for record in (RICH, plain_record):
        validated = Event.model_validate(record, context=context)
        expected = validated.model_copy(
            update={"occurred_at": validated.occurred_at.astimezone(UTC)}
        ).model_dump(mode="json")
        stored = listed[validated.id]
        assert {name: stored[name] for name in expected} == expected
        assert stored["review"]["state"] == "approved"


def test_search_follows_a_reimport_that_changes_a_title(cli, tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("BRIEFING_DATABASE_URL", database_url)
    _import(cli, tmp_path, [RICH])
    revised = {**RICH, "title": "Drones strike the oil depot", "summary": "Fires at the depot."}
    counts = _import(cli, tmp_path, [revised])

    store = Store(database_url)
    try:
        with store.session() as session:
            found = search_events(session, "depot")
            gone = search_events(session, "refinery")
    finally:
        store.dispose()
    assert gone == []
    assert counts == {"valid": 1, "added": 0, "updated": 1, "dry_run": False}
    assert [(hit.event_id, plain(hit.title)) for hit in found] == [
        ("rich", "Drones strike the oil depot")
    ]


@pytest.mark.parametrize("written_by", ["events import", "upsert"])
def test_after_events_are_written_a_window_is_read_through_the_time_index(
    cli, tmp_path, monkeypatch, written_by
):
    """Without statistics SQLite read a brief's window through the category or review-state
    index, i.e. every stored event of those categories, however short the window; the bulk
    import and the one-by-one writes (ingestion, `events add`) both leave statistics."""
    from datetime import datetime

    from sqlalchemy.dialects import sqlite

    from briefing.store.events import (
        _STORED_COLUMNS,
        APPROVED,
        PENDING,
        _window_query,
        upsert_events,
    )

    monkeypatch.setenv("BRIEFING_OUTPUT_DIR", str(tmp_path / "output"))
    days = [f"2024-10-{day:02d}T12:00:00+00:00" for day in range(1, 29)]
    records = [
        {**RICH, "id": f"e{n}", "occurred_at": days[n % 28], "category": ["military", "aid"][n % 2]}
        for n in range(400)
    ]
    url = f"sqlite:///{tmp_path / 'output' / 'briefing.db'}"
    if written_by == "events import":
        _import(cli, tmp_path, records)
    else:
        (tmp_path / "output").mkdir()
        store = Store(url)
        with store.session() as session:
            upsert_events(session, [Event.model_validate(record) for record in records])
        store.dispose()

    query = _window_query(
        datetime(2024, 10, 26, tzinfo=UTC),
        datetime(2024, 10, 27, tzinfo=UTC),
        ["military", "aid", "diplomatic"],
        [APPROVED, PENDING],
        _STORED_COLUMNS,
    )
    statement = str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    store = Store(url)
    try:
        with store.engine.connect() as connection:
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}").all()
    finally:
        store.dispose()
    assert "INDEX ix_events_occurred_at" in plan[0][-1]
