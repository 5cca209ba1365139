"""Rendering: real WeasyPrint PDFs read back with pypdf, and the HTML they come from."""

from __future__ import annotations

import io
import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from briefing.brief.compose import Window
from briefing.document import render
from briefing.document.page import RenderedPdf, default_template_dir
from briefing.document.pdf import TemplateFolderFetcher
from briefing.errors import ConfigError
from tests.render_fixtures import (
    GENERATED_AT,
    SPEC,
    brief_of,
    empty_brief,
    event,
    figure_alternatives,
    many_events_brief,
    pdf_of,
    seed_brief,
    seed_events,
)

GOLDEN = Path(__file__).parent / "golden" / "brief.html"
# Read at import: the shared conftest clears BRIEFING_* variables before each test runs.
UPDATE_GOLDEN = os.environ.get("BRIEFING_UPDATE_GOLDEN") == "1"


def squash(text: str) -> str:
    """Text with every run of whitespace (line breaks, no-break spaces) as one space."""
    return " ".join(text.split())


def no_space(text: str) -> str:
    """Text without whitespace, for where pypdf may or may not put a space between blocks."""
    return "".join(text.split())


def pdf_text(data: bytes) -> str:
    return squash(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages))


def page_texts(data: bytes) -> list[str]:
    return [squash(page.extract_text()) for page in PdfReader(io.BytesIO(data)).pages]


def attachments(data: bytes) -> dict[str, list[bytes]]:
    return PdfReader(io.BytesIO(data)).attachments


@pytest.fixture(scope="module")
def seed_pdf() -> RenderedPdf:
    return pdf_of(seed_brief(), seed_events(), author="Kyiv desk")


# --- content -------------------------------------------------------------------------------


def test_sections_show_their_items_in_importance_then_time_order(seed_pdf):
    text = pdf_text(seed_pdf.data)
    military = text.index("Military 3 developments")
    diplomatic = text.index("Diplomatic 3 developments")
    aid = text.index("Aid 1 development")
    sources = text.index("Sources Each entry")
    assert military < diplomatic < aid < sources

    def titles_in(chunk: str, ids: list[str]) -> list[int]:
        by_id = {e.id: render.typographic(e.title) for e in seed_events()}
        return [chunk.index(by_id[i]) for i in ids]

    military_part = text[military:diplomatic]
    order = titles_in(military_part, ["air-attack", "dprk-troops", "deep-strike"])
    assert order == sorted(order)
    diplomatic_part = text[diplomatic:aid]
    order = titles_in(diplomatic_part, ["seoul-summons", "zelensky-call", "slovak-pm"])
    assert order == sorted(order)
    assert "Austin announces USD 400 million US arms package" in text[aid:sources]
    assert "Russia launches 116 drones" not in diplomatic_part
    assert "Russia launches 80 drones overnight" not in text  # before the window


def test_header_shows_title_edition_issuer_and_exact_coverage(seed_pdf):
    first_page = page_texts(seed_pdf.data)[0]
    assert first_page.startswith("Ukraine Situation Brief Edition Saturday, 26 October 2024")
    assert "Coverage 25 Oct 2024, 07:00 – 26 Oct 2024, 07:00 (Europe/Kyiv, UTC+03:00)" in first_page
    assert first_page.count("Issued 26 Oct 2024, 07:05 (UTC+03:00) by Kyiv desk") == 1


def test_publisher_edition_number_distribution_and_logo(tmp_path):
    (tmp_path / "logo.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20">'
        '<rect width="40" height="20" fill="#0b4f8a"/></svg>'
    )
    spec = SPEC.model_copy(
        update={
            "publisher": "Kyiv Analysis Desk",
            "distribution": "Partners only",
            "logo": "logo.svg",
        }
    )
    brief = replace(brief_of(seed_events(), spec=spec), edition_number=12)
    html = render.render_html(brief, template_dir=tmp_path)
    assert '<img class="logo" src="logo.svg" alt="Kyiv Analysis Desk">' in html
    made = pdf_of(brief, seed_events(), template_dir=tmp_path)
    first_page = page_texts(made.data)[0]
    assert first_page.startswith("KYIV ANALYSIS DESK Ukraine Situation Brief Edition No. 12, ")
    assert "Distribution Partners only" in first_page
    assert "by Kyiv Analysis Desk" in first_page
    assert "Kyiv Analysis Desk" in figure_alternatives(made.data)  # the logo, tagged


def test_what_an_analyst_forwards(seed_pdf):
    """Takeaways say what changed; no internal fields; cited sources; one number format."""
    text = pdf_text(seed_pdf.data)
    takeaways = text[text.index("Key takeaways") : text.index("KEY FIGURES")]
    titles = [render.typographic(e.title) for e in seed_events()]
    assert not [title for title in titles if title in takeaways]
    assert (
        "Drones launched (Russia): approximately 116, up from 80; drones destroyed (Ukraine): 59, "
        "down from 66; missiles launched (Russia): 3, none in the previous 24 hours. (item 1)"
    ) in takeaways
    assert "Military aid pledged: US$400 million, none in the previous 24 hours. (item 7)" in (
        takeaways
    )
    assert "7 developments: 3 military, 3 diplomatic, 1 aid" in takeaways
    for internal in ("Importance", "5/5", "importance", "classification", "air-attack"):
        assert internal not in text
    assert "WHEN 26 Oct, 03:00 WHERE Nationwide, Ukraine WHO Russia, Ukraine" in text
    figures = no_space(text[text.index("KEY FIGURES") : text.index("Military 3 developments")])
    assert no_space("APPROXIMATELY 116 Drones launched (Russia) ▲ +36") in figures
    assert no_space("59 Drones destroyed (Ukraine) ▼ −7") in figures
    assert no_space("US$400 million Military aid pledged") in figures
    assert "Military aid pledged: US$400 million" in text  # the item says it the same way
    assert not re.search(r"USD ?400 ?M\b|\$400M|400 ?bn", text.replace("USD 400 million US", ""))
    assert "Sources: [2] NATO press office; [3] Reuters" in text
    sources = text[text.index("Sources Each entry") :]
    entries = re.findall(r"\[(\d+)\] ([^\[]+)", sources)
    assert [int(number) for number, _ in entries] == list(range(1, 8))
    assert all(body.strip() and not body.startswith((",", ".")) for _, body in entries)
    assert (
        "[1] Ukrainian Air Force, “Results of the air defence overnight”, 26 Oct 2024, "
        "https://example.org/air-force/2024-10-26." in sources
    )
    long_url = next(
        e.sources[0].url for e in seed_events() if e.id == "seoul-summons" and e.sources[0].url
    )
    assert long_url in no_space(sources)
    assert "'" not in text.replace("'", "") and "NATO’s Rutte" in text


def test_an_item_without_a_summary_has_no_lone_reference():
    bare = event(
        {"occurred_at": "2024-10-25T12:00", "category": "aid", "title": "Convoy arrives",
         "sources": [{"name": "OCHA", "url": "https://example.org/ocha"}]}
    )  # fmt: skip
    text = pdf_text(pdf_of(brief_of([bare]), [bare]).data)
    assert "Convoy arrives WHEN 25 Oct, 12:00 Source: [1] OCHA" in text
    assert text[: text.index("Sources Each entry")].count("[1]") == 1


def test_every_page_has_its_number_of_all_pages():
    made = pdf_of(many_events_brief(60))
    pages = page_texts(made.data)
    assert made.pages == len(pages) > 3
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {made.pages}" in text
        assert text.count("Issued 26 Oct 2024, 07:05 (UTC+03:00) by briefing") == 1
    running_header = "Ukraine Situation Brief Saturday, 26 October 2024"
    assert running_header not in pages[0]  # the masthead stands alone on page one
    assert all(running_header in text for text in pages[1:])


def test_bookmarks_name_sections_without_counts(seed_pdf):
    outline = PdfReader(io.BytesIO(seed_pdf.data)).outline
    titles = [entry.title for entry in _flatten(outline)]
    assert {"Key takeaways", "Military", "Diplomatic", "Aid", "Sources"} <= set(titles)
    assert not [title for title in titles if "development" in title or "item" in title]


def _flatten(outline: list) -> list:
    return [
        entry
        for node in outline
        for entry in (_flatten(node) if isinstance(node, list) else [node])
    ]


def test_an_empty_section_says_so():
    military_only = [e for e in seed_events() if e.category == "military"]
    text = pdf_text(pdf_of(brief_of(military_only)).data)
    assert "Military 3 developments" in text
    assert "Diplomatic No diplomatic developments were recorded in this window." in text
    assert "Aid No aid developments were recorded in this window." in text


def test_a_window_without_events_is_a_valid_honest_brief():
    made = pdf_of(empty_brief())
    assert made.pages == 1
    text = pdf_text(made.data)
    assert "No events were recorded in this window" in text
    assert "Military, Diplomatic, Aid" in text
    assert "Key takeaways" not in text
    assert "Page 1 of 1" in text
    embedded = json.loads(attachments(made.data)["events.json"][0])
    assert embedded["events"] == []


# --- metadata and attachment -----------------------------------------------------------------


def test_pdf_metadata_names_title_author_and_creation_time(seed_pdf):
    metadata = PdfReader(io.BytesIO(seed_pdf.data)).metadata
    assert metadata.title == "Ukraine Situation Brief — 26 Oct 2024"
    assert metadata.author == "Kyiv desk"
    assert metadata.creation_date == GENERATED_AT


def test_pdf_embeds_the_events_as_json(seed_pdf):
    brief = seed_brief()
    files = attachments(seed_pdf.data)
    assert list(files) == ["events.json"]
    embedded = json.loads(files["events.json"][0])
    by_id = {event.id: event.model_dump(mode="json") for event in seed_events()}
    assert embedded["events"] == [by_id[event_id] for event_id in brief.event_ids]
    assert len(embedded["events"]) == 7
    assert embedded["brief"] == "daily"
    assert embedded["window"] == {
        "start": brief.window.start.isoformat(),
        "end": brief.window.end.isoformat(),
        "timezone": "Europe/Kyiv",
    }


# --- untrusted text and the URL fetcher --------------------------------------------------------


class _RecordingServer:
    """A real HTTP server on loopback that remembers every request it gets."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        recorded = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorded.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/css")
                self.end_headers()
                self.wfile.write(b"body::before { content: 'FETCHED-OVER-HTTP'; }")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture(scope="module")
def http_server() -> Iterator[_RecordingServer]:
    recorder = _RecordingServer()
    thread = threading.Thread(target=recorder.server.serve_forever, daemon=True)
    thread.start()
    yield recorder
    recorder.server.shutdown()
    recorder.server.server_close()


@pytest.fixture(scope="module")
def secret(tmp_path_factory) -> Path:
    """A file outside every template folder that the renderer must never read."""
    path = tmp_path_factory.mktemp("outside") / "secret.css"
    path.write_text("body::before { content: 'SECRET-4f1c9e'; }")
    return path


@pytest.fixture(scope="module")
def hostile_pdf(http_server, secret) -> RenderedPdf:
    hostile = event(
        {
            "id": "hostile",
            "occurred_at": "2024-10-25T12:00:00+03:00",
            "category": "military",
            "title": f'<img src="file://{secret}"> <script>alert(1)</script>',
            "summary": f'<img src="{http_server.url}/y"> '
            f'<link rel="stylesheet" href="file://{secret}"> '
            f'<link rel="attachment" href="file://{secret}"> done',
            "sources": [{"name": "Internal", "url": f"{http_server.url}/x"}],
            "importance": 5,
        }
    )
    return pdf_of(brief_of([hostile]), [hostile])


def test_hostile_event_text_is_shown_as_text(hostile_pdf, secret, http_server):
    text = no_space(pdf_text(hostile_pdf.data))  # long paths wrap anywhere
    assert no_space(f'<img src="file://{secret}"> <script>alert(1)</script>') in text
    assert no_space(f'<img src="{http_server.url}/y">') in text
    assert no_space(f'<link rel="attachment" href="file://{secret}"> done') in text


def test_hostile_event_text_reads_no_file(hostile_pdf):
    assert "SECRET-4f1c9e" not in pdf_text(hostile_pdf.data)
    assert list(attachments(hostile_pdf.data)) == ["events.json"]


def test_hostile_event_text_calls_no_address(hostile_pdf, http_server):
    assert http_server.url + "/x" in no_space(pdf_text(hostile_pdf.data))  # shown in Sources
    assert http_server.requests == []


def test_even_a_template_cannot_fetch_urls_or_outside_files(tmp_path, http_server, secret):
    """The fetcher, not only escaping, stops reads: a template asking for them gets nothing."""
    (tmp_path / "brief.html").write_text(
        '{% extends "default:brief.html" %}{% block head %}'
        f'<link rel="stylesheet" href="{http_server.url}/style.css">'
        f'<link rel="stylesheet" href="file://{secret}">'
        '<link rel="stylesheet" href="../outside/secret.css">'
        f'<link rel="attachment" href="file://{secret}">'
        f"<style>@import url({http_server.url}/import.css);</style>"
        "{% endblock %}"
        f'{{% block colophon %}}<img src="{http_server.url}/logo.png">'
        '<img src="file:///etc/passwd"><p>Template colophon</p>{% endblock %}'
    )
    made = pdf_of(seed_brief(), seed_events(), template_dir=tmp_path)
    text = pdf_text(made.data)
    assert "Template colophon" in text
    assert "SECRET-4f1c9e" not in text
    assert "FETCHED-OVER-HTTP" not in text
    assert list(attachments(made.data)) == ["events.json"]
    assert http_server.requests == []


@pytest.fixture
def fetcher(tmp_path) -> TemplateFolderFetcher:
    user = tmp_path / "user"
    (user / "img").mkdir(parents=True)
    (user / "img" / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path / "secret.txt").write_text("SECRET")
    (user / "escape.txt").symlink_to(tmp_path / "secret.txt")
    return TemplateFolderFetcher([user, default_template_dir()])


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "https://example.org/style.css",
        "ftp://example.org/file",
        "file:///etc/passwd",
        "FILE:///etc/passwd",
    ],
)
def test_fetcher_refuses_network_and_other_files(fetcher, url):
    with pytest.raises(PermissionError):
        fetcher.fetch(url)


def test_fetcher_refuses_paths_escaping_the_folder(fetcher, tmp_path):
    user = tmp_path / "user"
    with pytest.raises(PermissionError):
        fetcher.fetch(f"{user.as_uri()}/../secret.txt")
    with pytest.raises(PermissionError):
        fetcher.fetch(f"{user.as_uri()}/img/%2e%2e/%2e%2e/secret.txt")
    with pytest.raises(FileNotFoundError):
        fetcher.fetch(f"{user.as_uri()}/escape.txt")  # a symlink leading outside


def test_fetcher_serves_template_files_and_data_urls(fetcher, tmp_path):
    logo = fetcher.fetch(f"{(tmp_path / 'user').as_uri()}/img/logo.svg")
    assert logo.content_type == "image/svg+xml"
    assert logo.read().startswith(b"<svg")
    css = fetcher.fetch(f"{(tmp_path / 'user').as_uri()}/brief.css")  # falls back to defaults
    assert css.content_type == "text/css"
    assert b"@page" in css.read()
    assert fetcher.fetch("data:text/plain;base64,aGVsbG8=").read() == b"hello"


# --- templates -------------------------------------------------------------------------------


def test_a_user_partial_overrides_only_that_file(tmp_path):
    (tmp_path / "partials").mkdir()
    (tmp_path / "partials" / "_sources.html").write_text(
        "<p>Sources on request: {{ brief.sources|length }}</p>"
    )
    html = render.render_html(seed_brief(), template_dir=tmp_path)
    assert "<p>Sources on request: 7</p>" in html
    assert "Key takeaways" in html
    assert 'class="source-list"' not in html


def test_a_user_template_can_extend_the_default(tmp_path):
    (tmp_path / "brief.html").write_text(
        '{% extends "default:brief.html" %}'
        "{% block colophon %}<footer>Distributed by the Kyiv desk</footer>{% endblock %}"
    )
    html = render.render_html(seed_brief(), template_dir=tmp_path)
    assert "<footer>Distributed by the Kyiv desk</footer>" in html
    assert "Diplomatic" in html
    assert "Numbers in brackets in the items refer to this list." in html


def test_a_missing_template_names_every_folder_searched(tmp_path):
    (tmp_path / "brief.html").write_text('{% include "partials/_logo.html" %}')
    with pytest.raises(ConfigError) as caught:
        render.render_html(seed_brief(), template_dir=tmp_path)
    message = str(caught.value)
    assert "partials/_logo.html" in message
    assert str(tmp_path) in message
    assert str(default_template_dir()) in message


def test_a_template_error_names_file_and_line(tmp_path):
    (tmp_path / "brief.html").write_text("<p>\n{{ brief.titel }}</p>")
    with pytest.raises(ConfigError, match=r"brief\.html:2: .*titel"):
        render.render_html(seed_brief(), template_dir=tmp_path)
    (tmp_path / "brief.html").write_text("{% if %}")
    with pytest.raises(ConfigError, match=r"brief\.html:1: "):
        render.render_html(seed_brief(), template_dir=tmp_path)


def test_a_missing_template_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="template_dir"):
        render.render_html(seed_brief(), template_dir=tmp_path / "nope")


def test_strings_and_html_templates_are_escaped():
    environment = render.template_environment()
    assert environment.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"
    assert "&lt;script&gt;" in render.render_html(
        brief_of(
            [event({"occurred_at": "2024-10-25T12:00", "category": "aid", "title": "<script>"})]
        )
    )


# --- how numbers and times read -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "qualifier", "upper", "shown"),
    [
        (116, "", None, None, "116"),
        (116.0, "", "approximately", None, "approximately 116"),
        (12345, "", None, None, "12,345"),
        (2.5, "", None, None, "2.5"),
        (400_000_000, "USD", None, None, "US$400 million"),
        (1_250_000_000, "EUR", None, None, "€1.25 billion"),
        (750, "km", "about", None, "about 750 km"),
        (45, "%", None, 52, "45–52%"),
        (-0.0, "", None, None, "0"),
        (1e-300, "", None, None, "0"),
        (-1234.5, "", None, None, "−1,234.5"),
        (1e15, "", None, None, "1E15"),
        (-1.7976931348623157e308, "USD", None, None, "US$−1.8E308"),
    ],
)
def test_quantities_read_one_way_for_every_finite_number(value, unit, qualifier, upper, shown):
    assert squash(render.format_quantity(value, unit, qualifier, upper)) == shown


def test_formats_follow_the_brief_locale():
    assert squash(render.format_quantity(400_000_000, "USD", locale="de_DE")) == "$400 Millionen"
    assert render.format_time(datetime(2024, 10, 26, 7), "date", "de_DE") == "26. Okt. 2024"
    assert render.country_name("UA", "de_DE") == "Ukraine"
    assert render.country_name("KR", "en_GB") == "South Korea"


def test_changes_carry_a_sign_and_never_a_signed_zero():
    assert render.format_change(12) == "+12"
    assert render.format_change(-3) == "−3"
    for nothing in (0, -0.0, 1e-300, -1e-300):
        assert render.format_change(nothing) == "±0"
        assert render.change_direction(nothing) == "same"
    assert render.change_direction(-2e18) == "down"
    assert render.format_change(3e30) == "+3E30"


def test_typography_curls_quotes_without_making_markup():
    assert render.typographic('Ukraine\'s "bid" -- 5...') == "Ukraine’s “bid” — 5…"
    assert render.typographic("<b>x</b> 'y'") == "<b>x</b> ‘y’"


def test_window_lengths_read_naturally():
    assert render.format_span(timedelta(hours=24)) == "24 hours"
    assert render.format_span(timedelta(days=7)) == "7 days"
    assert render.format_span(timedelta(minutes=90)) == "90 minutes"


def test_coverage_in_utc_names_it_once():
    utc = ZoneInfo("UTC")
    window = Window(datetime(2024, 10, 26, tzinfo=utc), datetime(2024, 10, 27, tzinfo=utc), utc)
    assert render.coverage(window) == "26 Oct 2024, 00:00 – 27 Oct 2024, 00:00 (UTC)"


def test_coverage_names_both_offsets_across_a_clock_change():
    kyiv = ZoneInfo("Europe/Kyiv")
    window = Window(
        datetime(2024, 10, 26, 7, tzinfo=kyiv), datetime(2024, 10, 27, 7, tzinfo=kyiv), kyiv
    )
    assert render.coverage(window) == (
        "26 Oct 2024, 07:00 – 27 Oct 2024, 07:00 (Europe/Kyiv, UTC+03:00 → UTC+02:00)"
    )


# --- golden HTML -------------------------------------------------------------------------------


def normalise(html: str) -> str:
    """The markup only: no creation time, and the stylesheet (a file of its own) left out."""
    html = re.sub(r'(name="dcterms.created" content=")[^"]*', r"\1<created>", html)
    return re.sub(r"(<style[^>]*>).*?(</style>)", r"\1…\2", html, flags=re.DOTALL)


def test_html_matches_the_golden_file():
    html = normalise(render.render_html(seed_brief(), author="Kyiv desk"))
    if UPDATE_GOLDEN:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(html)
    assert GOLDEN.exists(), "no golden file: run with BRIEFING_UPDATE_GOLDEN=1 and review it"
    assert html == GOLDEN.read_text(), (
        "rendered HTML differs from tests/golden/brief.html; if the change is intended, "
        "regenerate with BRIEFING_UPDATE_GOLDEN=1 and review the diff"
    )


# --- trend charts ------------------------------------------------------------------------------


def test_a_figure_reported_on_several_days_gets_a_sparkline():
    history = [
        event({"occurred_at": f"2024-10-{day}T03:00:00+03:00", "category": "military",
               "title": f"Attack {day}", "figures": {"drones_launched": value},
               "figure_notes": {"drones_launched": {"side": "Russia"}}})
        for day, value in ((20, 40), (22, 90), (24, 60))
    ]  # fmt: skip
    brief = brief_of(seed_events(), previous=[], history=history)
    html = render.render_html(brief)
    chart = re.search(
        r'<svg class="trend"[^>]*aria-label="Drones launched \(Russia\), daily[^"]*"', html
    )
    assert chart and "from 40 to 116" in chart.group(0)
    assert html.count('<svg class="trend"') == 1  # the other figures have one day only


@pytest.mark.parametrize(
    "values", [(5, 5), (-1e15, 1e15), (1e-300, -0.0), (2e18, 3e18, -4e18), (7,)]
)
def test_a_sparkline_is_drawn_inside_its_box_for_any_finite_values(values):
    points = [
        SimpleNamespace(day=date(2024, 10, 26) - timedelta(days=n), value=value)
        for n, value in enumerate(values)
    ]
    chart = render.trend_chart(points, date(2024, 10, 26), 30)
    if len(values) < 2:
        assert chart["points"] == ""
        return
    for pair in chart["points"].split():
        x, y = (float(v) for v in pair.split(","))
        assert 0 <= x <= 120 and 0 <= y <= 28
