"""The archive: files written whole, never overwritten, and checked against their records."""

from __future__ import annotations

import json
import os
import time
from datetime import date
from pathlib import Path

from briefing.archive import write_edition_file
from tests.conftest import DEMO_EVENTS

DAY = date(2024, 10, 26)


def test_second_edition_of_a_day_gets_its_own_name(tmp_path):
    first = write_edition_file(tmp_path, "daily", DAY, b"one", "pdf")
    second = write_edition_file(tmp_path, "daily", DAY, b"two", "pdf")
    assert first.relative == "briefs/daily/2024/daily-2024-10-26.pdf"
    assert second.relative == "briefs/daily/2024/daily-2024-10-26-2.pdf"
    assert first.path.read_bytes() == b"one" and second.path.read_bytes() == b"two"
    assert not list(tmp_path.rglob(".partial-*"))


def _generate_html(cli, *extra):
    result = cli("generate", "--date", "2024-10-26", "--format", "html", "--json", *extra)
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_verify_catches_a_changed_byte_and_a_missing_file(cli, tmp_path):
    cli("events", "import", DEMO_EVENTS)
    first = _generate_html(cli)
    second = _generate_html(cli)
    assert cli("archive", "verify").code == 0
    path = first["path"]
    data = bytearray(Path(path).read_bytes())
    data[len(data) // 2] ^= 1
    Path(path).write_bytes(bytes(data))
    result = cli("archive", "verify", "--json")
    assert result.code == 1
    problems = json.loads(result.out)["problems"]
    assert problems == [
        {"edition_id": first["edition_id"], "problem": f"altered: {_rel(path)} no longer "
         "matches its recorded SHA-256"}
    ]  # fmt: skip
    Path(second["path"]).unlink()
    result = cli("archive", "verify")
    assert result.code == 1
    assert f"edition {second['edition_id']}: missing" in result.err


def test_list_and_show(cli):
    cli("events", "import", DEMO_EVENTS)
    made = _generate_html(cli)
    listed = json.loads(cli("archive", "list", "--json").out)
    assert [item["edition_id"] for item in listed] == [made["edition_id"]]
    assert listed[0]["events"] == 8 and listed[0]["sha256"] == made["sha256"]
    shown = json.loads(cli("archive", "show", str(made["edition_id"]), "--json").out)
    assert shown["file"] == made["path"]
    missing = cli("archive", "show", "99")
    assert missing.code == 1 and missing.err.strip() == "error: no edition with id 99"


def _rel(path: str) -> str:
    return "output/" + path.split("/output/", 1)[1]


def test_leftovers_of_a_killed_write_are_swept(tmp_path):
    folder = tmp_path / "briefs" / "daily" / "2024"
    folder.mkdir(parents=True)
    stale = folder / ".partial-dead.pdf"
    stale.write_bytes(b"%PDF-half")
    fresh = folder / ".partial-writing.pdf"
    fresh.write_bytes(b"%PDF-in-progress")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    write_edition_file(tmp_path, "daily", DAY, b"whole", "pdf")
    assert not stale.exists()
    assert fresh.exists()
