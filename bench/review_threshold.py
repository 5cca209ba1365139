"""What `auto_approve_above` lets through, and how often what it lets through is sorted right.

Reads labelled developments (JSON Lines: {"text", "category"}), runs the ingestion on each, and
prints for each threshold how many events would be published without review and how many of
those have the labelled category. Give a held-out set to choose a threshold honestly; the
default file is the set the lexicon was tuned on, so its figures are optimistic.

Usage: python bench/review_threshold.py [LABELLED.jsonl]
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

from briefing.config import Settings
from briefing.ingest.text import extract_events

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "tests" / "data" / "developments.jsonl"
THRESHOLDS = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9)


def scored(path: Path) -> list[tuple[float, bool]]:
    """(confidence, sorted right) for every event the ingestion finds in the labelled texts."""
    settings = Settings()
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        events = extract_events(
            row["text"], published=date(2024, 10, 24), source="bench", url=None, settings=settings
        )
        for event in events:
            right = len(events) == 1 and event.category == row["category"]
            found.append((float(event.classification["confidence"]), right))
    return found


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    found = scored(path)
    print(f"{path.name}: {len(found)} events, {sum(r for _, r in found)} sorted right")
    print("threshold  published  sorted right  waiting for review")
    for threshold in THRESHOLDS:
        published = [right for confidence, right in found if confidence > threshold]
        share = f"{sum(published) / len(published):.0%}" if published else "-"
        print(
            f"{threshold:>9}  {len(published):>9}  {sum(published):>6} ({share:>4})  "
            f"{len(found) - len(published):>18}"
        )


if __name__ == "__main__":
    main()
