"""The labelled articles under tests/data/articles and how extraction is scored against them.

Each line of `<part>.jsonl` names an article file, its publication date, and the developments a
person found in it by docs/codebook.md: an anchor (words only that development's text holds),
its category and its figures. An event *covers* a development when its summary holds the anchor.

Scores, as the issue defines them:
- found: developments covered by at least one event;
- own event: developments covered by exactly one event that covers no other development;
- category: developments whose covering event has the labelled category;
- figures: labelled (name, value) pairs found on the covering event;
- noise: events that cover no development;
- events per development: events that cover a development, over developments.

Run `python -m tests.labelled_articles tune` (or `heldout`) to print the scores and every miss.
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from pathlib import Path

from briefing.config import Settings
from briefing.event import Event
from briefing.ingest.text import extract_events

ARTICLES = Path(__file__).parent / "data" / "articles"


@dataclass(frozen=True)
class Development:
    anchor: str
    category: str
    figures: dict[str, float]


@dataclass(frozen=True)
class Article:
    file: str
    published: date
    text: str
    developments: list[Development]


@dataclass
class Scores:
    developments: int = 0
    found: int = 0
    own_event: int = 0
    category_right: int = 0
    figures: int = 0
    figures_found: int = 0
    events: int = 0
    noise: int = 0
    covering_events: int = 0
    misses: list[str] = field(default_factory=list)
    judged: list[tuple[float, bool]] = field(default_factory=list)  # (confidence, category right)

    @property
    def category_accuracy(self) -> float:
        return self.category_right / self.developments

    @property
    def figure_recall(self) -> float:
        return self.figures_found / self.figures if self.figures else 1.0

    @property
    def noise_share(self) -> float:
        return self.noise / self.events if self.events else 0.0

    @property
    def events_per_development(self) -> float:
        return self.covering_events / self.developments

    def by_confidence(self, bands: tuple[float, ...] = (0.5, 0.7, 0.9)) -> str:
        """How often the category is right in each confidence band: is the confidence earned?"""
        edges = [0.0, *bands, 1.01]
        shown = []
        for low, high in pairwise(edges):
            right = [ok for confidence, ok in self.judged if low <= confidence < high]
            share = f"{sum(right) / len(right):.0%}" if right else "-"
            shown.append(f"[{low:g}, {min(high, 1):g}): {share} of {len(right)}")
        return "category right by confidence: " + "; ".join(shown)

    def summary(self) -> str:
        return (
            f"{self.developments} developments, {self.events} events: "
            f"found {self.found / self.developments:.0%}, "
            f"own event {self.own_event / self.developments:.0%}, "
            f"category {self.category_accuracy:.1%}, "
            f"figures {self.figure_recall:.1%} ({self.figures_found}/{self.figures}), "
            f"noise {self.noise_share:.1%}, "
            f"events per development {self.events_per_development:.2f}"
        )


def load(part: str) -> list[Article]:
    """The labelled articles of one part: 'tune' (what the method was built on) or 'heldout'."""
    articles = []
    for line in (ARTICLES / f"{part}.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        developments = [Development(**d) for d in row["developments"]]
        text = (ARTICLES / row["file"]).read_text(encoding="utf-8")
        published = date.fromisoformat(row["published"])
        articles.append(Article(row["file"], published, text, developments))
    return articles


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def score(articles: list[Article], settings: Settings) -> Scores:
    """How the extractor does on the articles, by the measures in this module's docstring."""
    scores = Scores()
    for article in articles:
        events = extract_events(
            article.text, published=article.published, source="Test", url=None, settings=settings
        )
        _score_article(article, events, scores)
    return scores


def _score_article(article: Article, events: list[Event], scores: Scores) -> None:
    summaries = [_norm(e.summary) for e in events]
    anchors = [_norm(d.anchor) for d in article.developments]
    scores.events += len(events)
    covering = [i for i, s in enumerate(summaries) if any(a in s for a in anchors)]
    scores.noise += len(events) - len(covering)
    scores.covering_events += len(covering)
    for index, event in enumerate(events):
        if index not in covering:
            scores.misses.append(f"{article.file}: noise: {event.summary[:90]}")
    for development, anchor in zip(article.developments, anchors, strict=True):
        scores.developments += 1
        scores.figures += len(development.figures)
        hits = [i for i, s in enumerate(summaries) if anchor in s]
        where = f"{article.file}: {development.anchor[:50]}"
        if not hits:
            scores.misses.append(f"{where}: not found")
            continue
        scores.found += 1
        event = events[hits[0]]
        if len(hits) == 1 and sum(a in summaries[hits[0]] for a in anchors) == 1:
            scores.own_event += 1
        else:
            scores.misses.append(f"{where}: shares an event or is split")
        confidence = (event.classification or {}).get("confidence", 0.0)
        scores.judged.append((confidence, event.category == development.category))
        if event.category == development.category:
            scores.category_right += 1
        else:
            scores.misses.append(
                f"{where}: {event.category}, not {development.category}; "
                f"{event.classification.get('reasons') if event.classification else ''}"
            )
        for name, value in development.figures.items():
            if event.figures.get(name) == value:
                scores.figures_found += 1
            else:
                scores.misses.append(f"{where}: figure {name}={value:g}; got {event.figures}")


def main(part: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings.model_validate(
            {
                "database_url": f"sqlite:///{folder}/b.db",
                "output_dir": folder,
                "timezone": "Europe/Kyiv",
            }
        )
        scores = score(load(part), settings)
    print("\n".join(scores.misses))
    print(f"{part}: {scores.summary()}")
    print(f"{part}: {scores.by_confidence()}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tune")
