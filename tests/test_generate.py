"""`briefing generate` end to end: stored events in, an archived PDF a reader can use out."""

from __future__ import annotations

import json
from pathlib import Path

from pypdf import PdfReader

from tests.conftest import DEMO_EVENTS


def generate(cli, *args: str) -> dict:
    result = cli("generate", "--json", *args)
    assert result.code == 0, result.err
    return json.loads(result.out)


def pdf_text(path: str) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_demo_brief_is_a_complete_archived_pdf(cli, tmp_path):
    cli("events", "import", DEMO_EVENTS)
    made = generate(cli, "--date", "2024-10-26")
    path = Path(made["path"])
    assert path.is_file() and path.read_bytes().startswith(b"%PDF")
    assert path.parent == tmp_path / "output" / "briefs" / "daily" / "2024"
    assert made["events"] == 8 and made["pages"] == len(PdfReader(path).pages)
    text = pdf_text(made["path"])
    for expected in ("Key takeaways", "Military", "Diplomatic", "Aid", "Sources"):
        assert expected in text
    assert "South Korea summons the Russian ambassador" in text
    assert "116" in text and "400" in text


def test_default_window_runs_from_the_previous_edition(cli):
    cli("events", "import", DEMO_EVENTS)
    first = generate(cli, "--since", "2024-10-25", "--until", "2024-10-26T12:00:00+03:00")
    second = generate(cli)
    editions = {e["edition_id"]: e for e in json.loads(cli("archive", "list", "--json").out)}
    assert (
        editions[second["edition_id"]]["window_start"]
        == (editions[first["edition_id"]]["window_end"])
    )
    assert first["events"] == 4 and second["events"] == 4


def test_an_empty_window_still_yields_an_honest_brief(cli):
    made = generate(cli, "--date", "2024-10-26")
    assert made["events"] == 0 and made["pages"] >= 1
    text = pdf_text(made["path"])
    assert "Military" in text and "No " in text


def test_named_brief_with_sections_title_and_zone(cli, tmp_path):
    (tmp_path / "briefing.toml").write_text(
        '[briefs.aid-watch]\ntitle = "Aid Watch"\nsections = ["aid"]\ntimezone = "Europe/Kyiv"\n'
    )
    cli("events", "import", DEMO_EVENTS)
    made = generate(cli, "--brief", "aid-watch", "--date", "2024-10-26")
    assert made["events"] == 1
    assert "/briefs/aid-watch/2024/aid-watch-2024-10-26.pdf" in made["path"]
    text = pdf_text(made["path"])
    assert "Aid Watch" in text and "Europe/Kyiv" in text
    assert "Diplomatic" not in text
    unknown = cli("generate", "--brief", "nope")
    assert unknown.code == 1 and "unknown brief 'nope'" in unknown.err


def test_out_copies_and_html_format(cli, tmp_path):
    cli("events", "import", DEMO_EVENTS)
    made = generate(cli, "--date", "2024-10-26", "--out", str(tmp_path))
    assert (tmp_path / Path(made["path"]).name).read_bytes() == Path(made["path"]).read_bytes()
    html = generate(cli, "--date", "2024-10-26", "--format", "html")
    assert html["path"].endswith(".html")
    assert "<html" in Path(html["path"]).read_text().lower()


def test_plain_output_prints_the_path_only_on_stdout(cli):
    result = cli("--quiet", "generate", "--date", "2024-10-26")
    assert result.code == 0 and result.err == ""
    assert Path(result.out.strip()).is_file()


def test_figures_change_against_the_previous_window(cli):
    cli("events", "import", DEMO_EVENTS)
    earlier = Path.cwd() / "earlier.json"
    earlier.write_text(json.dumps([{
        "title": "Earlier attack", "category": "military",
        "occurred_at": "2024-10-25T03:00:00+03:00", "figures": {"drones_launched": 100},
        "figure_notes": {"drones_launched": {"side": "Russia"}},  # the demo's count is Russia's
    }]))  # fmt: skip
    cli("events", "import", str(earlier))
    (Path.cwd() / "briefing.toml").write_text('timezone = "Europe/Kyiv"\n')
    made = generate(cli, "--date", "2024-10-26")
    text = pdf_text(made["path"])
    assert "+16" in text.replace("\u2009", "").replace(" ", "")


def test_since_and_date_together_is_a_usage_error(cli):
    result = cli("generate", "--date", "2024-10-26", "--since", "2024-10-25")
    assert result.code == 2


def test_out_into_a_missing_folder_is_refused_before_anything_is_made(cli, tmp_path):
    result = cli("generate", "--date", "2024-10-26", "--out", str(tmp_path / "no" / "x.pdf"))
    assert result.code == 2
    assert "--out" in result.err and "does not exist" in result.err
    assert json.loads(cli("archive", "list", "--json").out) == []


def test_a_broken_partial_the_page_does_not_include_does_not_stop_a_brief(cli, tmp_path):
    """The renderer loads the template folder's partials before the brief arrives; one that
    does not compile, and that the page never includes, must not matter."""
    cli("events", "import", DEMO_EVENTS)
    mine = tmp_path / "mine"
    (mine / "partials").mkdir(parents=True)
    (mine / "partials" / "_draft.html").write_text("{% if %}")
    (tmp_path / "briefing.toml").write_text(f'template_dir = "{mine}"\n')

    result = cli("generate", "--date", "2024-10-26", "--json")

    assert result.code == 0, result.err
    assert json.loads(result.out)["pages"] >= 1


def test_a_broken_user_template_is_one_line_naming_the_folders(cli, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "brief.html").write_text('{% extends "default:brief.html" %}{% include "nope.html" %}')
    (tmp_path / "briefing.toml").write_text(f'template_dir = "{mine}"\n')
    result = cli("generate", "--date", "2024-10-26")
    assert result.code == 1
    assert result.err.startswith("error: template 'nope.html' not found; searched: ")
    assert str(mine) in result.err and len(result.err.strip().splitlines()) == 1
    assert json.loads(cli("archive", "list", "--json").out) == []
