"""Shared pieces of the web tests: a site with a public and a private brief, and their editions."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from briefing.config import Settings, load_settings
from briefing.store import Store
from briefing.store.editions import Edition, list_editions
from briefing.web.app import create_app
from tests.conftest import DEMO_EVENTS
from tests.deliver_fixtures import smtp_settings

SECRET = "test-secret-" + "k" * 32
PUBLIC_URL = "https://brief.example.org"
CONFIG = """
timezone = "Europe/Kyiv"
public_url = "{public_url}"

[briefs.daily]
title = "Situation Brief"
sections = ["military", "diplomatic"]
public = true

[briefs.desk]
title = "Desk Notes"
sections = ["aid"]
"""


def web_settings(folder: Path, *, smtp_port: int | None = None, **web) -> Settings:
    """`daily` is public (military, diplomatic); `desk` is private (aid)."""
    config = folder / "briefing.toml"
    config.write_text(CONFIG.format(public_url=PUBLIC_URL))
    settings = load_settings(
        config, {"BRIEFING_SECRET_KEY": SECRET, "BRIEFING_OUTPUT_DIR": str(folder / "output")}
    )
    update: dict = {}
    if smtp_port is not None:
        update["smtp"] = smtp_settings(smtp_port)
    if web:
        update["web"] = settings.web.model_copy(update=web)
    return settings.model_copy(update=update)


def archive_demo(settings: Settings, store: Store) -> dict[str, Edition]:
    """The demo day's events stored, and one PDF edition of each brief."""
    from briefing.ingest.files import read_events
    from briefing.pipeline import generate_edition
    from briefing.store.events import upsert_events

    with store.session() as session:
        upsert_events(session, read_events([str(DEMO_EVENTS)], settings))
    return {
        name: generate_edition(settings, store, name, day=date(2024, 10, 26))
        for name in ("daily", "desk")
    }


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', html).group(1)


def link_in(text: str, path: str) -> str:
    """The first link to `path` in a mail's text, e.g. the confirmation link."""
    return re.search(rf"{re.escape(PUBLIC_URL)}{re.escape(path)}\S*", text).group(0)


@pytest.fixture
def site(tmp_path, server, demo_archive):
    """A client of the web site over a copy of the demo archive (conftest's `demo_archive`),
    with its settings, store and editions; each test changes its own copy."""
    shutil.copytree(demo_archive, tmp_path / "output")
    settings = web_settings(tmp_path, smtp_port=server.port)
    store = Store(settings.db_url)
    with store.session() as session:
        editions = {name: list_editions(session, name)[0] for name in ("daily", "desk")}
    client = TestClient(create_app(settings, store))
    yield client, settings, store, editions
    client.close()
    store.dispose()
