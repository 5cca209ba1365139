"""The category of a development from a linear model learned on the labelled articles.

The hand-written rules (`classify.py`) read a development well on the text they were tuned on
and about four times in five on text they had not seen: each new phrasing needed a new rule.
The model weighs every word of the development's first sentence (crudely stemmed, so
"condemns", "condemned" and "condemning" are one word) but those a negation governs, the main
predicate the rules found, its lexicon vote and the words before it (who acted), and the names
of its figures. Its weights are learned from
the labelled parts under tests/data/articles by `tools/train_category_model.py` and shipped as
`category_model.json`, read here by plain Python: no learning library at run time.

The words that pushed hardest towards the chosen category become the reason on the event.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

MODEL_FILE = "category_model.json"
LATER_SENTENCES = 0.3  # words after the first sentence count this much
REASON_FEATURES = 4
PREDICATE_SCALE = 3.0  # a predicate's lexicon weight (0–3) read as 0–1
_WORD = re.compile(r"[a-z][a-z'’-]+")
_STOP = frozenset(
    {
        *("the", "a", "an", "of", "and", "or", "to", "in", "on", "at", "by", "for", "with"),
        *("from", "as", "is", "was", "were", "be", "been", "has", "have", "had", "it", "its"),
        *("this", "that", "their", "his", "her", "they", "he", "she", "which", "who"),
        # reporting words are transparent (codebook): what is reported decides
        *("said", "says", "say", "told", "according", "reported", "added", "stated"),
    }
)
_SUFFIXES = ("ing", "ed", "es", "s")
_NEGATION = re.compile(r"\b(?:not|no|never|denied|deny|denies|denying|without|nor)\b|n't\b")
_CLAUSE_BREAK = re.compile(r"[,;:()]|\s(?:but|and|while|after)\s")


def _affirmed(sentence: str) -> str:
    """The sentence without what its negations govern, up to the clause's end (codebook, rule 5):
    "denied launching missiles, a spokesman said" → "denied , a spokesman said"."""
    kept = []
    at = 0
    for cue in _NEGATION.finditer(sentence):
        if cue.start() < at:
            continue
        kept.append(sentence[at : cue.end()])
        stop = _CLAUSE_BREAK.search(sentence, cue.end())
        at = stop.start() if stop else len(sentence)
    kept.append(sentence[at:])
    return " ".join(kept)


def stem(word: str) -> str:
    """A crude stem: one inflectional ending and a final "e" off ("condemns" → "condemn")."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word.rstrip("e")


def features(
    lead: str,
    rest: str,
    predicate: str | None,
    votes: dict[str, float],
    weak: bool,
    figures: Iterable[str],
) -> dict[str, float]:
    """What the model reads of a development: the words of its first sentence (`lead`) and,
    weighing less, of the others (`rest`), except what a negation governs; its main predicate,
    the category votes the lexicon gives that predicate, and the words before it (who acted);
    whether the lexicon found too little to go on (`weak`); the names of its figures.

    `Lexicon.model_input` reads a development through here, for the model and for its training.
    """
    found: dict[str, float] = {}
    lead = lead.lower()
    for word in _WORD.findall(_affirmed(lead)):
        if word not in _STOP:
            found[f"word:{stem(word)}"] = 1.0
    for category, weight in votes.items():
        if weight:
            found[f"predicate_votes:{category}"] = weight / PREDICATE_SCALE
    if weak:
        found["rules:weak"] = 1.0
    for word in _WORD.findall(_affirmed(rest.lower())):
        if word not in _STOP:
            name = f"word:{stem(word)}"
            found[name] = max(found.get(name, 0.0), LATER_SENTENCES)
    if predicate:
        verb = predicate.rstrip("*").lower()
        found[f"predicate:{stem(verb)}"] = 1.0
        where = re.search(rf"\b{re.escape(verb)}", lead)
        if where:
            for word in _WORD.findall(lead[: where.start()]):
                if word not in _STOP:
                    found[f"subject:{stem(word)}"] = 1.0
    for name in figures:
        parts = name.split("_")
        found[f"figure:{parts[0]}"] = 1.0
        found[f"figure_act:{parts[-1]}"] = 1.0
    return found


@dataclass(frozen=True)
class Prediction:
    """The model's category, its probability per category, and the features that decided it."""

    category: str
    probabilities: dict[str, float]
    evidence: list[str]

    @property
    def confidence(self) -> float:
        return self.probabilities[self.category]


@dataclass(frozen=True)
class CategoryModel:
    """A multinomial logistic regression: a weight per feature and category, and a bias."""

    categories: list[str]
    bias: list[float]
    weights: dict[str, list[float]]
    trained_on: dict[str, object]

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> CategoryModel:
        """The model from what `category_model.json` holds."""
        return cls(data["categories"], data["bias"], data["weights"], data["trained_on"])

    def predict(self, found: dict[str, float], allowed: Iterable[str]) -> Prediction | None:
        """The most probable of the allowed categories; None when the model knows none."""
        index = [i for i, c in enumerate(self.categories) if c in set(allowed)]
        if not index:
            return None
        logits = {i: self.bias[i] for i in index}
        for name, value in found.items():
            weights = self.weights.get(name)
            if weights:
                for i in index:
                    logits[i] += weights[i] * value
        top = max(logits.values())
        exps = {i: math.exp(v - top) for i, v in logits.items()}
        total = sum(exps.values())
        probabilities = {self.categories[i]: round(e / total, 3) for i, e in exps.items()}
        best = max(index, key=lambda i: logits[i])
        evidence = self._evidence(found, best, index)
        return Prediction(self.categories[best], probabilities, evidence)

    def _evidence(self, found: dict[str, float], best: int, index: list[int]) -> list[str]:
        """The features that favour the chosen category most over the average of the others."""
        others = [i for i in index if i != best]
        pull = {}
        for name, value in found.items():
            weights = self.weights.get(name)
            if weights:
                rest = sum(weights[i] for i in others) / len(others) if others else 0.0
                pull[name] = value * (weights[best] - rest)
        ranked = sorted((n for n, p in pull.items() if p > 0), key=lambda n: -pull[n])
        return ranked[:REASON_FEATURES]


@lru_cache(maxsize=1)
def shipped_model() -> CategoryModel:
    """The learned weights shipped with the package, read once."""
    data = json.loads(resources.files("briefing.ingest").joinpath(MODEL_FILE).read_text("utf-8"))
    return CategoryModel.from_record(data)


def describe(evidence: list[str], text: str, figures: Iterable[str]) -> str:
    """Features as a reviewer reads them, words as the text writes them: 'word "condemned"',
    'predicate "struck"', 'figure aid_value_usd'."""
    written = {stem(w): w for w in reversed(_WORD.findall(text.lower()))}
    names = list(figures)
    shown: dict[str, None] = {}
    for feature in evidence:
        kind, _, value = feature.partition(":")
        if kind in ("word", "subject", "predicate"):
            shown[f'{kind} "{written.get(value, value)}"'] = None
        elif kind == "predicate_votes":
            shown[f"a {value} predicate"] = None
        elif kind == "rules":
            shown["few lexicon terms"] = None
        else:
            position = 0 if kind == "figure" else -1
            name = next((n for n in names if n.split("_")[position] == value), value)
            shown[f"figure {name}"] = None
    return ", ".join(shown)
