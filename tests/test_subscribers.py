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
    lines = result.err.strip().splitlines()
    assert lines[0].startswith(f"error: {path}:3: email: 'not-an-address' is not a valid")
    assert lines[1].startswith(f"{path}:4: briefs: unknown brief 'monthly'")
    assert lines[2:] == ["nothing was imported (2 bad rows)"]
    assert listed(cli) == {}


def _import(cli, tmp_path, text: str):
    path = tmp_path / "readers.csv"
    path.write_text(text)
    return path, cli("subscribers", "import", path)


def test_an_import_refuses_duplicates_that_differ_only_in_case(cli, tmp_path):
    path, result = _import(
        cli, tmp_path, "email,name\nann@example.org,Ann\nbob@example.org,Bob\nANN@example.org,A.\n"
    )

    assert result.code == 1
    assert result.err.splitlines() == [
        f"error: {path}:4: email: 'ANN@example.org' already appears at line 2",
        "nothing was imported (1 bad row)",
    ]
    assert listed(cli) == {}


def test_an_import_refuses_unknown_columns(cli, tmp_path):
    path, result = _import(cli, tmp_path, "email,name,brief\nann@example.org,Ann,weekly\n")

    assert result.code == 1
    assert result.err.strip() == (
        f"error: {path}:1: unknown column 'brief' (expected email, name, briefs)"
    )
    assert listed(cli) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('email,name\nann@example.org,Ann\nbob@example.org,"Bob cut off', "3: malformed CSV:"),
        ("email,name\nann@example.org,Ann\x00Lee\n", "2: name: control character U+0000"),
        ("email,name\nann@example.org,Ann,extra\n", "2: more values than header columns"),
        ("email,name\n", " no subscribers found; nothing was imported"),
    ],
)
def test_an_import_refuses_a_cut_off_file_control_characters_and_no_rows(
    cli, tmp_path, text, message
):
    path, result = _import(cli, tmp_path, text)

    assert result.code == 1
    assert result.err.startswith(f"error: {path}:{message}")
    assert listed(cli) == {}
