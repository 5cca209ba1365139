"""`briefing subscribers`: addresses checked, briefs known, imports all or nothing."""

from __future__ import annotations

import json

import pytest

from briefing.store import Store
from briefing.store.subscribers import issue_unsubscribe_tokens, subscribers_for

CONFIG = """default_brief = "daily"

[briefs.daily]
title = "Ukraine Daily Brief"

[briefs.weekly]
title = "Ukraine Weekly"
"""


@pytest.fixture(autouse=True)
def _two_briefs(tmp_path, monkeypatch):
    (tmp_path / "briefing.toml").write_text(CONFIG)
    monkeypatch.setenv("BRIEFING_OUTPUT_DIR", str(tmp_path / "output"))


def listed(cli, *args) -> dict[str, dict]:
    result = cli("subscribers", "list", "--json", *args)
    assert result.code == 0, result.err
    return {row["email"]: row for row in json.loads(result.out)}


def active_for(tmp_path, brief: str) -> list[str]:
    store = Store(f"sqlite:///{tmp_path / 'output' / 'briefing.db'}")
    try:
        with store.session() as session:
            return [s.email for s in subscribers_for(session, brief)]
    finally:
        store.dispose()


def test_add_normalises_the_address_and_defaults_to_the_default_brief(cli):
    assert cli("subscribers", "add", "  Ann@Example.ORG ", "--name", "Ann\nLee").code == 0

    rows = listed(cli)
    assert list(rows) == ["Ann@example.org"]
    ann = rows["Ann@example.org"]
    assert (ann["name"], ann["status"], ann["briefs"]) == ("Ann Lee", "active", ["daily"])
    assert "token" not in ann


def test_a_bad_address_or_unknown_brief_is_refused_in_one_line(cli):
    bad = cli("subscribers", "add", "ann@@example")
    assert bad.code == 1
    assert bad.err.startswith("error: 'ann@@example' is not a valid email address")
    assert len(bad.err.strip().splitlines()) == 1
    unknown = cli("subscribers", "add", "ann@example.org", "--brief", "monthly")
    assert unknown.code == 1 and "unknown brief 'monthly'" in unknown.err
    assert listed(cli) == {}


def test_unsubscribe_by_address_token_or_one_brief(cli, tmp_path):
    cli("subscribers", "add", "ann@example.org", "--brief", "daily", "--brief", "weekly")
    cli("subscribers", "add", "bob@example.org")

    assert cli("subscribers", "unsubscribe", "ann@example.org", "--brief", "weekly").code == 0
    assert listed(cli)["ann@example.org"]["briefs"] == ["daily"]
    assert cli("subscribers", "unsubscribe", "BOB@example.org").code == 0
    assert listed(cli)["bob@example.org"]["status"] == "unsubscribed"
    assert active_for(tmp_path, "daily") == ["ann@example.org"]

    store = Store(f"sqlite:///{tmp_path / 'output' / 'briefing.db'}")
    with store.session() as session:
        (token,) = issue_unsubscribe_tokens(
            session, [(subscribers_for(session, "daily")[0].id, None)]
        )
    store.dispose()
    assert cli("subscribers", "unsubscribe", "--token", token).code == 0
    assert active_for(tmp_path, "daily") == []
    assert cli("subscribers", "unsubscribe", "--token", "nope").code == 1


def test_adding_again_reactivates_and_adds_briefs(cli):
    cli("subscribers", "add", "ann@example.org")
    cli("subscribers", "unsubscribe", "ann@example.org")

    result = cli("subscribers", "add", "ann@example.org", "--brief", "weekly", "--json")

    assert json.loads(result.out)["result"] == "updated"
    ann = listed(cli)["ann@example.org"]
    assert (ann["status"], ann["briefs"]) == ("active", ["daily", "weekly"])


def test_remove_deletes_the_subscriber(cli):
    cli("subscribers", "add", "ann@example.org")

    assert cli("subscribers", "remove", "ann@example.org").code == 0
    assert listed(cli) == {}
    missing = cli("subscribers", "remove", "ann@example.org")
    assert missing.code == 1 and "no subscriber with address ann@example.org" in missing.err


def test_import_adds_and_updates_but_never_resubscribes(cli, tmp_path):
    cli("subscribers", "add", "gone@example.org")
    cli("subscribers", "unsubscribe", "gone@example.org")
    path = tmp_path / "readers.csv"
    path.write_text(
        "email,name,briefs\n"
        "ann@example.org,Ann,daily;weekly\n"
        "Bob@Example.org,,\n"
        "gone@example.org,Gone Again,weekly\n"
    )

    result = cli("subscribers", "import", path, "--json")

    assert result.code == 0, result.err
    assert json.loads(result.out) == {"rows": 3, "added": 2, "updated": 1, "unchanged": 0}
    rows = listed(cli)
    assert rows["ann@example.org"]["briefs"] == ["daily", "weekly"]
    assert rows["Bob@example.org"]["briefs"] == ["daily"]
    assert rows["gone@example.org"]["status"] == "unsubscribed"


def test_a_bad_import_names_file_and_line_and_stores_nothing(cli, tmp_path):
    path = tmp_path / "readers.csv"
    path.write_text(
        "email,name,briefs\n"
        "ann@example.org,Ann,daily\n"
        "not-an-address,Bob,daily\n"
        "cy@example.org,Cy,monthly\n"
    )

    result = cli("subscribers", "import", path)

    assert result.code == 1
    assert result.err.startswith(f"error: {path}:3: email: 'not-an-address' is not a valid")
    assert "(and 1 more bad rows)" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert listed(cli) == {}
