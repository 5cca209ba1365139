"""A brief shows at most `max_items` per section, through the CLI as a user runs it: the most
important (then most recent) items, "and N more developments", every event still counted in
the key figures and attached as events.json."""

from __future__ import annotations

import io
import json
from pathlib import Path

from pypdf import PdfReader


def squash(text: str) -> str:
    return " ".join(text.split())


def military(number: int, importance: int) -> dict:
    return {
        "id": f"strike-{number:03d}",
        "occurred_at": f"2024-10-26T{number % 24:02d}:{number % 60:02d}:00+00:00",
        "category": "military",
        "title": f"Strike number {number} on the front",
        "summary": f"Report {number}.",
        "figures": {"killed": 1, "injured": number},  # distinct: not one story twice
        "importance": importance,
        "sources": [{"name": f"Wire {number}", "url": f"https://wire.example/{number}"}],
    }


EVENTS = [
    *(military(number, 5 if number in (7, 31) else 2) for number in range(40)),
    {
        "id": "talks",
        "occurred_at": "2024-10-26T09:00:00+00:00",
        "category": "diplomatic",
        "title": "Foreign ministers hold talks in Warsaw",
        "importance": 3,
    },
]


def generate(cli, tmp_path: Path, config: str = "") -> tuple[str, dict]:
    (tmp_path / "events.json").write_text(json.dumps(EVENTS))
    (tmp_path / "briefing.toml").write_text('timezone = "UTC"\n' + config)
    imported = cli("events", "import", tmp_path / "events.json")
    assert imported.code == 0, imported.err
    made = cli("generate", "--date", "2024-10-26", "--json")
    assert made.code == 0, made.err
    reader = PdfReader(io.BytesIO(Path(json.loads(made.out)["path"]).read_bytes()))
    text = squash(" ".join(page.extract_text() for page in reader.pages))
    (attached,) = reader.attachments["events.json"]
    return text, json.loads(attached)


def test_a_section_shows_its_max_items_and_counts_the_rest(cli, tmp_path):
    text, data = generate(cli, tmp_path, "[briefs.daily]\nmax_items = 5\n")

    assert "… and 35 more developments, all listed in the attached events.json" in text
    shown = [n for n in range(40) if f"Strike number {n} on" in text]
    assert {7, 31} <= set(shown), "the most important"
    assert len(shown) == 5
    assert set(shown) - {7, 31} == {21, 22, 23}, "then the most recent"
    assert "Foreign ministers hold talks" in text and "and 1 more development" not in text
    assert len(data["events"]) == 41, "the attachment holds every event"
    assert "KEYFIGURES40Killed" in "".join(text.split()), "key figures count every event"


def test_the_default_is_twelve_items_per_section(cli, tmp_path):
    text, data = generate(cli, tmp_path)

    assert "and 28 more developments" in text
    assert sum(f"Strike number {n} on" in text for n in range(40)) == 12
    assert len(data["events"]) == 41


def test_max_items_must_be_at_least_one(cli, tmp_path):
    (tmp_path / "briefing.toml").write_text("[briefs.daily]\nmax_items = 0\n")

    result = cli("generate", "--date", "2024-10-26")

    assert result.code == 1
    (line,) = result.err.strip().splitlines()
    assert line.startswith("error: briefing.toml: briefs.daily.max_items: ")
    assert not (tmp_path / "output" / "briefs").exists()


def test_a_window_of_many_events_attaches_each_once_in_time_order(cli, tmp_path):
    """Past the few hundred events the attachment is written in parts: every event is in it
    once, in time order, as stored, and the key figures still count them all."""
    many = [
        {**military(number, 1 + number % 5), "occurred_at": f"2024-10-26T{number % 24:02d}:"
         f"{number % 60:02d}:{number % 59:02d}+00:00", "id": f"many-{number:04d}"}
        for number in range(1234)
    ]  # fmt: skip
    (tmp_path / "events.json").write_text(json.dumps(many))
    (tmp_path / "briefing.toml").write_text('timezone = "UTC"\n')
    assert cli("events", "import", tmp_path / "events.json").code == 0
    made = cli("generate", "--date", "2024-10-26", "--json")
    assert made.code == 0, made.err
    reader = PdfReader(io.BytesIO(Path(json.loads(made.out)["path"]).read_bytes()))
    (attached,) = reader.attachments["events.json"]
    events = json.loads(attached)["events"]

    assert sorted(event["id"] for event in events) == sorted(event["id"] for event in many)
    times = [event["occurred_at"] for event in events]
    assert times == sorted(times)
    by_id = {record["id"]: record for record in many}
    assert all(event["title"] == by_id[event["id"]]["title"] for event in events)
    text = squash(" ".join(page.extract_text() for page in reader.pages))
    assert "1,234 developments" in text
