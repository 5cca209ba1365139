"""Sort a development into a category, keeping the reason for review.

Two readers: rules over a weighted lexicon (the clause's main predicate and its terms), which
also cut an article into developments, and a linear model learned from the labelled articles
(`model.py`), which decides an event's category from its words, that predicate and its figures.
The lexicon ships as `lexicon.toml` beside this module; `settings.lexicon` adds terms or
overrides weights per category, and where one of the user's terms is in a development the rules
decide it, so that the user's table keeps its say. Names of parties and places are read from
the same file.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from typing import Any

from briefing.config import Settings
from briefing.ingest.figures import first_money
from briefing.ingest.model import describe, features, shipped_model

FALLBACK = "other"
RULES = "predicate+lexicon"
MODEL = "linear model"
PREDICATE_FACTOR = 3.0
OPENING = 0.6  # a speaker's verb this early makes the sentence a statement ("X said that…")
LOOK_BACK = 200  # characters before a verb searched for its negation, subject and speaker
LATER_SENTENCES = 0.5
_SENTENCE_END = re.compile(r"(?<=[a-z\d%)\"”’][.!?])\s+(?=[A-Z\d\"“])|(?<=;)\s+")
_NEGATED = re.compile(
    r"\b(?:not|no|never|denied|deny|denies|denying|without|nor)\s+(?:\w+\s+){0,2}$|n't\s+$",
    re.IGNORECASE,
)
_SUBORDINATE = re.compile(
    r"\b(?:which|who|whom|whose|after|since|amid|following|before|despite|when|while|"
    r"because|although|though|if|unless)\b",
    re.IGNORECASE,
)
_EARLIER_EVENT = re.compile(
    r"^\s*(?:that\s+)?(?:the|this|that|such|these|russia's|moscow's)\s+(?:\w+\s+)?"
    r"(?:attacks?|strikes?|incursion|shelling|bombing|aggression|offensive)\b",
    re.IGNORECASE,
)
# Where a sentence turns to background: its words weigh as little as a later sentence's.
_BACKGROUND = re.compile(
    r",\s+(?:citing|amid|after|despite|which|who|while|following|because|saying|adding|as|"
    r"(?!including\b)[a-z]{3,}ing)\b"
    r"|\s+(?:amid|despite|because of|hours after|days after|weeks after)\s",
    re.IGNORECASE,
)
_CLAUSE_START = re.compile(r"[,;:(]|\b(?:and|but)\s+$")


@dataclass(frozen=True)
class Classification:
    """The chosen category and why: scores, matched terms, the deciding predicate, in words."""

    category: str
    scores: dict[str, float]
    matched: dict[str, list[str]]
    reasons: list[str] = field(default_factory=list)
    confidence: float = 0.0
    predicate: str | None = None
    method: str = RULES
    probabilities: dict[str, float] = field(default_factory=dict)
    rules_category: str | None = None
    predicate_votes: dict[str, float] = field(default_factory=dict)
    edge_rule: str | None = None  # a codebook edge rule that decided, which the model obeys

    @property
    def strength(self) -> float:
        return max(self.scores.values(), default=0.0)

    def as_record(self, min_score: float) -> dict[str, Any]:
        record = {
            "method": self.method,
            "category": self.category,
            "confidence": self.confidence,
            "reasons": self.reasons,
            "predicate": self.predicate,
            "min_score": min_score,
            "scores": self.scores,
            "matched": self.matched,
        }
        if self.method == MODEL:
            record["probabilities"] = self.probabilities
            record["rules_category"] = self.rules_category
        return record


@dataclass(frozen=True)
class _Predicate:
    term: str
    start: int
    end: int
    weights: dict[str, float]
    edge_rule: str | None = None


@dataclass(frozen=True)
class Lexicon:
    """Weighted terms and predicates per category, and the names of parties and places."""

    weights: dict[str, dict[str, float]]
    figure_votes: dict[str, dict[str, float]]
    min_score: float
    actors: dict[str, str]
    places: dict[str, str]
    terms: Terms
    actor_names: re.Pattern[str]
    place_names: re.Pattern[str]
    predicate_weights: dict[str, dict[str, float]]
    predicates: Terms
    reporting: Terms
    speakers: Terms
    protected: Terms
    user_terms: Terms

    def decide(
        self, text: str, categories: Iterable[str], figures: Iterable[str] = ()
    ) -> Classification:
        """An event's category: the learned model's, with the rules' predicate in the reason.

        The rules decide instead where a codebook rule settles it (an attack on relief is
        humanitarian, a statement diplomatic, an evacuation humanitarian, money given aid: the
        codebook says so whatever the topic words, and the model has seen too few of some
        to learn it; see `_codebook_rule`), where a term or
        predicate of the user's `[lexicon]` is in the text (their table is how a user corrects
        the category), or where the model knows none of the allowed categories.
        """
        categories, figures = list(categories), list(figures)
        ruled, found = self.model_input(text, categories, figures)
        if ruled.edge_rule:
            ruled.reasons.append(f"{ruled.edge_rule} decides, not the model")
            return ruled
        counted = _codebook_rule(text, figures, ruled)
        if counted is not None and counted[0] in categories:
            category, rule = counted
            reasons = [*ruled.reasons, f"{rule} → {category}, not the model"]
            return replace(
                ruled, category=category, reasons=reasons, confidence=0.9, edge_rule=rule
            )
        own = self.user_terms.search(" ".join(text.split()))
        if own is not None:
            ruled.reasons.append(f'your lexicon has "{own.term}": the rules decide')
            return ruled
        predicted = shipped_model().predict(found, categories)
        if predicted is None:
            return ruled
        reasons = [r for r in ruled.reasons if not r.startswith(("terms ", "no category"))]
        probability = predicted.probabilities[predicted.category]
        evidence = describe(predicted.evidence, text, figures) or "no known word"
        reasons.append(f"{evidence} → {predicted.category} (model, p={probability:.2f})")
        if ruled.category != predicted.category:
            reasons.append(f"the rules alone would say {ruled.category}")
        return Classification(
            predicted.category,
            ruled.scores,
            ruled.matched,
            reasons,
            round(min(0.99, probability), 2),
            ruled.predicate,
            MODEL,
            predicted.probabilities,
            ruled.category,
        )

    def model_input(
        self, text: str, categories: Iterable[str], figures: Iterable[str] = ()
    ) -> tuple[Classification, dict[str, float]]:
        """The rules' reading of a development and the features the model reads of it."""
        figures = list(figures)
        ruled = self.classify(text, categories, figures)
        sentences = _SENTENCE_END.split(" ".join(text.split()), maxsplit=1)
        found = features(
            sentences[0],
            sentences[1] if len(sentences) > 1 else "",
            ruled.predicate,
            ruled.predicate_votes,
            ruled.strength < self.min_score,
            figures,
        )
        return ruled, found

    def classify(
        self, text: str, categories: Iterable[str], figures: Iterable[str] = ()
    ) -> Classification:
        """The category of a development: its first sentence's main predicate, then its words.

        The main predicate is the first verb of the lexicon's `[predicates]` that is not negated,
        not in a subordinate clause and not a reporting verb; it votes with three times its
        weight. Terms vote with their weight (half in later sentences), figures as listed.
        Below `min_score` the development is 'other'.
        """
        categories = list(categories)
        allowed = [c for c in categories if c != FALLBACK]
        scores = dict.fromkeys(allowed, 0.0)
        matched: dict[str, list[str]] = {c: [] for c in allowed}
        reasons: list[str] = []
        sentences = _SENTENCE_END.split(" ".join(text.split()), maxsplit=1)
        lead, rest = sentences[0], (sentences[1] if len(sentences) > 1 else "")
        main = self._main_predicate(lead, reasons)
        main = self._protected_target(lead, main, reasons)
        background = _BACKGROUND.search(lead, main.end if main else 0)
        if background:
            lead, rest = lead[: background.start()], lead[background.start() :] + " " + rest
        if main is not None:
            for category, weight in main.weights.items():
                if category in scores and weight:
                    scores[category] += PREDICATE_FACTOR * weight
                    matched[category].append(f"predicate:{main.term}")
        votes = [(t, self.weights[t], 1.0) for t in self.terms_in(lead)]
        votes += [(t, self.weights[t], LATER_SENTENCES) for t in self.terms_in(rest)]
        votes += [(f"figure:{f}", v, 1.0) for f in figures if (v := _figure_vote(self, f))]
        for term, weights, factor in votes:
            for category, weight in weights.items():
                if category in scores and weight:
                    scores[category] += weight * factor
                    matched[category].append(term)
        scores = {c: round(s, 2) for c, s in scores.items()}
        ranked = sorted(allowed, key=lambda c: -scores[c])
        best = ranked[0] if ranked else FALLBACK
        if not allowed or scores[best] < self.min_score:
            best = FALLBACK if FALLBACK in categories or not categories else categories[-1]
            reasons.append(f"no category reached {self.min_score:g} → {best}")
        else:
            reasons.extend(_term_reasons(best, matched[best], self, main))
        confidence = _confidence(scores, ranked, best, main)
        return Classification(
            best,
            scores,
            {c: t for c, t in matched.items() if t},
            reasons,
            confidence,
            main.term if main else None,
            predicate_votes=dict(main.weights) if main else {},
            edge_rule=main.edge_rule if main and main.weights.get(best) else None,
        )

    def _main_predicate(self, sentence: str, reasons: list[str]) -> _Predicate | None:
        """The clause's main verb and its votes; a statement by a leader when it reports none."""
        reported_from: int | None = None
        speaker = None
        spans = sorted(
            [(m.start, m.end, None) for m in self.reporting.finditer(sentence)]
            + [(m.start, m.end, m.term) for m in self.predicates.finditer(sentence)]
        )
        for start, end, term in spans:
            before = sentence[max(0, start - LOOK_BACK) : start]
            if term is None:
                if reported_from is None:
                    reported_from = end
                    speaker = self.speakers.search(before)
                    reasons.append(f'looked through "{sentence[start:end]}"')
                continue
            if _NEGATED.search(before):
                reasons.append(f'negated "{sentence[start:end]}" ignored')
                continue
            clause = _CLAUSE_START.split(before)[-1]
            if _SUBORDINATE.search(clause) and start > 0:
                continue
            if (
                speaker
                and reported_from is not None
                and reported_from <= start
                and _EARLIER_EVENT.match(sentence[reported_from:])
            ):
                reasons.append(
                    f'statement by "{speaker.text}" about an event already reported → diplomatic'
                )
                return _Predicate("statement", start, end, {"diplomatic": 2.0})
            weights = self.predicate_weights[term]
            subject = _subject(clause)
            voted = ", ".join(f"{c}" for c, w in weights.items() if w) or "neutral"
            reasons.append(
                f'predicate "{sentence[start:end]}"'
                + (f' with subject "{subject}"' if subject else "")
                + f" → {voted}"
            )
            return _Predicate(term, start, end, weights)
        if speaker and reported_from is not None and reported_from < len(sentence) * OPENING:
            reasons.append(f'statement by "{speaker.text}" → diplomatic')
            return _Predicate("statement", 0, 0, {"diplomatic": 2.0})
        return None

    def _protected_target(
        self, sentence: str, main: _Predicate | None, reasons: list[str]
    ) -> _Predicate | None:
        """An attack on a relief convoy or aid workers is humanitarian (codebook, rule 2)."""
        if main is not None and not main.weights.get("military"):
            return main
        if main is None:  # "A WFP truck was damaged by shelling": the target is the subject
            protected = self.protected.search(sentence)
            if protected is None or not self.terms_in(sentence):
                return main
            military = [t for t in self.terms_in(sentence) if self.weights[t].get("military")]
            if not military:
                return main
            main = _Predicate(military[0], 0, 0, {"military": 1.0})
        target = _CLAUSE_START.split(sentence[main.end :], maxsplit=1)[0] if main.end else sentence
        protected = self.protected.search(target)
        if protected is None:
            return main
        reasons.append(
            f'"{main.term}" aimed at "{protected.text}": an attack on relief → humanitarian'
        )
        return _Predicate(
            main.term, main.start, main.end, {"humanitarian": 3.0}, "codebook edge rule 2"
        )

    def terms_in(self, text: str) -> list[str]:
        """Distinct lexicon terms in the text, longest first where they overlap; 'no …' not."""
        found: dict[str, None] = {}
        for match in self.terms.finditer(text):
            if _NEGATED.search(text[max(0, match.start - 30) : match.start]):
                continue
            found[match.term] = None
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


_PERIOD = re.compile(
    r"\b(?:since|so far|to date|monthly|in (?:the (?:past|last) )?(?:january|february|march|april|"
    r"may|june|july|august|september|october|november|december|month|year|week))\b",
    re.IGNORECASE,
)
_CIVILIANS = re.compile(r"\b(?:civilians?|children|people|residents|women)\b", re.IGNORECASE)
_COMBATANTS = re.compile(r"\b(?:soldiers|troops|servicemen|fighters|personnel)\b", re.IGNORECASE)
_PEOPLE_RETURNED = re.compile(r"_(?:returned|exchanged|released|repatriated|freed|swapped)$")
_STATEMENT = re.compile(
    r"condemn\*|call(?:ed|s) (?:for|on|the)|urge[sd]|accused|denounced|rejected|reject|"
    r"summoned|expelled|critici[sz]ed|thanked|welcome\*|protests|denie[sd]",
    re.IGNORECASE,
)
_ASIDE = re.compile(r"\b(?:where|since|after|when|while|which|who|expected to)\b", re.I)
_AGREEMENT = re.compile(r"\b(?:agree\w*|will|would)\b", re.IGNORECASE)


def _codebook_rule(text: str, figures: list[str], ruled: Classification) -> tuple[str, str] | None:
    """A codebook rule that settles the category: a statement is diplomatic whatever it is
    about (rule 4); people evacuated or displaced, a civilian toll over a period and people
    returned are humanitarian (rules 2 and 6); money given or pledged in the main clause is aid
    (rule 3). A denial is a statement too. On the labelled parts these decide rightly nearly
    everywhere they apply (docs/codebook.md)."""
    if ruled.predicate and _STATEMENT.fullmatch(ruled.predicate):
        return "diplomatic", f'codebook rule 4 (a statement: "{ruled.predicate}")'
    if any(
        n in ("evacuated", "displaced") or n.endswith(("_evacuated", "_displaced")) for n in figures
    ):
        return "humanitarian", "codebook edge rule 2 (evacuation, displacement)"
    if (
        "killed" in figures
        and _PERIOD.search(text)
        and _CIVILIANS.search(text)
        and not _COMBATANTS.search(text)
    ):
        return "humanitarian", "codebook edge rule 2 (a civilian toll over a period)"
    if any(_PEOPLE_RETURNED.search(n) for n in figures) and not _AGREEMENT.search(text):
        return "humanitarian", "codebook edge rule 6 (people returned)"
    lead = _SENTENCE_END.split(" ".join(text.split()), maxsplit=1)[0]
    money = first_money(lead)
    if (
        money is not None
        and any(n.startswith("aid_value_") for n in figures)
        and not ruled.predicate_votes.get("diplomatic")
        and not _ASIDE.search(lead[:money])
    ):
        return "aid", "codebook edge rule 3 (money given or pledged)"
    return None


def _subject(clause: str) -> str:
    """The last few words before the predicate: enough for a reviewer to see who acted."""
    words = clause.split()
    return " ".join(words[-4:]).strip(" ,")


def _figure_vote(lexicon: Lexicon, name: str) -> dict[str, float] | None:
    if name in lexicon.figure_votes:
        return lexicon.figure_votes[name]
    if name.startswith("aid_value_"):
        return {"aid": 2.0}
    if name.split("_")[0] in ("drones", "missiles"):
        return {"military": 2.0}
    return None


def _term_reasons(
    category: str, matched: list[str], lexicon: Lexicon, main: _Predicate | None
) -> list[str]:
    terms = [t for t in matched if not t.startswith("predicate:")][:4]
    if not terms:
        return []
    shown = ", ".join(
        f'"{t}"' if not t.startswith("figure:") else t.removeprefix("figure:") for t in terms
    )
    decided = "" if main and main.weights.get(category) else " decided"
    return [f"terms {shown}{decided} → {category}"]


def _confidence(
    scores: dict[str, float], ranked: list[str], best: str, main: _Predicate | None
) -> float:
    """High when one category leads clearly and the main predicate agrees; low when close."""
    top = scores.get(best, 0.0)
    if top <= 0:
        return 0.3
    second = scores[ranked[1]] if len(ranked) > 1 else 0.0
    margin = (top - second) / top
    agreed = 0.15 if main and main.weights.get(best) else 0.0
    return round(min(0.99, 0.35 + 0.5 * margin + agreed), 2)


_WORD = re.compile(r"[\w-]+")


@dataclass(frozen=True)
class TermMatch:
    """One term found in a text: which term, where, and the words as written."""

    term: str
    start: int
    end: int
    text: str


class Terms:
    """Many whole-word terms matched at once, case-insensitively, in time linear in the text.

    A trailing "*" matches any ending ("strike*": strikes, striken). Where terms overlap, the
    one starting first wins, and of those the longest.
    """

    def __init__(self, terms: Iterable[str]) -> None:
        self.exact: dict[str, list[tuple[tuple[str, ...], bool, str]]] = {}
        self.stems: dict[str, list[tuple[tuple[str, ...], bool, str]]] = {}
        for term in terms:
            words = tuple(term.lower().rstrip("*").split())
            entry = (words, term.endswith("*"), term)
            index = self.stems if term.endswith("*") and len(words) == 1 else self.exact
            index.setdefault(words[0], []).append(entry)

    def finditer(self, text: str) -> list[TermMatch]:
        tokens = [(m.group(0).lower(), m.start(), m.end()) for m in _WORD.finditer(text)]
        found: list[TermMatch] = []
        index = 0
        while index < len(tokens):
            best = self._longest_at(text, tokens, index)
            if best is None:
                index += 1
                continue
            term, length = best
            start, end = tokens[index][1], tokens[index + length - 1][2]
            found.append(TermMatch(term, start, end, text[start:end]))
            index += length
        return found

    def search(self, text: str) -> TermMatch | None:
        found = self.finditer(text)
        return found[0] if found else None

    def _longest_at(
        self, text: str, tokens: list[tuple[str, int, int]], index: int
    ) -> tuple[str, int] | None:
        word = tokens[index][0]
        candidates = list(self.exact.get(word, ()))
        for size in range(1, len(word) + 1):
            candidates += self.stems.get(word[:size], ())
        best: tuple[str, int] | None = None
        for words, prefix, term in candidates:
            longer = best is None or len(term.rstrip("*")) > len(best[0].rstrip("*"))
            if longer and _words_match(text, tokens, index, words, prefix):
                best = (term, len(words))
        return best


def _words_match(
    text: str, tokens: list[tuple[str, int, int]], index: int, words: tuple[str, ...], prefix: bool
) -> bool:
    """Whether the term's words are the tokens from `index` on, only spaces between them."""
    if index + len(words) > len(tokens):
        return False
    for offset, word in enumerate(words):
        token, start, _ = tokens[index + offset]
        if offset and text[tokens[index + offset - 1][2] : start].strip():
            return False
        last = offset == len(words) - 1
        if not (token.startswith(word) if last and prefix else token == word):
            return False
    return True


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
    predicates: dict[str, dict[str, float]] = {}
    for category, verbs in data["predicates"].items():
        for verb, weight in verbs.items():
            predicates.setdefault(verb.lower(), {})[category] = float(weight)
    for category, terms in json.loads(user_json).items():
        for term, weight in terms.items():
            if term.lower() in predicates:
                predicates[term.lower()][category] = float(weight)
            else:
                per_category.setdefault(category, {})[term.lower()] = weight
    weights: dict[str, dict[str, float]] = {}
    for category, terms in per_category.items():
        for term, weight in terms.items():
            weights.setdefault(term.lower(), {})[category] = float(weight)
    user_terms = [term for terms in json.loads(user_json).values() for term in terms]
    reporting = data["reporting"]
    actors = {alias: name for name, aliases in data["actors"].items() for alias in aliases}
    return Lexicon(
        weights=weights,
        figure_votes=data["figure_votes"],
        min_score=float(data["classify"]["min_score"]),
        actors=actors,
        places=data["places"],
        terms=Terms(weights),
        actor_names=_names_pattern(actors),
        place_names=_names_pattern(data["places"]),
        predicate_weights=predicates,
        predicates=Terms(predicates),
        reporting=Terms(reporting["verbs"]),
        speakers=Terms(reporting["speakers"]),
        protected=Terms(reporting["relief_targets"]),
        user_terms=Terms(user_terms),
    )
