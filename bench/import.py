"""What `briefing events import` costs: records per second and the process's peak memory.

For 20,000 and 200,000 events (demo-shaped, written as a JSON array, JSON Lines or CSV) it runs
the real CLI in a fresh process on a fresh SQLite file and prints the wall time, the rate and
the peak resident memory of that process (its own, read from the kernel when it exits). The
process's CPU time is printed too: on a shared machine the wall time also counts waiting.
Targets: at least 10,000 records/s, and a peak under 200 MB at 200,000 records.

With --database-url postgresql+psycopg://…, each run imports into a fresh schema of that
database instead (dropped afterwards).

Usage: python bench/import.py [--format json|jsonl|csv] [--counts 20000,200000]
                              [--database-url URL]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import synthetic_events

BIN = Path(sys.executable).parent
MIN_RATE = 10_000
MAX_PEAK_MB = {200_000: 200}


def write_events(path: Path, events: list[dict], fmt: str) -> None:
    if fmt == "json":
        path.write_text(json.dumps(events))
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(event) + "\n" for event in events))
    else:
        columns = ["id", "occurred_at", "category", "title", "summary", "importance", "actors"]
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([*columns, "sources.name", "sources.url"])
            for event in events:
                row = [event.get(name, "") for name in columns]
                row[columns.index("actors")] = ";".join(event.get("actors", []))
                names = ";".join(source["name"] for source in event["sources"])
                urls = ";".join(source.get("url") or "" for source in event["sources"])
                writer.writerow([*row, names, urls])


@contextmanager
def fresh_database(work: Path, server: str | None) -> Iterator[str]:
    """A SQLite file in `work`, or a new schema on the PostgreSQL `server`, dropped after."""
    if not server:
        yield f"sqlite:///{work / 'briefing.db'}"
        return
    from sqlalchemy import create_engine, text

    schema = f"bench_import_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{server}{'&' if '?' in server else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def measure(count: int, fmt: str, server: str | None) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one `briefing events import` process."""
    with tempfile.TemporaryDirectory() as folder, fresh_database(Path(folder), server) as url:
        work = Path(folder)
        env = {**os.environ, "BRIEFING_OUTPUT_DIR": str(work / "output")}
        env["BRIEFING_TIMEZONE"] = "UTC"
        env["BRIEFING_DATABASE_URL"] = url
        env.pop("BRIEFING_CONFIG", None)
        subprocess.run([str(BIN / "briefing"), "db", "upgrade"], env=env, cwd=work, check=True,
                       capture_output=True)  # fmt: skip
        events = work / f"events.{fmt}"
        # Written by another process: a child's peak memory counts its parent's at the fork.
        writer = [sys.executable, __file__, "--write", str(events), "--counts", str(count)]
        subprocess.run([*writer, "--format", fmt], check=True)
        command = [str(BIN / "briefing"), "--quiet", "events", "import", str(events)]
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=work)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode:
            sys.exit(f"import of {count} events failed (exit {process.returncode})")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", dest="fmt", choices=["json", "jsonl", "csv"], default="json")
    parser.add_argument("--counts", default="20000,200000")
    parser.add_argument("--database-url", help="a PostgreSQL server to import into")
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        day = datetime(2024, 10, 26, tzinfo=UTC)
        write_events(args.write, synthetic_events(int(args.counts), day), args.fmt)
        return
    print(
        f"{'format':>6} {'events':>8} {'seconds':>8} {'records/s':>10} {'CPU s':>6} "
        f"{'per CPU s':>10} {'peak MB':>8} target"
    )
    failed = False
    for count in (int(text) for text in args.counts.split(",")):
        elapsed, cpu, peak = measure(count, args.fmt, args.database_url)
        rate = count / elapsed
        limit = MAX_PEAK_MB.get(count)
        missed = rate < MIN_RATE or (limit is not None and peak > limit)
        failed |= missed
        target = f">= {MIN_RATE}/s" + (f", <= {limit} MB" if limit else "")
        print(
            f"{args.fmt:>6} {count:>8} {elapsed:>8.1f} {rate:>10.0f} {cpu:>6.1f} "
            f"{count / cpu:>10.0f} {peak:>8.0f} {target} "
            f"{'MISSED' if missed else 'ok'}"
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
