"""How much `briefing generate` costs beyond the WeasyPrint render it cannot avoid.

For a brief of 30 and of 300 events it times, side by side and alternating:
  - `briefing generate` as a whole process (imports, settings, queries, composing, rendering,
    archiving, recording), and
  - a bare WeasyPrint render of the very same HTML in a fresh Python process (the target's
    baseline: WeasyPrint's defaults, a plain PDF), and
  - the same bare render made as `briefing generate` must make it: tagged PDF/A-3a with the
    events attached (the "archival" column, so that what the archival PDF itself costs is
    seen apart from what briefing adds),
and prints their median wall times and ratios. The day's figures were also reported on each of
the 30 days before, so every key figure carries its trend chart. Targets: ratio to the plain
render <= 1.10 at 30 events and <= 1.00 at 300 events.

Then it times `briefing generate` on a window of 100,000 events (a brief shows at most
`max_items` per section; its events.json attachment holds them all). Target: within 3 times
the time of the 300-event brief.

Usage: python bench/generate.py [--rounds N] [--large N] [--events 30|300]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CATEGORIES = ["military", "military", "diplomatic", "aid"]
TARGETS = {30: 1.10, 300: 1.00}
TREND_DAYS = 30
LARGE, LARGE_BASE, LARGE_TARGET = 100_000, 300, 3.0
BARE = (
    "import sys, weasyprint;"
    "weasyprint.HTML(filename=sys.argv[1], base_url=sys.argv[2]).write_pdf(sys.argv[3])"
)
BARE_ARCHIVAL = (
    "import sys, weasyprint;"
    "weasyprint.HTML(filename=sys.argv[1], base_url=sys.argv[2]).write_pdf(sys.argv[3],"
    " pdf_variant='pdf/a-3a', pdf_tags=True,"
    " attachments=[weasyprint.Attachment(filename=sys.argv[4], relationship='Data')])"
)


def synthetic_events(count: int, day: datetime) -> list[dict]:
    """Events shaped like the demo's: varied lengths, figures, several sources."""
    demo = json.loads((ROOT / "examples" / "ukraine-2024-10-26.json").read_text())
    chooser = random.Random(count)
    events = []
    for number in range(count):
        model = chooser.choice(demo)
        events.append(
            {
                **model,
                "id": f"bench-{number}",
                "occurred_at": (day + timedelta(minutes=chooser.randrange(24 * 60))).isoformat(),
                "category": chooser.choice(CATEGORIES),
                "title": f"{model['title']} ({number})",
                "importance": chooser.randint(1, 5),
                "sources": [
                    *model["sources"],
                    {"name": f"Wire {number % 17}", "url": f"https://example.org/{number}"},
                ],
            }
        )
    return events


def history_events(day: datetime) -> list[dict]:
    """One report a day over the 30 days before `day`, so each key figure has a trend."""
    return [
        {
            "id": f"history-{back}",
            "occurred_at": (day - timedelta(days=back, hours=-3)).isoformat(),
            "category": "military",
            "title": f"Overnight attack, {back} days before",
            "figures": {
                "drones_launched": 60 + (back * 37) % 90,
                "drones_destroyed": 40 + (back * 23) % 50,
                "missiles_launched": back % 5,
                "military_aid_usd": 1e8 * (back % 3),
            },
            "sources": [{"name": "Air Force", "url": f"https://example.org/h/{back}"}],
        }
        for back in range(1, TREND_DAYS)
    ]


def store_events(events: list[dict], env: dict[str, str], work: Path) -> None:
    """Events into the store by `briefing events import` (the brief is measured here, not the
    import, which takes seconds even for the large window)."""
    source = work / "events.json"
    source.write_text(json.dumps(events))
    subprocess.run([*BRIEFING, "events", "import", str(source)], env=env, check=True, cwd=work)


def run(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    """Wall time and output of one whole process, run in `cwd` so no briefing.toml is read."""
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, done.stdout


def prepared(work: Path, count: int) -> dict[str, str]:
    """A fresh output folder holding `count` events on 26 Oct 2024; the environment to use it."""
    env = {**os.environ, "BRIEFING_OUTPUT_DIR": str(work / "output"), "BRIEFING_TIMEZONE": "UTC"}
    env.pop("BRIEFING_CONFIG", None)
    day = datetime(2024, 10, 26, tzinfo=UTC)
    store_events(synthetic_events(count, day) + history_events(day), env, work)
    return env


BRIEFING = [str(BIN / "briefing"), "--quiet"]
WINDOW = ["--date", "2024-10-26"]


def measure(count: int, rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        env = prepared(work, count)
        _, html_json = run(
            [*BRIEFING, "generate", *WINDOW, "--format", "html", "--json"], env, work
        )
        html = json.loads(html_json)["path"]
        templates = str(ROOT / "templates")
        bare_cmd = [sys.executable, "-c", BARE, html, templates + "/", str(work / "bare.pdf")]
        archival_cmd = [
            sys.executable, "-c", BARE_ARCHIVAL, html, templates + "/", str(work / "bare-a.pdf"),
            str(work / "events.json"),
        ]  # fmt: skip
        ours_cmd = [*BRIEFING, "generate", *WINDOW, "--json"]
        for warm_up in (bare_cmd, archival_cmd, ours_cmd):
            run(warm_up, env, work)
        ours, bare, archival = [], [], []
        for _ in range(rounds):
            bare.append(run(bare_cmd, env, work)[0])
            archival.append(run(archival_cmd, env, work)[0])
            elapsed, output = run(ours_cmd, env, work)
            ours.append(elapsed)
        made = json.loads(output)
    return {
        "ours": statistics.median(ours),
        "bare": statistics.median(bare),
        "archival": statistics.median(archival),
        "pages": made["pages"],
        "events": made["events"],
    }


def measure_alone(count: int, rounds: int) -> dict[str, float]:
    """`briefing generate` alone (no bare render to compare): median time, pages, events."""
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        env = prepared(work, count)
        ours_cmd = [*BRIEFING, "generate", *WINDOW, "--json"]
        times = []
        for _ in range(rounds):
            elapsed, output = run(ours_cmd, env, work)
            times.append(elapsed)
        made = json.loads(output)
    return {"ours": statistics.median(times), "pages": made["pages"], "events": made["events"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--large", type=int, default=LARGE, help="events in the large window")
    parser.add_argument(
        "--events", type=int, choices=sorted(TARGETS), action="append", help="Only this size."
    )
    args = parser.parse_args()
    print(
        f"{'events':>6} {'pages':>5} {'generate s':>11} {'bare render s':>14} {'ratio':>6} "
        f"{'target':<16} {'archival s':>10} {'ratio':>6}"
    )
    failed, base = False, None
    for count, target in TARGETS.items():
        if args.events and count not in args.events:
            continue
        result = measure(count, args.rounds)
        ratio = result["ours"] / result["bare"]
        verdict = "ok" if ratio <= target else "MISSED"
        failed |= ratio > target
        print(
            f"{result['events']:>6} {result['pages']:>5} {result['ours']:>11.3f} "
            f"{result['bare']:>14.3f} {ratio:>6.2f} {f'<= {target:.2f} {verdict}':<16} "
            f"{result['archival']:>10.3f} {result['ours'] / result['archival']:>6.2f}"
        )
        if count == LARGE_BASE:
            base = result["ours"]
    if base is not None:  # the large window is measured against the 300-event brief
        large = measure_alone(args.large, max(1, args.rounds // 3))
        ratio = large["ours"] / base
        failed |= ratio > LARGE_TARGET
        print(
            f"{large['events']:>6} {large['pages']:>5} {large['ours']:>11.3f} "
            f"{'vs ' + str(LARGE_BASE) + ' events':>14} {ratio:>6.2f} <= {LARGE_TARGET:.2f} "
            f"{'ok' if ratio <= LARGE_TARGET else 'MISSED'}"
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
