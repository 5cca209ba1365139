"""Extraction scored against articles labelled by hand (docs/codebook.md).

`tune` is what the method was built on. Each held-out part was written after the method was
frozen and scored once; its misses were looked at afterwards, so a part is unseen only for
that one score, and then guards against regressions like `tune` does. Scored once:
- `heldout`, first freeze: category 78.2% (43/55), figures 85.4% (41/48);
- `heldout2`, second freeze: category 83.0% (44/53), figures 82.9% (34/41);
- `heldout3`, third freeze: category 82.4% (42/51), figures 85.4% (35/41);
- `heldout4`, fourth (current) freeze: category 79.6% (43/54), figures 89.1% (41/46).
On unseen text the issue's figure threshold (85%) is met and its category threshold (90%) is
not. The tests assert what was measured, so that they catch regressions without pretending
the threshold is met; raising them needs a better method and a new held-out part.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ingest_fixtures import make_settings
from tests.labelled_articles import ARTICLES, load, score

CATEGORIES = {"military", "diplomatic", "aid", "humanitarian", "other"}


# part: category accuracy and figure recall not to fall below, noise not to rise above
MEASURED = {
    "tune": (0.95, 0.91, 0.02),
    "heldout": (0.92, 0.93, 0.02),
    "heldout2": (0.94, 0.92, 0.02),
    "heldout3": (0.94, 0.90, 0.06),
    "heldout4": (0.79, 0.89, 0.04),  # scored once, unseen, by the current method
}


@pytest.mark.parametrize(
    ("part", "texts", "developments"),
    [
        ("tune", 30, 150),
        ("heldout", 10, 50),
        ("heldout2", 10, 50),
        ("heldout3", 10, 50),
        ("heldout4", 10, 50),
    ],
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


@pytest.mark.parametrize("part", list(MEASURED))
def test_scores_do_not_fall_below_what_was_measured(tmp_path: Path, part: str):
    category, figures, noise = MEASURED[part]
    scores = score(load(part), make_settings(tmp_path))
    assert scores.category_accuracy >= category, scores.summary()
    assert scores.figure_recall >= figures, scores.summary()
    assert scores.noise_share <= noise, scores.summary()


def test_every_labelled_article_file_is_listed():
    listed = {a.file for part in MEASURED for a in load(part)}
    on_disk = {str(p.relative_to(ARTICLES)) for p in ARTICLES.glob("*/*.txt")}
    assert on_disk == listed
