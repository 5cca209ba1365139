"""The brief as an analyst forwards it, end to end through the CLI: daily series imported and
charted, the shipped fonts embedded, an archival tagged PDF/A-3, a screen page, a fluid email."""

from __future__ import annotations

import email
import hashlib
import json
import re
from datetime import date, timedelta
from pathlib import Path

import pikepdf
import pytest
from pypdf import PdfReader

from briefing.document.page import default_template_dir
from tests.conftest import DEMO_EVENTS
from tests.render_fixtures import figure_alternatives

CONFIG = """
timezone = "Europe/Kyiv"
[briefs.daily]
title = "Ukraine Daily Brief"
publisher = "Kyiv Analysis Desk"
series = ["losses_tank", "losses_personnel"]
[figures.losses_tank]
label = "Tanks lost, claimed"
"""


def cumulative_file(path: Path, days: int = 40) -> Path:
    """A General Staff-shaped file: running totals a day, a qualifier, a day counter."""
    start = date(2024, 10, 26) - timedelta(days=days - 1)
    records = [
        {
            "date": (start + timedelta(days=n)).isoformat(),
            "day": 600 + n,
            "tank": 8000 + 3 * n + n % 4,
            "personnel": 680_000 + 1200 * n,
            "personnel*": "about",
        }
        for n in range(days)
    ]
    path.write_text(json.dumps(records))
    return path


@pytest.fixture
def demo(cli, tmp_path):
    (tmp_path / "briefing.toml").write_text(CONFIG)
    assert cli("events", "import", str(DEMO_EVENTS)).code == 0
    imported = cli(
        "series", "import", "--cumulative", "--prefix", "losses", "--exclude", "day",
        "--source", "General Staff of Ukraine (claims)", "--json",
        str(cumulative_file(tmp_path / "losses.json")),
    )  # fmt: skip
    assert imported.code == 0, imported.err
    return json.loads(imported.out)


def generate(cli, *args: str) -> dict:
    result = cli("generate", "--date", "2024-10-26", "--json", *args)
    assert result.code == 0, result.err
    return json.loads(result.out)


# --- series import -----------------------------------------------------------------------


def test_a_cumulative_file_becomes_daily_series(demo, cli):
    assert demo["series"] == ["losses_personnel", "losses_tank"]
    assert demo["points"] == 2 * 39 and demo["added"] == 78  # no change on the first day
    listed = json.loads(cli("series", "list", "--json").out)
    assert [(s["series"], s["days"]) for s in listed] == [
        ("losses_personnel", 39),
        ("losses_tank", 39),
    ]
    again = cli(
        "series", "import", "--prefix", "losses", "--exclude", "day", "--cumulative",
        "--source", "General Staff of Ukraine (claims)", "--json", "losses.json",
    )  # fmt: skip
    assert json.loads(again.out)["updated"] == 78 and json.loads(again.out)["added"] == 0


def test_a_bad_series_file_stores_nothing_and_names_record_and_field(cli, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"date": "2024-10-25", "tank": 5}, {"date": "26/10", "tank": 6},
                               {"date": "2024-10-27", "tank": True}]))  # fmt: skip
    result = cli("series", "import", "--source", "X", str(bad))
    assert result.code == 1
    assert "bad.json: record 2: date: '26/10' is not a date" in result.err
    assert "bad.json: record 3: tank: True is not a number" in result.err
    assert json.loads(cli("series", "list", "--json").out) == []
    missing = cli("series", "import", "--source", "X", str(tmp_path / "nope.json"))
    assert missing.code == 1 and "nope.json: file not found" in missing.err


# --- the PDF ------------------------------------------------------------------------------


@pytest.fixture
def demo_pdf(demo, cli) -> Path:
    return Path(generate(cli)["path"])


def test_the_brief_charts_each_configured_series_with_its_source(demo_pdf):
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(demo_pdf).pages)
    trends = text[text.index("30-DAY TRENDS") :]
    assert "Tanks lost, claimed, 26 Oct" in trends
    assert "Losses personnel, 26 Oct" in trends
    assert "1,200Losses personnel" in trends.replace(" Losses", "Losses")
    assert "36,000 over 30 days" in trends
    assert "Source: General Staff of Ukraine (claims)" in trends
    alternatives = figure_alternatives(demo_pdf.read_bytes())
    assert any(alt.startswith("Tanks lost, claimed, daily over 30 days") for alt in alternatives)


def test_the_pdf_embeds_exactly_the_shipped_fonts(demo_pdf):
    shipped = {TTFontName(path) for path in (default_template_dir() / "fonts").glob("*.otf")}
    embedded = set()
    with pikepdf.open(demo_pdf) as pdf:
        for page in pdf.pages:
            for font in page.Resources.Font.values():
                name = str(font.BaseFont).lstrip("/")
                embedded.add(name.split("+", 1)[1] if "+" in name else name)
                descriptor = font.DescendantFonts[0].FontDescriptor
                assert "/FontFile3" in descriptor or "/FontFile2" in descriptor  # embedded
    assert embedded == shipped == {"Inter", "Inter-Bold"}
    licence = default_template_dir() / "fonts" / "OFL.txt"
    assert "SIL OPEN FONT LICENSE" in licence.read_text().upper()


def TTFontName(path: Path) -> str:
    """The PostScript name WeasyPrint embeds: 'Inter' for the regular face, else 'Inter-Bold'."""
    from fontTools.ttLib import TTFont

    name = TTFont(path)["name"].getDebugName(6)
    return "Inter" if name == "Inter-Regular" else name


def test_the_pdf_is_tagged_pdf_a_3_with_its_events_as_an_associated_file(demo_pdf):
    with pikepdf.open(demo_pdf) as pdf:
        xmp = pdf.open_metadata()
        assert xmp["pdfaid:part"] == "3" and xmp["pdfaid:conformance"] == "A"
        assert pdf.Root.MarkInfo.Marked is True and "/StructTreeRoot" in pdf.Root
        assert str(pdf.Root.Lang) == "en-GB"
        assert "/OutputIntents" in pdf.Root
        associated = list(pdf.Root.AF)
        assert len(associated) == 1
        assert associated[0].AFRelationship == "/Data" and str(associated[0].UF) == "events.json"
        attached = pdf.attachments["events.json"].get_file()
        data = attached.read_bytes()
        assert len(json.loads(data)["events"]) == 8
        # what archival checkers compare: the file's declared size and MD5 are its own
        assert attached.size == len(data)
        assert attached.md5 == hashlib.md5(data).digest()


# --- the screen page and the email -------------------------------------------------------------


def test_an_html_edition_has_a_screen_stylesheet(demo, cli):
    html = Path(generate(cli, "--format", "html")["path"]).read_text()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert '<style media="screen">' in html and '<style media="print">' in html
    screen = html[html.index('<style media="screen">') :]
    assert "max-width: 44rem" in screen and "@media (max-width: 480px)" in screen


def test_the_email_is_fluid_previews_the_first_takeaway_and_sources_each_item(demo, cli):
    assert cli("subscribers", "add", "ann@example.org").code == 0
    edition = generate(cli)["edition_id"]
    sent = cli("send", "--edition", str(edition), "--dry-run", "--json")
    assert sent.code == 0, sent.err
    letter = email.message_from_bytes(next(Path("output/outbox").rglob("*.eml")).read_bytes())
    html = next(
        part.get_payload(decode=True).decode()
        for part in letter.walk()
        if part.get_content_type() == "text/html"
    )
    assert 'width="640"' not in html and "max-width: 640px" in html.replace(":640px", ": 640px")
    assert "@media screen and (max-width: 480px)" in html
    preheader = re.search(r'<div class="preheader"[^>]*>([^<]*)</div>', html)
    assert preheader and " ".join(preheader.group(1).split()).startswith(
        "Drones launched (Russia): approximately 116; drones destroyed (Ukraine): 59"
    )
    assert html.index("preheader") < html.index("Ukraine Daily Brief</h1>")
    html = " ".join(html.split())
    assert "The Ukrainian air force reports that approximately 116 combat drones" in html
    assert "Damage to civilian infrastructure" not in html  # the first sentence only
    assert "Source: General Staff of Ukraine (claims)" in html


def test_a_gap_in_running_totals_leaves_that_day_without_a_change(cli, tmp_path):
    path = tmp_path / "gap.json"
    path.write_text(json.dumps([
        {"date": "2024-10-20", "tank": 100}, {"date": "2024-10-21", "tank": 104},
        {"date": "2024-10-23", "tank": 110}, {"date": "2024-10-24", "tank": 109},
    ]))  # fmt: skip
    result = cli("series", "import", "--cumulative", "--source", "X", "--json", str(path))
    assert json.loads(result.out)["points"] == 2  # 21 Oct (+4) and 24 Oct (−1, a correction)


def test_an_unknown_locale_or_a_logo_outside_the_template_folder_is_refused(cli, tmp_path):
    (tmp_path / "briefing.toml").write_text('[briefs.daily]\nlocale = "xx_QQ"\n')
    result = cli("generate")
    assert result.code == 1
    assert "briefs.daily.locale: 'xx_QQ' is not a known locale" in result.err
    (tmp_path / "briefing.toml").write_text('[briefs.daily]\nlogo = "../secret.png"\n')
    result = cli("generate")
    assert result.code == 1 and "briefs.daily.logo" in result.err
