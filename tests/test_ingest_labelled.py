"""Extraction scored against articles labelled by hand (docs/codebook.md).

`tune` is what the method was built on; `heldout` was written after the method was frozen
and scored once. The issue's threshold (category >= 90%, figures >= 85%) applies to the
held-out part. Scored once, the held-out part gave category 78.2% (43/55) and figures 85.4%
(41/48): figures meet the issue's threshold, the category does not. The test asserts what
was measured, so that it guards against regressions without pretending the threshold is met;
raising it needs a better method and a new held-out part, not tuning on this one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ingest_fixtures import make_settings
from tests.labelled_articles import ARTICLES, load, score

CATEGORIES = {"military", "diplomatic", "aid", "humanitarian", "other"}


HELD_OUT_CATEGORY = 0.78  # measured 43/55; the issue asks for 0.90
HELD_OUT_FIGURES = 0.85  # measured 41/48, as the issue asks


@pytest.mark.parametrize(
    ("part", "texts", "developments"), [("tune", 30, 150), ("heldout", 10, 50)]
)
def test_labelled_parts_are_large_and_anchored(part, texts, developments):
    articles = load(part)
    assert len(articles) >= texts
    assert sum(len(a.developments) for a in articles) >= developments
    labels = {d.category for a in articles for d in a.developments}
    assert labels == CATEGORIES
    for article in articles:
        text = " ".join(article.text.split()).lower()
        for development in article.developments:
            assert " ".join(development.anchor.split()).lower() in text, development.anchor


def test_tuning_part_does_not_regress(tmp_path: Path):
    scores = score(load("tune"), make_settings(tmp_path))
    assert scores.category_accuracy >= 0.94, scores.summary()
    assert scores.figure_recall >= 0.89, scores.summary()
    assert scores.noise_share <= 0.02, scores.summary()
    assert scores.found == scores.developments - 1, scores.summary()


def test_held_out_part_scores(tmp_path: Path):
    scores = score(load("heldout"), make_settings(tmp_path))
    assert scores.category_accuracy >= HELD_OUT_CATEGORY, scores.summary()
    assert scores.figure_recall >= HELD_OUT_FIGURES, scores.summary()


def test_every_labelled_article_file_is_listed():
    listed = {a.file for part in ("tune", "heldout") for a in load(part)}
    on_disk = {str(p.relative_to(ARTICLES)) for p in ARTICLES.glob("*/*.txt")}
    assert on_disk == listed
