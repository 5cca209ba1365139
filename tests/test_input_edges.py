"""Inputs at the edges: times at the ends of the range, control characters, huge figures.

Each is refused in one line naming the field, with exit 1 and nothing stored, through the CLI
as a user runs it; stored text that predates the checks is printed escaped, never raw.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

GOOD = {
    "id": "e1",
    "occurred_at": "2024-10-26T03:00:00+03:00",
    "category": "military",
    "title": "Russia launches 116 drones",
    "sources": [{"name": "Air Force", "url": "https://example.org/r"}],
}


@pytest.fixture
def on_each_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI stores into a SQLite file and, when configured, PostgreSQL."""
    monkeypatch.setenv("BRIEFING_DATABASE_URL", database_url)
    return database_url


def one_line_error(result, code: int = 1) -> str:
    assert result.code == code, (result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    return lines[0]


def stored(cli) -> list[dict]:
    result = cli("events", "list", "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def import_one(cli, tmp_path: Path, record: dict):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({**GOOD, **record}) + "\n")
    return cli("events", "import", path)


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
def test_an_imported_time_at_the_end_of_the_range_is_refused(cli, tmp_path, moment):
    result = import_one(cli, tmp_path, {"occurred_at": moment})

    assert result.code == 1
    assert f"a.jsonl:1: occurred_at: {moment} is outside the supported range" in result.err
    assert "Traceback" not in result.err
    assert stored(cli) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("generate", "--format", "html", "--date", "9999-12-31"), "error: --date: 9999-12-31"),
        (("generate", "--format", "html", "--date", "0001-01-01"), "error: --date: 0001-01-01"),
        (("events", "list", "--since", "0001-01-01", "--until", "9999-12-31"), "error: --since:"),
        (("events", "list", "--until", "9999-12-31"), "error: --until: 9999-12-31"),
    ],
)
def test_a_window_at_the_end_of_the_range_is_refused_in_one_line(cli, args, message):
    line = one_line_error(cli(*args))

    assert line.startswith(message) and "outside the supported range" in line
    assert not list(Path("output").glob("briefs/**/*.*"))


def test_a_window_spanning_the_whole_range_still_generates(cli):
    result = cli("generate", "--format", "html", "--since", "0002-01-02", "--until", "9998-12-30")

    assert result.code == 0, result.err


def test_ingest_text_refuses_a_publication_time_out_of_range_and_a_file_url(cli, tmp_path):
    article = tmp_path / "a.txt"
    article.write_text("Russia launched 20 drones at Kyiv overnight, the air force said.\n")

    late = cli("ingest", "text", article, "--source", "Wire", "--published",
               "9999-12-31T23:00-12:00")  # fmt: skip
    local = cli("ingest", "text", article, "--published", "2024-10-26",
                "--url", "file:///etc/passwd")  # fmt: skip
    named = cli("ingest", "text", article, "--published", "2024-10-26", "--source", "Wire",
                "--url", "file:///etc/passwd")  # fmt: skip

    assert one_line_error(late).startswith("error: --published: 9999-12-31T23:00:00-12:00 is out")
    expected = "error: --url: 'file:///etc/passwd' is not an http or https address"
    assert one_line_error(local) == expected
    assert one_line_error(named) == expected
    assert stored(cli) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": "Drones\x00 over Kyiv"}, "title: control character U+0000 at position 7"),
        ({"summary": "ok\x1b]0;PWNED\x07"}, "summary: control character U+001B"),
        ({"actors": ["Russia", "Ukr\x00aine"]}, "actors[1]: control character U+0000"),
        ({"tags": ["a\x7f"]}, "tags[0]: control character U+007F"),
        ({"location": {"place": "Kyiv\x00"}}, "location.place: control character"),
        ({"sources": [{"name": "Air\x00Force"}]}, "sources[0].name: control character"),
        ({"sources": [{"name": "AF", "title": "T\x1b"}]}, "sources[0].title: control character"),
        ({"id": "e\x001"}, "id: control character"),
        ({"figures": {"killed\x00": 1}}, "figures.killed\\x00.[key]: control character"),
        ({"classification": {"why": "x\x9b"}}, "classification: control character U+009B"),
    ],
)
def test_control_characters_in_stored_text_are_refused_naming_the_field(
    cli, tmp_path, on_each_database, change, field
):
    result = import_one(cli, tmp_path, change)

    assert result.code == 1, result.err
    assert f"a.jsonl:1: {field}" in result.err
    assert "Traceback" not in result.err
    assert stored(cli) == []


def test_tab_and_newline_are_kept(cli, tmp_path, on_each_database):
    result = import_one(cli, tmp_path, {"location": {"place": "Kyiv\tcity"}, "tags": ["a\nb"]})

    assert result.code == 0, result.err
    event = stored(cli)[0]
    assert (event["location"]["place"], event["tags"]) == ("Kyiv\tcity", ["a\nb"])


def test_events_add_and_subscribers_add_refuse_a_nul_byte(cli, on_each_database):
    event = cli("events", "add", "--title", "Drones\x00", "--category", "military",
                "--occurred-at", "2024-10-26")  # fmt: skip
    person = cli("subscribers", "add", "ann@example.org", "--name", "Ann\x00Lee")

    assert one_line_error(event) == (
        "error: --title: control character U+0000 at position 7 (only tab and newline are allowed)"
    )
    assert one_line_error(person).startswith("error: --name: control character U+0000")
    assert stored(cli) == []
    assert json.loads(cli("subscribers", "list", "--json").out) == []


@pytest.mark.parametrize("value", ["1e16", "-1e308"])
def test_a_figure_beyond_the_documented_bound_is_refused(cli, tmp_path, value):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(GOOD)[:-1] + f', "figures": {{"aid_value_usd": {value}}}}}\n')

    result = cli("events", "import", path)
    added = cli("events", "add", "--title", "x", "--category", "aid", "--occurred-at",
                "2024-10-26", "--figure", f"killed={value}")  # fmt: skip

    assert result.code == 1
    assert "a.jsonl:1: figures: aid_value_usd:" in result.err
    assert "is beyond ±1e+15, the largest figure kept" in result.err
    assert one_line_error(added).startswith("error: --figure: killed:")
    assert stored(cli) == []


def test_a_figure_note_range_top_beyond_the_bound_is_refused(cli, tmp_path):
    notes = {"killed": {"qualifier": "up to", "upper": 1e300}}
    result = import_one(cli, tmp_path, {"figures": {"killed": 5}, "figure_notes": notes})

    assert result.code == 1
    assert "a.jsonl:1: figure_notes.killed.upper: 1e+300 is beyond ±1e+15" in result.err
    assert stored(cli) == []


def test_a_figure_at_the_bound_is_kept(cli, tmp_path):
    result = import_one(cli, tmp_path, {"figures": {"aid_value_usd": -1e15}})

    assert result.code == 0, result.err
    assert stored(cli)[0]["figures"] == {"aid_value_usd": -1e15}


def _store_raw_title(title: str) -> None:
    """A row as an older version stored it, before control characters were refused."""
    with sqlite3.connect("output/briefing.db") as connection:
        connection.execute("UPDATE events SET title = ?", (title,))


def test_stored_control_characters_are_escaped_in_tables_but_exact_in_json(cli, tmp_path):
    assert import_one(cli, tmp_path, {}).code == 0
    _store_raw_title("\x1b]0;PWNED\x07 [/bold] title")

    listed = cli("events", "list")
    as_json = stored(cli)

    assert listed.code == 0, listed.err
    assert "\x1b" not in listed.out and "\x07" not in listed.out
    assert "\\x1b]0;PWNED\\x07 [/bold] title" in listed.out
    assert as_json[0]["title"] == "\x1b]0;PWNED\x07 [/bold] title"


def test_messages_escape_control_characters(cli):
    result = cli("events", "import", "evil\x1b]0;PWNED\x07.json")

    assert one_line_error(result) == "error: evil\\x1b]0;PWNED\\x07.json: no such file"


def test_every_human_readable_print_goes_through_the_sanitiser():
    """Commands print through `echo`/`print_table` (briefing.cli.app), never around them."""
    root = Path(__file__).resolve().parent.parent / "briefing"
    printing = sorted((root / "cli").glob("*.py"))
    direct = [
        f"{path.name}:{number}"
        for path in printing
        if path.name != "app.py"  # where echo and print_table are defined
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if re.search(r"click\.echo\(|\bprint\(", line)
    ]
    assert direct == []


def test_a_stray_control_character_in_an_article_is_dropped_not_stored(cli, tmp_path):
    article = tmp_path / "a.txt"
    text = "Russia launched 20 drones at Kyiv overnight, the air force said on Saturday. "
    article.write_text(text.replace(",", ",\x1b") + text * 3 + "\n")  # too few to be binary

    result = cli("ingest", "text", article, "--source", "Wire", "--published", "2024-10-26")

    assert result.code == 0, result.err
    events = stored(cli)
    assert events and all("\x1b" not in json.dumps(event) for event in events)
    assert all("\\u001b" not in json.dumps(event) for event in events)
