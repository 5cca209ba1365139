"""An HTML article ingested by a fresh `python -m briefing`, as a user runs it: every module
the HTML extraction imports (trafilatura, jusText, lxml_html_clean) must be installed with
briefing, so an undeclared dependency fails here rather than on a user's first page."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.ingest_fixtures import article_html


def test_an_html_article_is_ingested_by_a_fresh_process(tmp_path):
    page = tmp_path / "page.html"
    page.write_text(
        article_html(
            "Overnight attack",
            "Russia launched 40 drones at Odesa overnight, the air force said.",
        )
    )
    done = subprocess.run(
        [
            *(sys.executable, "-m", "briefing", "ingest", "text", str(page)),
            *("--published", "2024-10-26", "--source", "Wire", "--dry-run", "--json"),
        ],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "BRIEFING_OUTPUT_DIR": str(tmp_path / "output")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    (event,) = json.loads(done.stdout)
    assert (event["category"], event["figures"]) == ("military", {"drones_launched": 40.0})
