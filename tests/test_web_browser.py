"""A reader in a real browser: Debian's chromium, driven by Playwright, against `briefing serve`.

The server is the real command (uvicorn on loopback, in its own process); mail goes to a real
SMTP server on loopback. The reverse proxy at `public_url` is played by rewriting links to
the loopback address. `.ci/install-browser` installs chromium; without it this test is skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from briefing.config import load_settings
from briefing.store import Store
from tests.smtp_fixtures import free_port
from tests.web_fixtures import PUBLIC_URL, SECRET, archive_demo

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (run .ci/install-browser)"
)

CONFIG = """
timezone = "Europe/Kyiv"
public_url = "{public_url}"
output_dir = "output"

[briefs.daily]
title = "Situation Brief"
sections = ["military", "diplomatic"]
public = true
send_when_empty = true  # the later, empty edition still goes out

[briefs.desk]
title = "Desk Notes"
sections = ["aid"]

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from_address = "desk@briefing.test"
timeout = 10
"""


def briefing(config: Path, *args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "briefing", "--config", str(config), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def served(tmp_path, server):
    """`briefing serve` on a free loopback port, with the demo day archived."""
    config = tmp_path / "briefing.toml"
    config.write_text(CONFIG.format(public_url=PUBLIC_URL, smtp_port=server.port))
    env = {**os.environ, "BRIEFING_SECRET_KEY": SECRET}
    settings = load_settings(config, env)
    store = Store(settings.db_url)
    edition = archive_demo(settings, store)["daily"]
    store.dispose()
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "briefing", "--config", str(config), "serve", "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process)
        yield base, config, env, edition
    finally:
        process.terminate()
        process.wait(timeout=15)


def _wait_until_up(base: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"briefing serve exited: {process.stderr.read()}")
        try:
            if httpx.get(base + "/", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("briefing serve did not answer within 30 s")


def _wait_for_mail(mailbox, count: int) -> None:
    deadline = time.monotonic() + 15
    while len(mailbox.received) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(mailbox.received) >= count, "no mail arrived"


def test_a_reader_reads_subscribes_and_unsubscribes(served, mailbox, tmp_path):
    from playwright.sync_api import sync_playwright

    base, config, env, edition = served
    assert briefing(config, "subscribers", "add", "bob@example.org", env=env).returncode == 0

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_context(accept_downloads=True).new_page()
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text))
        page.on("response", lambda r: r.status >= 400 and errors.append(f"{r.status} {r.url}"))

        # The archive, then the edition, then its PDF.
        page.goto(base + "/")
        page.get_by_role("link", name="Situation Brief").click()
        page.get_by_role("link", name="Saturday, 26 October 2024").click()
        assert page.get_by_text("Russia launches 116 drones").first.is_visible()
        with page.expect_download() as download:
            page.get_by_role("link", name="Download PDF").click()
        pdf = Path(download.value.path()).read_bytes()
        assert hashlib.sha256(pdf).hexdigest() == edition.sha256
        assert download.value.suggested_filename == "daily-2024-10-26.pdf"

        # Subscribe, and confirm from the mail.
        page.goto(base + "/")
        page.get_by_role("link", name="Subscribe").first.click()
        page.get_by_label("Email").fill("ann@example.org")
        page.get_by_label("Name (optional)").fill("Ann Lee")
        page.get_by_role("button", name="Subscribe").click()
        assert page.get_by_role("heading", name="Check your inbox").is_visible()
        _wait_for_mail(mailbox, 1)
        confirmation = mailbox.received[0].message.get_content()
        link = re.search(rf"{re.escape(PUBLIC_URL)}/confirm\S+", confirmation).group(0)
        page.goto(link.replace(PUBLIC_URL, base))
        page.get_by_role("button", name="Confirm").click()
        assert page.get_by_text("is active").is_visible()
        assert errors == [], errors  # e.g. a stylesheet refused by the CSP, a missing file
        browser.close()

    # The next edition goes to Ann; her mail's one-click link unsubscribes her.
    sent = briefing(config, "send", "--edition", str(edition.id), "--json", env=env)
    assert sent.returncode == 0, sent.stderr
    to_ann = [r for r in mailbox.received if r.recipients == ["ann@example.org"]][-1]
    header = str(to_ann.message["List-Unsubscribe"])
    (one_click,) = re.findall(r"<(https://[^>]+)>", header)
    answer = httpx.post(
        one_click.replace(PUBLIC_URL, base), data={"List-Unsubscribe": "One-Click"}, timeout=10
    )
    assert answer.status_code == 200

    # The send after that skips her, and still reaches Bob.
    before = len(mailbox.received)
    later = briefing(
        config, "generate", "--since", "2024-10-27", "--until", "2024-10-27", "--json", env=env
    )
    assert later.returncode == 0, later.stderr
    next_edition = json.loads(later.stdout)["edition_id"]
    sent = briefing(config, "send", "--edition", str(next_edition), "--json", env=env)
    assert sent.returncode == 0, sent.stderr
    assert [r.recipients for r in mailbox.received[before:]] == [["bob@example.org"]]
