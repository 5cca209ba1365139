"""Sort a development into a category with a weighted lexicon, keeping the reason for review.

The lexicon ships as `lexicon.toml` beside this module; `settings.lexicon` adds terms or
overrides weights per category. Names of parties and places are read from the same file.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from briefing.config import Settings

FALLBACK = "other"


@dataclass(frozen=True)
class Classification:
    """The chosen category and why: each category's score and the terms that made it."""

    category: str
    scores: dict[str, float]
    matched: dict[str, list[str]]

    @property
    def strength(self) -> float:
        return max(self.scores.values(), default=0.0)

    def confidence(self, min_score: float) -> float:
        """0–1: enough evidence (twice min_score) and a clear lead (min_score over the next).

        A development sent to the fallback category was not recognised: at most 0.5.
        """
        ranked = [*sorted(self.scores.values(), reverse=True), 0.0, 0.0]
        best, runner_up = ranked[0], ranked[1]
        if min_score <= 0:
            return 1.0 if best > runner_up else 0.5
        if self.category not in self.scores or best < min_score:
            return round(0.5 * max(0.0, 1 - best / min_score), 2)
        evidence = min(1.0, best / (2 * min_score))
        lead = min(1.0, (best - runner_up) / min_score)
        return round(evidence * lead, 2)

    def reasons(self, min_score: float) -> list[str]:
        """Why this category, in words a reviewer can check against the text."""
        ranked = sorted(self.scores.items(), key=lambda pair: -pair[1])
        lines = [
            f"{category} {score:g}: {', '.join(self.matched.get(category, []))}"
            for category, score in ranked
            if score
        ]
        if self.category not in self.scores or self.strength < min_score:
            lines.append(f"no category reached min_score {min_score:g}: {self.category}")
        return lines

    def as_record(self, min_score: float) -> dict[str, Any]:
        return {
            "method": "lexicon",
            "category": self.category,
            "min_score": min_score,
            "scores": self.scores,
            "matched": self.matched,
            "confidence": self.confidence(min_score),
            "reasons": self.reasons(min_score),
        }


@dataclass(frozen=True)
class Lexicon:
    """Weighted terms per category, figure votes, and the names of parties and places."""

    weights: dict[str, dict[str, float]]
    figure_votes: dict[str, dict[str, float]]
    min_score: float
    actors: dict[str, str]
    places: dict[str, str]
    terms: re.Pattern[str]
    group_terms: tuple[str, ...]
    actor_names: re.Pattern[str]
    place_names: re.Pattern[str]

    def classify(
        self, text: str, categories: Iterable[str], figures: Iterable[str] = ()
    ) -> Classification:
        """The best-scoring category among `categories`, or 'other' below min_score."""
        categories = list(categories)
        allowed = [c for c in categories if c != FALLBACK]
        scores = dict.fromkeys(allowed, 0.0)
        matched: dict[str, list[str]] = {c: [] for c in allowed}
        votes = [(t, self.weights[t]) for t in self.terms_in(text)]
        votes += [(f"figure:{f}", self.figure_votes[f]) for f in figures if f in self.figure_votes]
        for term, weights in votes:
            for category, weight in weights.items():
                if category in scores and weight:
                    scores[category] += weight
                    matched[category].append(term)
        scores = {c: round(s, 2) for c, s in scores.items()}
        best = max(allowed, key=lambda c: scores[c], default=FALLBACK)
        if not allowed or scores[best] < self.min_score:
            best = FALLBACK if FALLBACK in categories or not categories else categories[-1]
        return Classification(best, scores, {c: t for c, t in matched.items() if t})

    def terms_in(self, text: str) -> list[str]:
        """Distinct lexicon terms in the text, longest first where they overlap."""
        found: dict[str, None] = {}
        for match in self.terms.finditer(text):
            found[self.group_terms[match.lastindex or 0]] = None
        return list(found)

    def actors_in(self, text: str) -> list[str]:
        found: dict[str, None] = {}
        for match in self.actor_names.finditer(text):
            found[self.actors[match.group(0)]] = None
        return list(found)

    def place_in(self, text: str) -> tuple[str, str] | None:
        """The first named place and its country code."""
        match = self.place_names.search(text)
        return (match.group(0), self.places[match.group(0)]) if match else None


def _term_pattern(term: str) -> str:
    words = [re.escape(word) for word in term.rstrip("*").split()]
    tail = r"[\w'-]*" if term.endswith("*") else ""
    return r"\s+".join(words) + tail


def _compile_terms(terms: Iterable[str]) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """One pattern for all terms, longest first; group N of a match is term N."""
    ordered = sorted(terms, key=lambda t: (-len(t.rstrip("*")), t))
    body = "|".join(f"({_term_pattern(term)})" for term in ordered)
    pattern = re.compile(rf"(?<![\w-])(?:{body or '(?!)'})(?![\w-])", re.IGNORECASE)
    return pattern, ("", *ordered)


def _names_pattern(names: Iterable[str]) -> re.Pattern[str]:
    ordered = sorted(names, key=len, reverse=True)
    body = "|".join(re.escape(name) for name in ordered)
    return re.compile(rf"(?<![\w.-])(?:{body or '(?!)'})(?![\w-]|\.\w)")


@lru_cache(maxsize=1)
def shipped_lexicon() -> dict[str, Any]:
    """The lexicon file of the package, read once."""
    text = resources.files("briefing.ingest").joinpath("lexicon.toml").read_text("utf-8")
    return tomllib.loads(text)


def lexicon_for(settings: Settings) -> Lexicon:
    """The shipped lexicon with the user's `[lexicon.CATEGORY]` terms laid over it."""
    return _build(json.dumps(settings.lexicon, sort_keys=True))


@lru_cache(maxsize=8)
def _build(user_json: str) -> Lexicon:
    data = shipped_lexicon()
    per_category: dict[str, dict[str, float]] = {
        category: dict(terms) for category, terms in data["categories"].items()
    }
    for category, terms in json.loads(user_json).items():
        per_category.setdefault(category, {}).update(
            {term.lower(): weight for term, weight in terms.items()}
        )
    weights: dict[str, dict[str, float]] = {}
    for category, terms in per_category.items():
        for term, weight in terms.items():
            weights.setdefault(term.lower(), {})[category] = float(weight)
    terms, group_terms = _compile_terms(weights)
    actors = {alias: name for name, aliases in data["actors"].items() for alias in aliases}
    return Lexicon(
        weights=weights,
        figure_votes=data["figure_votes"],
        min_score=float(data["classify"]["min_score"]),
        actors=actors,
        places=data["places"],
        terms=terms,
        group_terms=group_terms,
        actor_names=_names_pattern(actors),
        place_names=_names_pattern(data["places"]),
    )
