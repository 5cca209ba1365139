"""A template folder formats data and nothing more: through the CLI, a template reaching for
Python internals is refused in one line, runs nothing, and leaves no edition or message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import DEMO_EVENTS

PAYLOADS = {
    "cycler": '{{ cycler.__init__.__globals__.os.popen("touch MARKER").read() }}',
    "joiner": '{{ joiner.__init__.__globals__.os.popen("touch MARKER").read() }}',
    "format": "{{ '{0.__class__.__mro__[1].__subclasses__}'.format(brief) }}{{ ''.__class__ }}",
    "mutation": "{{ brief.sections[0].items[0].event.figures.update({'killed': 0}) }}",
}


def hostile_folder(tmp_path: Path, name: str, payload: str) -> tuple[Path, Path]:
    folder = tmp_path / "templates"
    marker = tmp_path / "pwned"
    (folder / Path(name).parent).mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(payload.replace("MARKER", str(marker)))
    return folder, marker


def demo_store(cli) -> None:
    imported = cli("events", "import", DEMO_EVENTS)
    assert imported.code == 0, imported.err


@pytest.mark.parametrize("fmt", ["pdf", "html"])
@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_a_template_cannot_reach_python_internals(cli, tmp_path, monkeypatch, payload, fmt):
    demo_store(cli)
    folder, marker = hostile_folder(tmp_path, "brief.html", PAYLOADS[payload])
    monkeypatch.setenv("BRIEFING_TEMPLATE_DIR", str(folder))

    result = cli("generate", "--date", "2024-10-26", "--format", fmt)

    assert result.code == 1
    (line,) = result.err.strip().splitlines()
    assert line.startswith(f"error: {folder / 'brief.html'}:1: ")
    assert line.endswith(" object is unsafe.")
    assert not marker.exists(), "the command never ran"
    assert not (tmp_path / "output" / "briefs").exists()
    assert json.loads(cli("archive", "list", "--json").out) == []


def test_an_email_template_cannot_run_commands(cli, tmp_path, monkeypatch):
    demo_store(cli)
    made = cli("generate", "--date", "2024-10-26", "--json")
    assert made.code == 0, made.err
    edition = json.loads(made.out)["edition_id"]
    assert cli("subscribers", "add", "ann@example.org").code == 0
    folder, marker = hostile_folder(tmp_path, "email/brief.txt", PAYLOADS["cycler"])
    monkeypatch.setenv("BRIEFING_TEMPLATE_DIR", str(folder))

    result = cli("send", "--edition", edition, "--dry-run")

    assert result.code == 1
    assert f"{folder / 'email' / 'brief.txt'}:1: " in result.err
    assert "is unsafe." in result.err
    assert not marker.exists()
    assert not list((tmp_path / "output").glob("outbox/**/*.eml"))
