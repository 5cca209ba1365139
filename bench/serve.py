"""How fast `briefing serve` answers, beside a bare Starlette app measured in the same run.

Starts, on loopback, `briefing serve` over an archive holding the demo edition, and a bare
Starlette "hello" app under the same uvicorn settings; then, with 50 concurrent keep-alive
clients in a few short rounds that alternate between the servers (so a busy machine
weighs on both alike), measures requests per second and p50/p99 latency of:
  - the bare app's "hello",
  - the edition page (`GET /editions/ID`),
  - the one-click unsubscribe (`POST /unsubscribe?token=…`, a fresh subscriber's token each
    time, so each request writes to the database).
Target: the edition page at >= 50% of the bare app's rate.

Usage: python bench/serve.py [--seconds S] [--rounds R] [--clients N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "bench-secret-" + "x" * 32
TARGET = 0.50
CONFIG = """
timezone = "Europe/Kyiv"
public_url = "https://brief.example.org"
output_dir = "output"

[briefs.daily]
title = "Situation Brief"
public = true
"""
BARE = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

async def hello(request):
    return PlainTextResponse("hello")

app = Starlette(routes=[Route("/", hello)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False,
            server_header=False)
"""


def prepare(folder: Path, tokens_needed: int) -> tuple[Path, int, list[str]]:
    """The demo edition archived, and subscribers each with one unsubscribe token."""
    from briefing.config import load_settings
    from briefing.ingest.files import read_events
    from briefing.pipeline import generate_edition
    from briefing.store import Store
    from briefing.store.events import upsert_events
    from briefing.store.subscribers import Subscriber, Subscription, issue_unsubscribe_tokens

    config = folder / "briefing.toml"
    config.write_text(CONFIG)
    settings = load_settings(config, {})
    store = Store(settings.db_url)
    with store.session() as session:
        upsert_events(
            session, read_events([str(ROOT / "examples/ukraine-2024-10-26.json")], settings)
        )
    edition = generate_edition(settings, store, "daily", day=date(2024, 10, 26))
    addresses = [f"reader{n:06d}@example.org" for n in range(tokens_needed)]
    with store.session() as session:
        session.execute(
            Subscriber.__table__.insert(),
            [{"email": a, "status": "active", "token": f"legacy-{a}"} for a in addresses],
        )
        ids = session.scalars(Subscriber.__table__.select().with_only_columns(Subscriber.id)).all()
        session.execute(
            Subscription.__table__.insert(), [{"subscriber_id": i, "brief": "daily"} for i in ids]
        )
        tokens = issue_unsubscribe_tokens(session, [(i, "daily") for i in ids])
    store.dispose()
    return config, edition.id, tokens


def start(command: list[str], port: int, env: dict) -> subprocess.Popen:
    process = subprocess.Popen(
        command, env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            asyncio.run(_one("127.0.0.1", port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"server on port {port} did not start")


async def _one(host: str, port: int, request: bytes) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(request)
    await _read_response(reader)
    writer.close()


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def load(port: int, make_request: Callable[[], bytes], clients: int, seconds: float):
    """`clients` keep-alive connections sending requests back to back for `seconds`."""
    latencies: list[float] = []
    failures = 0
    stop_at = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(make_request())
            status = await _read_response(reader)
            latencies.append(time.perf_counter() - started)
            failures += status != 200
        writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - began
    return len(latencies) / elapsed, latencies, failures


def report(name: str, runs: list[tuple[float, list[float], int]]) -> None:
    """Median rate over the rounds; latency percentiles over every request of every round."""
    rate = statistics.median(run[0] for run in runs)
    latencies = [latency for run in runs for latency in run[1]]
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"{name:<28} {rate:>8.0f} req/s   p50 {cuts[49] * 1000:6.1f} ms   "
        f"p99 {cuts[98] * 1000:6.1f} ms   non-200: {sum(run[2] for run in runs)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=50)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as folder:
        config, edition_id, tokens = prepare(Path(folder), 20_000)
        env = {**os.environ, "BRIEFING_SECRET_KEY": SECRET}
        web_port, bare_port = 18_731, 18_732
        servers = [
            start(
                [
                    sys.executable,
                    "-m",
                    "briefing",
                    "--quiet",
                    "--config",
                    str(config),
                    "serve",
                    "--port",
                    str(web_port),
                ],
                web_port,
                env,
            ),
            start([sys.executable, "-c", BARE, str(bare_port)], bare_port, env),
        ]
        try:
            page = f"GET /editions/{edition_id} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
            asyncio.run(_one("127.0.0.1", web_port, page))  # rendered once, then kept
            hello = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
            remaining = iter(tokens)
            body = b"List-Unsubscribe=One-Click"

            def one_click() -> bytes:
                return (
                    f"POST /unsubscribe?token={next(remaining)} HTTP/1.1\r\nHost: x\r\n"
                    "Content-Type: application/x-www-form-urlencoded\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                ).encode() + body

            print(
                f"{options.clients} concurrent clients on loopback; {options.rounds} rounds of "
                f"{options.seconds:g} s each, bare app and edition page alternating"
            )
            for port, request in ((bare_port, hello), (web_port, page)):  # warm both up
                asyncio.run(load(port, lambda r=request: r, options.clients, 0.5))
            runs: dict[str, list] = {"bare": [], "edition": [], "click": []}
            for _ in range(options.rounds):
                for name, port, make in (
                    ("bare", bare_port, lambda: hello),
                    ("edition", web_port, lambda: page),
                    ("click", web_port, one_click),
                ):
                    runs[name].append(
                        asyncio.run(load(port, make, options.clients, options.seconds))
                    )
            report("bare Starlette hello", runs["bare"])
            report("edition page", runs["edition"])
            report("one-click unsubscribe POST", runs["click"])
            ratio = statistics.median(
                e[0] / b[0] for e, b in zip(runs["edition"], runs["bare"], strict=True)
            )
            verdict = "meets" if ratio >= TARGET else "misses"
            print(
                f"edition page at {ratio:.0%} of the bare app's rate, median of the rounds "
                f"({verdict} the target of {TARGET:.0%})"
            )
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=15)


if __name__ == "__main__":
    main()
