"""Extraction scored against articles labelled by hand (docs/codebook.md).

`tune` is what the rules were built on. Each held-out part was written after the method was
frozen and scored once; its misses were looked at afterwards, so a part is unseen only for
that one score, and then guards against regressions like `tune` does. Scored once, by the
rules:
- `heldout`, first freeze: category 78.2% (43/55), figures 85.4% (41/48);
- `heldout2`, second freeze: category 83.0% (44/53), figures 82.9% (34/41);
- `heldout3`, third freeze: category 82.4% (42/51), figures 85.4% (35/41);
- `heldout4`, fourth freeze: category 79.6% (43/54), figures 89.1% (41/46).
Since the fifth freeze the category comes from a model (tools/train_category_model.py); figures
come from the rules.
- `heldout5` (13 texts, 79 developments, written blind to the code while the model was being
  built), fifth freeze, the model's first unseen part: category 81.0% (64/79), figures 80.6%
  (58/72), noise 14.0%. The rules alone, scored on it afterwards for comparison, got 82.3%.
Since the sixth freeze the model is trained on all six parts, with codebook rules 2, 3, 4 and 6
deciding before it where they apply, so MEASURED below holds scores on its own training text:
they guard against the shipped weights and the code that reads text for them drifting apart,
not against text it has not seen. The estimate for unseen text is the training script's
leave-one-part-out score over the six parts, 91.9% (406/442); on `heldout5` alone 91.1%, where
the fifth freeze's single score was 81.0%: a part's misses, once seen, lift it.
- `heldout6` (13 texts, 80 developments, written blind to the code during the sixth round),
  sixth freeze, scored once: category 88.8% (71/80), figures 83.1% (59/71), noise 14.8%;
  right by confidence: 95% of 40 at 0.9 or more, 89% of 18 from 0.7 to 0.9.
Since the seventh freeze the model is trained on all seven parts, and MEASURED holds scores on
that training text; follow-on sentences join the development before them (noise on `heldout6`
14.8% → 3.8%). Leave-one-part-out over the seven parts: 92.1% (481/522).
- `heldout7` (12 texts, 73 developments, written blind to the code during the seventh round),
  seventh freeze, scored once: category 86.3% (63/73), figures 91.2% (52/57), noise 8.6%;
  right by confidence: 100% of 39 at 0.9 or more, 85% of 20 from 0.7 to 0.9.
Since the eighth freeze the model is trained on all eight parts, each category weighing as the
square root of its rarity, and a denial is a statement (codebook rule 4); MEASURED holds scores
on that training text. Leave-one-part-out over the eight parts: 92.3% (549/595).
- `heldout8` (12 texts, 79 developments, written blind to the code during the eighth round),
  eighth freeze, scored once: category 89.9% (71/79), figures 83.8% (62/74), noise 12.0%;
  right by confidence: 96% of 51 at 0.9 or more, 85% of 20 from 0.7 to 0.9.
- `heldout9` (12 texts, 73 developments, written blind to the code during the ninth round),
  ninth freeze, scored once: category 93.2% (68/73), figures 93.5% (58/62), noise 8.0%;
  right by confidence: 98% of 51 at 0.9 or more, 89% of 18 from 0.7 to 0.9. The first unseen
  part to meet both targets (category 90%, figures 85%); the four before it did not.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ingest_fixtures import make_settings
from tests.labelled_articles import ARTICLES, load, score

CATEGORIES = {"military", "diplomatic", "aid", "humanitarian", "other"}


# part: category accuracy and figure recall not to fall below, noise not to rise above.
# The category model was trained on all nine parts: these are scores on its training text.
MEASURED = {
    "tune": (0.99, 0.92, 0.01),
    "heldout": (1.00, 0.95, 0.01),
    "heldout2": (1.00, 0.95, 0.01),
    "heldout3": (1.00, 0.95, 0.02),
    "heldout4": (0.98, 0.95, 0.02),
    "heldout5": (0.96, 1.00, 0.04),
    "heldout6": (0.97, 0.97, 0.04),  # unseen once (sixth freeze: 0.888, 0.831, 0.148)
    "heldout7": (0.94, 0.92, 0.06),  # unseen once (seventh freeze: 0.863, 0.912, 0.086)
    "heldout8": (0.94, 0.91, 0.06),  # unseen once (eighth freeze: 0.899, 0.838, 0.120)
    "heldout9": (0.93, 0.93, 0.08),  # scored once, unseen, by the ninth freeze
}


@pytest.mark.parametrize(
    ("part", "texts", "developments"),
    [
        ("tune", 30, 150),
        ("heldout", 10, 50),
        ("heldout2", 10, 50),
        ("heldout3", 10, 50),
        ("heldout4", 10, 50),
        ("heldout5", 10, 50),
        ("heldout6", 10, 50),
        ("heldout7", 10, 50),
        ("heldout8", 10, 50),
        ("heldout9", 10, 50),
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
