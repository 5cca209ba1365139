"""How fast `extract_events` turns articles into events, and that its cost grows linearly.

Extraction only: settings are loaded and the lexicon is built once before timing (start-up is
not what a feed poller pays per article). It prints:
  - articles per second over the labelled articles in tests/data/articles (target >= 20/s);
  - seconds for one article of ~0.5 MB and of ~2 MB made of those articles, and their ratio
    (linear work gives ~4; a quadratic step would give ~16);
  - seconds for 2 MB of one run-on paragraph without a full stop (no sentence to cut at).

Usage: python bench/ingest.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from briefing.config import Settings  # noqa: E402
from briefing.ingest.classify import lexicon_for  # noqa: E402
from briefing.ingest.text import extract_events, figures_by_name  # noqa: E402

TARGET = 20.0
ARTICLES = ROOT / "tests" / "data" / "articles"
RUN_ON = "Russia said 40 drones and 3 missiles hit Kyiv and aid of $5 million was sent and "


def _articles() -> list[str]:
    return [path.read_text(encoding="utf-8") for path in sorted(ARTICLES.glob("*/*.txt"))]


def _extract(settings: Settings, text: str) -> int:
    events = extract_events(
        text, published=date(2025, 3, 12), source="Bench", url=None, settings=settings
    )
    return len(events)


def _rate(settings: Settings, articles: list[str], rounds: int) -> float:
    rates = []
    for _ in range(rounds):
        figures_by_name.cache_clear()  # each round reads the articles afresh
        start = time.perf_counter()
        for text in articles:
            _extract(settings, text)
        rates.append(len(articles) / (time.perf_counter() - start))
    return statistics.median(rates)


def _seconds_for(settings: Settings, articles: list[str], size: int, between: str) -> float:
    figures_by_name.cache_clear()
    joined = between.join(articles) + between
    text = joined * (size // len(joined) + 1)
    start = time.perf_counter()
    _extract(settings, text[:size])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    articles = _articles()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings.model_validate(
            {"database_url": f"sqlite:///{folder}/b.db", "output_dir": folder}
        )
        lexicon_for(settings)
        _extract(settings, articles[0])  # warm: regex caches, lazy imports
        rate = _rate(settings, articles, args.rounds)
        small = _seconds_for(settings, articles, 500_000, "\n\n")
        large = _seconds_for(settings, articles, 2_000_000, "\n\n")
        run_on = _seconds_for(settings, [RUN_ON], 2_000_000, " ")
    verdict = "ok" if rate >= TARGET else "BELOW TARGET"
    print(f"articles: {len(articles)}, median over {args.rounds} rounds")
    print(f"extraction: {rate:.1f} articles/s (target >= {TARGET:g}/s) {verdict}")
    print(f"0.5 MB article: {small:.2f} s; 2 MB article: {large:.2f} s; ratio {large / small:.1f}")
    print(f"2 MB run-on paragraph: {run_on:.2f} s")


if __name__ == "__main__":
    main()
