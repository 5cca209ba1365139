"""`briefing send` against a real loopback server that misbehaves: 421s, relays refusing
everyone, servers without SMTPUTF8. After each, the ledger must be the truth: no one lost,
no one mailed twice, every row not `sent` carrying the server's own reply, and the exit code
saying whether everything went.
"""

from __future__ import annotations

import json
import re

import pytest

from briefing.config import load_settings
from briefing.store import Store
from briefing.store.deliveries import list_deliveries
from briefing.store.subscribers import list_subscribers
from tests.deliver_fixtures import people, prepare
from tests.smtp_fixtures import Mailbox, SmtpServer

SERVER_REPLY = re.compile(r"\b[245]\d\d\b")


def ledger(edition_id: int) -> dict[str, dict]:
    store = Store(load_settings().db_url)
    try:
        with store.session() as session:
            rows = list_deliveries(session, edition_id=edition_id)
            return {row.address: row.as_dict() for row in rows}
    finally:
        store.dispose()


def subscriber_statuses() -> dict[str, str]:
    store = Store(load_settings().db_url)
    try:
        with store.session() as session:
            return {s.email: s.status for s in list_subscribers(session)}
    finally:
        store.dispose()


def assert_truthful(edition_id: int, readers: list[str], mailbox: Mailbox) -> dict[str, dict]:
    """No one lost, no one mailed twice, every row not sent with the server's reply."""
    rows = ledger(edition_id)
    assert sorted(rows) == sorted(readers), "someone has no ledger row"
    arrived = mailbox.addresses()
    assert len(arrived) == len(set(arrived)), f"mailed twice: {arrived}"
    for address, row in rows.items():
        assert (address in arrived) == (row["status"] == "sent"), row
        if row["status"] != "sent":
            assert row["last_error"] and SERVER_REPLY.search(row["last_error"]), row
    return rows


@pytest.mark.parametrize("stage", ["MAIL", "RCPT", "DATA"])
def test_a_421_once_is_survived_and_costs_no_one_an_attempt(
    cli, tmp_path, monkeypatch, server, mailbox, stage
):
    readers = people(5)
    # One attempt each: a 421 must not use up anyone's attempt, nor poison the next reader.
    edition_id = prepare(tmp_path, monkeypatch, server.port, readers, max_attempts=1)
    mailbox.fail_once[stage] = "421 4.3.2 Service shutting down, closing channel"

    result = cli("send", "--edition", edition_id, "--json")

    assert result.code == 0, result.err
    assert json.loads(result.out)["sent"] == 5
    rows = assert_truthful(edition_id, readers, mailbox)
    assert {row["status"] for row in rows.values()} == {"sent"}
    assert sorted(mailbox.addresses()) == readers


def test_a_dropped_connection_costs_no_one_an_attempt(cli, tmp_path, monkeypatch, server, mailbox):
    readers = people(5)
    edition_id = prepare(tmp_path, monkeypatch, server.port, readers, max_attempts=1)
    mailbox.drop_at = {2}

    result = cli("send", "--edition", edition_id, "--json")

    assert result.code == 0, result.err
    rows = assert_truthful(edition_id, readers, mailbox)
    assert {row["status"] for row in rows.values()} == {"sent"}


REFUSALS = {
    "relay denied at RCPT": ("RCPT", "554 5.7.1 <{address}>: Relay access denied"),
    "relay denied at MAIL FROM": ("MAIL", "554 5.7.1 <{address}>: Relay access denied"),
    "authentication required": ("MAIL", "530 5.7.0 Authentication required"),
}


@pytest.mark.parametrize("stage, reply", list(REFUSALS.values()), ids=list(REFUSALS))
def test_a_server_refusing_everyone_is_a_configuration_failure_not_bounces(
    cli, tmp_path, monkeypatch, server, mailbox, stage, reply
):
    readers = people(12)
    edition_id = prepare(tmp_path, monkeypatch, server.port, readers)
    mailbox.refuse_all[stage] = reply

    refused = cli("send", "--edition", edition_id, "--json")

    assert refused.code == 1
    (line,) = refused.err.strip().splitlines()
    assert reply.split(" ")[0] in line and reply.split(" ")[-1] in line, line
    assert len(mailbox.recipients_tried()) <= 3, "it kept trying after the same refusals"
    rows = assert_truthful(edition_id, readers, mailbox)
    assert {row["status"] for row in rows.values()} <= {"pending", "failed"}
    assert set(subscriber_statuses().values()) == {"active"}

    mailbox.refuse_all.clear()  # the operator fixes the relay settings, and runs send again
    fixed = cli("send", "--edition", edition_id, "--json")

    assert fixed.code == 0, fixed.err
    assert json.loads(fixed.out)["sent"] == 12
    assert sorted(mailbox.addresses()) == readers
    assert_truthful(edition_id, readers, mailbox)


def test_a_policy_refusal_of_one_reader_among_accepted_ones_bounces_only_them(
    cli, tmp_path, monkeypatch, server, mailbox
):
    readers = people(4)
    edition_id = prepare(tmp_path, monkeypatch, server.port, readers)
    refused = readers[0]  # refused before anyone was accepted: not yet known to be personal

    class RefusingOne(Mailbox):
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address == refused:
                self.commands.append(("RCPT", address))
                return f"554 5.7.1 <{address}>: Recipient address rejected by policy"
            return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    server.stop()
    box = RefusingOne()
    one = SmtpServer(box, port=server.port).start()
    try:
        result = cli("send", "--edition", edition_id, "--json")
    finally:
        one.stop()

    assert result.code == 0, result.err
    assert json.loads(result.out).items() >= {"sent": 3, "bounced": 1}.items()
    rows = assert_truthful(edition_id, readers, box)
    assert rows[refused]["status"] == "bounced"
    assert "Recipient address rejected by policy" in rows[refused]["last_error"]


def test_a_mailbox_rejection_bounces_that_reader_and_marks_them(
    cli, tmp_path, monkeypatch, server, mailbox
):
    readers = people(3)
    edition_id = prepare(tmp_path, monkeypatch, server.port, readers)
    mailbox.reject = {readers[0]}

    result = cli("send", "--edition", edition_id, "--json")

    assert result.code == 0, result.err
    rows = assert_truthful(edition_id, readers, mailbox)
    assert rows[readers[0]]["status"] == "bounced"
    assert "550 5.1.1" in rows[readers[0]]["last_error"]
    assert subscriber_statuses()[readers[0]] == "bounced"


def test_without_smtputf8_an_idn_domain_goes_as_idna_and_a_utf8_mailbox_fails(
    cli, tmp_path, monkeypatch, server, mailbox
):
    idn, utf8, plain = "user@bücher.example", "олена@example.org", "ann@example.org"
    edition_id = prepare(tmp_path, monkeypatch, server.port, [idn, utf8, plain])

    result = cli("send", "--edition", edition_id, "--json")

    assert result.code == 1  # one delivery could not be made: said, not hidden
    assert "SMTPUTF8" in result.err
    assert sorted(mailbox.addresses()) == ["ann@example.org", "user@xn--bcher-kva.example"]
    idna_copy = next(r for r in mailbox.received if r.recipients == ["user@xn--bcher-kva.example"])
    assert idna_copy.data.isascii()
    assert idna_copy.message["To"].addresses[0].addr_spec == "user@xn--bcher-kva.example"
    rows = ledger(edition_id)
    assert rows[idn]["status"] == "sent" and rows[plain]["status"] == "sent"
    assert rows[utf8]["status"] == "failed"
    assert "SMTPUTF8" in rows[utf8]["last_error"]
    assert subscriber_statuses()[utf8] == "active"


def test_a_relay_broken_since_an_earlier_run_bounces_no_one(
    cli, tmp_path, monkeypatch, server, mailbox
):
    first, later = people(12)[:2], people(12)[2:]
    edition_id = prepare(tmp_path, monkeypatch, server.port, first)
    assert cli("send", "--edition", edition_id).code == 0
    for address in later:
        assert cli("subscribers", "add", address).code == 0
    mailbox.refuse_all["RCPT"] = "554 5.7.1 <{address}>: Relay access denied"

    refused = cli("send", "--edition", edition_id, "--json")

    assert refused.code == 1 and "Relay access denied" in refused.err
    rows = assert_truthful(edition_id, first + later, mailbox)
    assert [rows[a]["status"] for a in later] == ["pending"] * len(later)
    assert set(subscriber_statuses().values()) == {"active"}
