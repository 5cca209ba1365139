"""Importing event files: every format, every kind of bad input, all or nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DEMO_EVENTS

GOOD = {
    "id": "e1",
    "occurred_at": "2024-10-26T03:00:00+03:00",
    "category": "military",
    "title": "Russia launches 116 drones",
    "figures": {"drones_launched": 116},
    "sources": [{"name": "Air Force", "url": "https://example.org/r"}],
}


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def _listed(cli) -> list[dict]:
    result = cli("events", "list", "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def stored_ids(cli) -> list[str]:
    return [event["id"] for event in _listed(cli)]


def test_demo_file_imports_and_lists(cli):
    result = cli("events", "import", DEMO_EVENTS, "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out) == {"valid": 8, "added": 8, "updated": 0, "dry_run": False}
    assert "ua-2024-10-26-air-attack" in stored_ids(cli)


def test_reimport_updates_instead_of_copying(cli, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [GOOD])
    cli("events", "import", path)
    changed = write_jsonl(tmp_path / "b.jsonl", [{**GOOD, "title": "Revised title"}])
    result = cli("events", "import", changed, "--json")
    assert json.loads(result.out)["updated"] == 1
    events = json.loads(cli("events", "list", "--json").out)
    assert [event["title"] for event in events] == ["Revised title"]


def test_json_array_jsonl_and_csv_give_the_same_event(cli, tmp_path):
    (tmp_path / "a.json").write_text(json.dumps([GOOD]))
    write_jsonl(tmp_path / "b.jsonl", [{**GOOD, "id": "e2"}])
    (tmp_path / "c.csv").write_text(
        "id,occurred_at,category,title,figures.drones_launched,sources.name,sources.url,"
        "location.country,actors\n"
        "e3,2024-10-26T03:00:00+03:00,military,Russia launches 116 drones,116,Air Force,"
        "https://example.org/r,UA,Russia;Ukraine\n"
    )
    result = cli("events", "import", "a.json", "b.jsonl", "c.csv")
    assert result.code == 0, result.err
    events = {event["id"]: event for event in json.loads(cli("events", "list", "--json").out)}
    assert set(events) == {"e1", "e2", "e3"}
    assert events["e3"]["figures"] == {"drones_launched": 116}
    assert events["e3"]["actors"] == ["Russia", "Ukraine"]
    assert events["e3"]["location"]["country"] == "UA"
    assert events["e3"]["sources"] == events["e1"]["sources"]
    assert events["e3"]["occurred_at"] == events["e1"]["occurred_at"]


def test_standard_input(cli):
    result = cli("events", "import", "-", stdin=json.dumps(GOOD) + "\n")
    assert result.code == 0, result.err
    assert stored_ids(cli) == ["e1"]


def test_missing_id_is_derived_stably(cli, tmp_path):
    record = {k: v for k, v in GOOD.items() if k != "id"}
    path = write_jsonl(tmp_path / "a.jsonl", [record])
    cli("events", "import", path)
    cli("events", "import", path)
    ids = stored_ids(cli)
    assert len(ids) == 1 and ids[0].startswith("2024-10-26-russia-launches-116-drones")


def test_time_without_zone_is_taken_in_the_configured_zone(cli, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{**GOOD, "occurred_at": "2024-10-26T03:00"}])
    cli("--config", _config(tmp_path, 'timezone = "Europe/Kyiv"'), "events", "import", path)
    events = json.loads(cli("events", "list", "--json").out)
    assert events[0]["occurred_at"] == "2024-10-26T00:00:00Z"


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text + "\n")
    return path


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"id": "x", "occurred_at": "2024-10-26"', "a.jsonl:2:"),
        ("[1, 2", "malformed JSON"),
    ],
)
def test_malformed_json_names_the_line(cli, tmp_path, content, expected):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + content + "\n")
    result = cli("events", "import", path)
    assert result.code == 1
    assert expected in result.err and "malformed JSON" in result.err
    assert stored_ids(cli) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"category": "militar"},
            "a.jsonl:2: category: 'militar' is not one of military, diplomatic",
        ),
        ({"title": None}, "a.jsonl:2: title:"),
        ({"occurred_at": "26/10/2024"}, "a.jsonl:2: occurred_at: '26/10/2024' is not a date"),
        ({"figures": {"drones_launched": "many"}}, "a.jsonl:2: figures: drones_launched: 'many'"),
        ({"importance": 9}, "a.jsonl:2: importance:"),
        ({"sources": [{"name": "x", "url": "file:///etc/passwd"}]}, "sources[0].url"),
    ],
)
def test_bad_record_names_file_line_and_field_and_stores_nothing(cli, tmp_path, change, message):
    second = {**GOOD, "id": "e2", **change}
    second = {key: value for key, value in second.items() if value is not None}
    path = write_jsonl(tmp_path / "a.jsonl", [GOOD, second])
    result = cli("events", "import", path)
    assert result.code == 1
    assert message in result.err
    assert "nothing was imported" in result.err
    assert stored_ids(cli) == []


def test_missing_required_field(cli, tmp_path):
    record = {key: value for key, value in GOOD.items() if key != "category"}
    path = write_jsonl(tmp_path / "a.jsonl", [record])
    result = cli("events", "import", path)
    assert result.code == 1
    assert "a.jsonl:1: category: required field is missing" in result.err


def test_duplicate_id_in_one_file(cli, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [GOOD, GOOD])
    result = cli("events", "import", path)
    assert result.code == 1
    assert "a.jsonl:2: id: 'e1' already appears at line 1" in result.err
    assert stored_ids(cli) == []


def test_bad_record_in_a_second_file_keeps_the_first_file_out_too(cli, tmp_path):
    good = write_jsonl(tmp_path / "good.jsonl", [GOOD])
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "occurred_at,category,title,figures.drones_launched\n2024-10-26,military,x,lots\n"
    )
    result = cli("events", "import", good, bad)
    assert result.code == 1
    assert "bad.csv:2: figures.drones_launched: 'lots' is not a number" in result.err
    assert stored_ids(cli) == []


def test_dry_run_validates_without_storing(cli):
    result = cli("events", "import", "--dry-run", DEMO_EVENTS)
    assert result.code == 0
    assert "8 valid events" in result.err
    assert stored_ids(cli) == []


def test_missing_file(cli):
    result = cli("events", "import", "nope.json")
    assert result.code == 1
    assert result.err.strip() == "error: nope.json: no such file"


def test_add_and_filter_by_category_and_window(cli):
    cli("events", "import", DEMO_EVENTS)
    result = cli(
        "events", "add", "--title", "Ceasefire talks", "--category", "diplomatic",
        "--occurred-at", "2024-10-27T09:00:00+00:00", "--figure", "killed=2",
        "--source", "Reuters|https://example.org/x", "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    added = json.loads(result.out)
    assert added["figures"] == {"killed": 2} and added["sources"][0]["name"] == "Reuters"
    listed = json.loads(cli("events", "list", "--since", "2024-10-27", "--json").out)
    assert [event["title"] for event in listed] == ["Ceasefire talks"]
    aid = json.loads(cli("events", "list", "--category", "aid", "--json").out)
    assert [event["id"] for event in aid] == ["ua-2024-10-26-us-package"]
    until = json.loads(cli("events", "list", "--until", "2024-10-26", "--json").out)
    assert len(until) == 8


def test_add_rejects_unknown_category(cli):
    result = cli(
        "events", "add", "--title", "x", "--category", "sports", "--occurred-at", "2024-10-27"
    )
    assert result.code == 1
    assert "--category: 'sports' is not one of" in result.err


def test_a_title_of_only_spaces_is_refused_not_stored_empty(cli, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{**GOOD, "title": " \n "}])
    result = cli("events", "import", path)
    assert result.code == 1
    assert "a.jsonl:1: title: String should have at least 1 character" in result.err
    assert cli("events", "list").code == 0


def test_figures_must_be_finite(cli, tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"occurred_at": "2024-10-26", "category": "aid", "title": "x", '
                    '"figures": {"aid_value_usd": NaN}}\n')  # fmt: skip
    result = cli("events", "import", path)
    assert result.code == 1
    assert "a.jsonl:1: figures: aid_value_usd: nan is not a finite number" in result.err
    added = cli("events", "add", "--title", "x", "--category", "aid", "--occurred-at",
                "2024-10-26", "--figure", "killed=inf")  # fmt: skip
    assert added.code == 1
    assert "--figure: killed: inf is not a finite number" in added.err


def test_add_names_the_flag_at_fault(cli):
    result = cli("events", "add", "--title", "x", "--category", "aid", "--occurred-at",
                 "2024-10-26", "--source", "Wire|ftp://example.org/x")  # fmt: skip
    assert result.code == 1
    assert result.err.startswith("error: --source: 'ftp://example.org/x' is not an http")


def test_csv_reports_every_bad_row(cli, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "occurred_at,category,title,figures.killed\n"
        "2024-10-26,military,a,lots\n"
        "2024-10-26,military,b,1,extra\n"
        "2024-10-26,sport,c,2\n"
    )
    result = cli("events", "import", path)
    assert result.code == 1
    assert "bad.csv:2: figures.killed: 'lots' is not a number" in result.err
    assert "bad.csv:3: more values than header columns" in result.err
    assert "bad.csv:4: category: 'sport' is not one of" in result.err
    assert "nothing was imported (3 bad records)" in result.err


def _briefing(tmp_path: Path, *args: str, stdin: bytes) -> subprocess.CompletedProcess:
    """`briefing ARGS…` as its own process, fed raw bytes on standard input."""
    env = {**os.environ, "BRIEFING_OUTPUT_DIR": str(tmp_path / "output")}
    return subprocess.run(
        [sys.executable, "-m", "briefing", *args],
        input=stdin, capture_output=True, cwd=tmp_path, env=env, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    "body", [json.dumps([GOOD]).encode(), json.dumps(GOOD).encode() + b"\n"], ids=["json", "jsonl"]
)
def test_a_byte_order_mark_on_standard_input_is_not_taken_for_csv(cli, tmp_path, body):
    result = _briefing(tmp_path, "events", "import", "-", "--json", stdin=b"\xef\xbb\xbf" + body)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["added"] == 1
    assert stored_ids(cli) == ["e1"]


@pytest.mark.parametrize(
    ("name", "content"),
    [("a.json", "[]"), ("a.jsonl", "\n\n"), ("a.csv", "occurred_at,category,title\n")],
)
def test_a_file_without_records_is_an_error_not_a_success(cli, tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    good = write_jsonl(tmp_path / "good.jsonl", [GOOD])

    result = cli("events", "import", good, path)

    assert result.code == 1
    assert result.err.strip() == f"error: {path}: no events found; nothing was imported"
    assert stored_ids(cli) == []


def test_empty_standard_input_is_an_error(tmp_path):
    result = _briefing(tmp_path, "events", "import", "-", stdin=b"")

    assert result.returncode == 1
    assert result.stderr.decode().strip() == "error: <stdin>: no events found; nothing was imported"


def test_a_csv_cut_off_inside_a_quoted_field_is_refused(cli, tmp_path):
    path = tmp_path / "cut.csv"
    path.write_text(
        "occurred_at,category,title,summary\n"
        "2024-10-26,military,Whole,complete\n"
        '2024-10-26,military,Cut,"this summary was cut off mid-'
    )

    result = cli("events", "import", path)

    assert result.code == 1
    assert result.err.strip() == f"error: {path}:3: malformed CSV: unexpected end of data"
    assert stored_ids(cli) == []


def test_a_bad_record_after_many_good_ones_still_stores_nothing(cli, tmp_path):
    records = [{**GOOD, "id": f"e{number}"} for number in range(2500)]
    records.append({**GOOD, "id": "last", "category": "sport"})
    path = write_jsonl(tmp_path / "many.jsonl", records)

    result = cli("events", "import", path)

    assert result.code == 1
    assert "many.jsonl:2501: category: 'sport' is not one of" in result.err
    assert "nothing was imported (1 bad record)" in result.err
    assert stored_ids(cli) == []


def test_a_large_json_array_is_read_in_pieces_and_errors_keep_their_line(cli, tmp_path):
    records = [{**GOOD, "id": f"e{number}", "summary": "x" * 200} for number in range(2000)]
    text = json.dumps(records, indent=1)
    path = tmp_path / "big.json"
    broken = text.removesuffix("\n }\n]") + ",\n }\n]"  # a trailing comma in the last record
    assert broken != text + ",\n }\n]"
    path.write_text(broken)
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(broken)

    malformed = cli("events", "import", path)
    path.write_text(text)
    imported = cli("events", "import", path, "--json")

    assert malformed.code == 1
    where = f"{expected.value.lineno}:{expected.value.colno}"
    assert malformed.err.strip() == f"error: {path}:{where}: malformed JSON: {expected.value.msg}"
    assert json.loads(imported.out) == {
        "valid": 2000,
        "added": 2000,
        "updated": 0,
        "dry_run": False,
    }


def test_import_is_all_or_nothing_on_each_database(cli, tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("BRIEFING_DATABASE_URL", database_url)
    first = write_jsonl(tmp_path / "a.jsonl", [GOOD, {**GOOD, "id": "e2"}])
    assert cli("events", "import", first).code == 0
    changed = [{**GOOD, "title": "Revised"}] + [{**GOOD, "id": f"n{n}"} for n in range(1500)]
    bad = {**GOOD, "id": "bad", "importance": 9}

    refused = cli("events", "import", write_jsonl(tmp_path / "b.jsonl", [*changed, bad]))
    kept = {
        event["id"]: event["title"] for event in json.loads(cli("events", "list", "--json").out)
    }
    accepted = cli("events", "import", write_jsonl(tmp_path / "c.jsonl", changed), "--json")

    assert refused.code == 1 and "b.jsonl:1502: importance:" in refused.err
    assert kept == {"e1": GOOD["title"], "e2": GOOD["title"]}
    assert json.loads(accepted.out) == {
        "valid": 1501,
        "added": 1500,
        "updated": 1,
        "dry_run": False,
    }
