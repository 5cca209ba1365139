"""Learn the category model's weights from labelled articles and say how well it generalises.

Each labelled development is cut from its article as `briefing ingest text` cuts it, read by
`briefing.ingest.model.features`, and paired with its hand label. Leave-one-part-out
cross-validation trains on all parts but one and scores the one left out: the honest estimate
of accuracy on text the model has not seen, printed beside the rules' score on the same part
(the rules were tuned on the parts, so theirs is not an unseen score). Then the model is
trained on all the parts and its weights written to briefing/ingest/category_model.json.

Needs scikit-learn (`pip install -e '.[train]'`); the package itself reads the weights with
plain Python. Usage: python tools/train_category_model.py [--parts tune heldout …] [--check]
(--check: cross-validate only, write nothing).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sklearn.feature_extraction import DictVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from briefing.config import Settings  # noqa: E402
from briefing.ingest.classify import lexicon_for  # noqa: E402
from briefing.ingest.model import MODEL_FILE  # noqa: E402
from briefing.ingest.text import find_developments  # noqa: E402
from tests.labelled_articles import load  # noqa: E402

PARTS = ["tune", "heldout", "heldout2", "heldout3", "heldout4"]
REGULARISATION = (
    3.0  # scikit-learn's C: larger fits the training text more closely (1–30 scored alike)
)
SMALLEST_WEIGHT = 0.01  # features whose weights are all smaller are left out of the file
CONFIDENCE_BANDS = (0.5, 0.7, 0.9)
OUTPUT = ROOT / "briefing" / "ingest" / MODEL_FILE


@dataclass(frozen=True)
class Row:
    part: str
    features: dict[str, float]
    label: str
    rules: str


def rows(parts: list[str]) -> list[Row]:
    """One row per labelled development that extraction finds, read as the extractor reads it."""
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings.model_validate(
            {"database_url": f"sqlite:///{folder}/b.db", "output_dir": folder}
        )
    lexicon = lexicon_for(settings)
    categories = list(settings.categories)
    found = []
    for part in parts:
        for article in load(part):
            groups = find_developments(article.text, lexicon, categories)
            texts = [" ".join(g.text.split()).lower() for g in groups]
            for development in article.developments:
                anchor = " ".join(development.anchor.split()).lower()
                group = next((g for g, t in zip(groups, texts, strict=True) if anchor in t), None)
                if group is None:
                    continue
                figures = {f.name: f.value for f in group.figures}
                ruled, read = lexicon.model_input(group.decided_from, categories, figures)
                found.append(Row(part, read, development.category, ruled.category))
    return found


def fit(training: list[Row]) -> tuple[DictVectorizer, LogisticRegression]:
    vectoriser = DictVectorizer()
    matrix = vectoriser.fit_transform([r.features for r in training])
    model = LogisticRegression(C=REGULARISATION, max_iter=5000)
    model.fit(matrix, [r.label for r in training])
    return vectoriser, model


def cross_validate(data: list[Row], parts: list[str]) -> None:
    """Per part left out: the model's accuracy, the rules' beside it; then whether the model's
    probability (the event's confidence) is earned."""
    judged: list[tuple[float, bool]] = []
    for part in parts:
        held = [r for r in data if r.part == part]
        vectoriser, model = fit([r for r in data if r.part != part])
        rows_read = vectoriser.transform([r.features for r in held])
        for probabilities, row in zip(model.predict_proba(rows_read), held, strict=True):
            best = int(probabilities.argmax())
            judged.append((float(probabilities[best]), model.classes_[best] == row.label))
        hits = sum(ok for _, ok in judged[-len(held) :])
        rules = sum(r.rules == r.label for r in held)
        print(
            f"{part}: model (not trained on it) {hits / len(held):.1%} ({hits}/{len(held)}); "
            f"rules {rules / len(held):.1%} ({rules}/{len(held)})"
        )
    right = sum(ok for _, ok in judged)
    print(f"leave-one-part-out: {right / len(judged):.1%} ({right}/{len(judged)})")
    edges = [0.0, *CONFIDENCE_BANDS, 1.01]
    for low, high in pairwise(edges):
        band = [ok for p, ok in judged if low <= p < high]
        share = f"{sum(band) / len(band):.0%}" if band else "-"
        print(f"  confidence [{low:g}, {min(high, 1):g}): right {share} of {len(band)}")


def export(data: list[Row], parts: list[str]) -> dict[str, object]:
    vectoriser, model = fit(data)
    categories = [str(c) for c in model.classes_]
    weights = {}
    for column, name in enumerate(vectoriser.get_feature_names_out()):
        row = [round(float(w), 3) for w in model.coef_[:, column]]
        if max(abs(w) for w in row) >= SMALLEST_WEIGHT:
            weights[str(name)] = row
    return {
        "categories": categories,
        "bias": [round(float(b), 3) for b in model.intercept_],
        "weights": dict(sorted(weights.items())),
        "trained_on": {"parts": parts, "developments": len(data), "C": REGULARISATION},
    }


def _one_feature_a_line(model: dict[str, object]) -> str:
    """JSON that a diff reads: one line per feature, so a retraining shows what moved."""
    weights = model["weights"]
    assert isinstance(weights, dict)
    head = {k: v for k, v in model.items() if k != "weights"}
    lines = [f"{json.dumps(name)}: {json.dumps(row)}" for name, row in weights.items()]
    body = json.dumps(head)[:-1] + ', "weights": {\n' + ",\n".join(lines) + "\n}}\n"
    json.loads(body)
    return body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", nargs="+", default=PARTS)
    parser.add_argument("--check", action="store_true", help="cross-validate only")
    args = parser.parse_args()
    data = rows(args.parts)
    cross_validate(data, args.parts)
    if not args.check:
        OUTPUT.write_text(_one_feature_a_line(export(data, args.parts)), encoding="utf-8")
        print(f"wrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
