"""How fast `send_edition` mails one edition to N subscribers, against two references.

Sends one edition (a real ~100 KB PDF from the pipeline) to N = 1,000 and 10,000 subscribers
through Postfix's `smtp-sink` on loopback, which this script starts on a free port and stops,
and prints messages per second, wall time and peak memory (max RSS) for:
  - ours:  `briefing.deliver.send_edition`, ledger kept (one commit per message, SQLite in
           WAL mode with synchronous = NORMAL, as briefing.store.db sets it),
  - naive: a loop of `yagmail.SMTP(...).send(...)` per subscriber (a new connection each),
  - bare:  `smtplib` sending one prebuilt message over one connection (the practical limit).
Each runs in its own process, so its peak memory is its own, and its time includes its imports.
Targets, as ratios measured side by side in the same run: ours >= 3x naive's rate, ours >= 60%
of bare's rate, ours' peak memory < 300 MB. The references send short stand-in bodies (the
brief's own text and HTML would make yagmail run premailer on every message); ours sends the
edition's real ones, so its message is the larger: the table prints both sizes.

Needs: the briefing virtualenv (pip install -e '.[test]') and Debian's postfix package for
/usr/sbin/smtp-sink (`DEBIAN_FRONTEND=noninteractive apt-get install -y postfix`; the
postfix service itself need not run). Installs nothing itself.

Usage: python bench/fanout.py [--sizes 1000 10000] [--sink /usr/sbin/smtp-sink]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SENDER = "desk@bench.test"
BRIEF_DAY = date(2024, 10, 26)
EVENTS = 150
TARGETS = {"vs_naive": 3.0, "vs_bare": 0.60, "peak_mb": 300}


def environment(work: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFING_")}
    env.update(
        BRIEFING_OUTPUT_DIR=str(work / "output"),
        BRIEFING_TIMEZONE="UTC",
        BRIEFING_SMTP_HOST="127.0.0.1",
        BRIEFING_SMTP_PORT=str(port),
        BRIEFING_SMTP_SECURITY="none",
        BRIEFING_MAIL_FROM=SENDER,
    )
    return env


def addresses(count: int) -> list[str]:
    return [f"reader{n:05d}@example.org" for n in range(count)]


# --- preparing one edition and its subscribers --------------------------------------------


def synthetic_events(count: int) -> list[dict]:
    demo = json.loads((ROOT / "examples" / "ukraine-2024-10-26.json").read_text())
    start = datetime(2024, 10, 26, tzinfo=UTC)
    return [
        {
            **demo[n % len(demo)],
            "id": f"bench-{n}",
            "occurred_at": (start + timedelta(minutes=(n * 37) % 1440)).isoformat(),
            "title": f"{demo[n % len(demo)]['title']} ({n})",
            "sources": [
                *demo[n % len(demo)]["sources"],
                {"name": f"Wire {n % 17}", "url": f"https://example.org/wire/{n}"},
            ],
        }
        for n in range(count)
    ]


def prepare(work: Path, port: int, count: int) -> dict:
    """An archived edition and `count` subscribers in a fresh SQLite store under `work`."""
    os.environ.update(environment(work, port))
    from sqlalchemy import insert

    from briefing.config import load_settings
    from briefing.edition_brief import edition_file
    from briefing.ingest.files import read_events
    from briefing.pipeline import generate_edition
    from briefing.store import Store
    from briefing.store.events import upsert_events
    from briefing.store.subscribers import Subscriber, Subscription, new_token

    settings = load_settings()
    store = Store(settings.db_url)
    events = work / "events.json"
    events.write_text(json.dumps(synthetic_events(EVENTS)))
    with store.session() as session:
        upsert_events(session, read_events([str(events)], settings))
    edition = generate_edition(settings, store, day=BRIEF_DAY)
    with store.session() as session:
        session.execute(
            insert(Subscriber),
            [{"email": a, "status": "active", "token": new_token()} for a in addresses(count)],
        )
        ids = session.scalars(Subscriber.__table__.select().with_only_columns(Subscriber.id))
        rows = [{"subscriber_id": i, "brief": edition.brief} for i in ids]
        session.execute(insert(Subscription), rows)
    pdf = edition_file(settings, edition)
    sizes = {"ours": len(one_of_ours(settings, store, edition)), "bare": len(bare_message(pdf))}
    store.dispose()
    return {"edition_id": edition.id, "pdf": str(pdf), "pdf_bytes": pdf.stat().st_size, **sizes}


def one_of_ours(settings, store, edition) -> bytes:
    """The message `send_edition` sends one subscriber (for its size)."""
    from briefing.deliver.mail import Recipient
    from briefing.deliver.message import prepare_mail
    from briefing.edition_brief import brief_for_edition, edition_file
    from briefing.store.subscribers import new_token

    brief = brief_for_edition(settings, store, edition)
    mail = prepare_mail(settings, brief, edition_file(settings, edition))
    return mail.letter(Recipient(addresses(1)[0], None, new_token(), "size")).data


# --- the three senders, each run in its own process ----------------------------------------


def run_ours(work: Path, port: int, count: int, edition_id: int, pdf: str) -> None:
    from briefing.config import load_settings
    from briefing.deliver import send_edition
    from briefing.store import Store

    settings = load_settings()
    store = Store(settings.db_url)
    counts = send_edition(settings, store, edition_id)
    if counts.sent != count:
        raise SystemExit(f"ours sent {counts.sent} of {count}: {counts}")


def _bodies() -> tuple[str, str]:
    text = "Ukraine Daily Brief, 26 October 2024.\n\nThe full brief is attached.\n" * 20
    html = "<html><body>" + "<p>Ukraine Daily Brief: the full brief is attached.</p>" * 60
    return text, html + "</body></html>"


def run_naive(work: Path, port: int, count: int, edition_id: int, pdf: str) -> None:
    import yagmail

    _, html = _bodies()
    for address in addresses(count):
        client = yagmail.SMTP(
            user=SENDER,
            host="127.0.0.1",
            port=port,
            smtp_ssl=False,
            smtp_starttls=False,
            smtp_skip_login=True,
            soft_email_validation=False,
        )
        result = client.send(
            to=address, subject="Ukraine Daily Brief", contents=[html], attachments=[pdf]
        )
        client.close()
        if result is False:
            raise SystemExit(f"naive: {address} not sent")


def bare_message(pdf: str) -> bytes:
    text, html = _bodies()
    message = EmailMessage()
    message["Subject"] = "Ukraine Daily Brief"
    message["From"] = SENDER
    message["To"] = "reader@example.org"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    message.add_attachment(Path(pdf).read_bytes(), "application", "pdf", filename="brief.pdf")
    return message.as_bytes()


def run_bare(work: Path, port: int, count: int, edition_id: int, pdf: str) -> None:
    data = bare_message(pdf)
    with smtplib.SMTP("127.0.0.1", port) as connection:
        for address in addresses(count):
            connection.sendmail(SENDER, [address], data)


VARIANTS = {"ours": run_ours, "naive": run_naive, "bare": run_bare}


def child(variant: str, work: Path, port: int, count: int, edition_id: int, pdf: str) -> None:
    started = time.perf_counter()
    VARIANTS[variant](work, port, count, edition_id, pdf)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb}))


# --- the run ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_sink(sink: str, port: int) -> subprocess.Popen:
    command = [sink]
    if os.geteuid() == 0:
        command += ["-u", "nobody"]
    process = subprocess.Popen([*command, f"127.0.0.1:{port}", "256"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"{sink} did not start on port {port}")


def measure(variant: str, work: Path, port: int, count: int, prepared: dict) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        variant,
        "--work",
        str(work),
        "--port",
        str(port),
        "--count",
        str(count),
        "--edition",
        str(prepared["edition_id"]),
        "--pdf",
        prepared["pdf"],
    ]
    done = subprocess.run(
        command, env=environment(work, port), cwd=work, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"{variant} failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["rate"] = count / result["seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--sink", default=shutil.which("smtp-sink") or "/usr/sbin/smtp-sink")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--edition", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--pdf", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.work, args.port, args.count, args.edition, args.pdf)
        return
    if not Path(args.sink).is_file():
        raise SystemExit(f"{args.sink} not found: apt-get install -y postfix")
    port = free_port()
    sink = start_sink(args.sink, port)
    failed = False
    try:
        for count in args.sizes:
            failed |= bench_size(count, port)
    finally:
        sink.terminate()
        sink.wait(timeout=10)
    sys.exit(1 if failed else 0)


def bench_size(count: int, port: int) -> bool:
    with tempfile.TemporaryDirectory(prefix="fanout-") as folder:
        work = Path(folder)
        prepared = run_prepare(work, port, count)
        results = {}
        for name in VARIANTS:
            results[name] = measure(name, work, port, count, prepared)
    print(
        f"\nN = {count:,} subscribers, PDF {prepared['pdf_bytes'] / 1024:.0f} KB, message "
        f"{prepared['ours'] / 1024:.0f} KB (ours), {prepared['bare'] / 1024:.0f} KB (bare)"
    )
    print(f"{'':>6} {'msg/s':>9} {'wall s':>8} {'peak MB':>8}")
    for name, result in results.items():
        print(
            f"{name:>6} {result['rate']:>9.1f} {result['seconds']:>8.2f} {result['peak_mb']:>8.1f}"
        )
    ours = results["ours"]
    vs_naive = ours["rate"] / results["naive"]["rate"]
    vs_bare = ours["rate"] / results["bare"]["rate"]
    print(f"ours/naive rate {vs_naive:.2f} · ours/bare rate {vs_bare:.2f}")
    verdicts = [
        vs_naive >= TARGETS["vs_naive"],
        vs_bare >= TARGETS["vs_bare"],
        ours["peak_mb"] < TARGETS["peak_mb"],
    ]
    print(
        f"targets: naive ratio >= {TARGETS['vs_naive']:.0f}, "
        f"bare ratio >= {TARGETS['vs_bare']:.2f}, peak < {TARGETS['peak_mb']} MB · "
        + ("ok" if all(verdicts) else "MISSED")
    )
    return not all(verdicts)


def run_prepare(work: Path, port: int, count: int) -> dict:
    """Prepare in a separate process so the parent stays small and imports nothing heavy."""
    code = (
        "import json, sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
        "import fanout; print(json.dumps(fanout.prepare(Path(sys.argv[2]), int(sys.argv[3]),"
        " int(sys.argv[4]))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent), str(work), str(port), str(count)],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"preparing failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
