"""Who a delivery may still go to: nobody who unsubscribed, bounced or left the brief is mailed,
whether the delivery is retried after a failure, freed from a dead sender, or waiting for its
retry when they leave; the ledger shows those deliveries `cancelled`."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import timedelta

import pytest

from briefing.deliver import send_edition
from briefing.store import Store
from briefing.store import deliveries as ledger
from briefing.store.db import now
from briefing.store.subscribers import find_subscriber, mark_subscriber_bounced, unsubscribe
from tests.deliver_fixtures import (
    edition_record,
    make_edition,
    people,
    subscribe,
    with_smtp,
)
from tests.smtp_fixtures import SmtpServer


def statuses(store: Store, edition_id: int) -> dict[str, str]:
    with store.session() as session:
        return {d.address: d.status for d in ledger.list_deliveries(session, edition_id=edition_id)}


def leave(store: Store, unsubscribed: str, left_daily: str, bounced: str) -> None:
    """Three ways of no longer receiving the daily brief."""
    with store.session() as session:
        unsubscribe(session, email=unsubscribed)
        unsubscribe(session, email=left_daily, brief="daily")
        mark_subscriber_bounced(session, find_subscriber(session, email=bounced).id)


def subscribe_four(store: Store) -> list[str]:
    """Four daily readers; the second also reads the weekly brief, so stays active."""
    readers = people(4)
    subscribe(store, readers)
    subscribe(store, readers[1:2], brief="weekly")
    return readers


def dead_local_worker() -> str:
    """The name a sender on this host had, whose process has ended."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return f"{socket.gethostname()}:{process.pid}"


def test_nobody_who_left_is_mailed_when_failed_deliveries_are_retried(settings, store, mailbox):
    down = SmtpServer(mailbox)
    settings = with_smtp(settings, down.port)
    edition = make_edition(settings, store)
    readers = subscribe_four(store)
    first = send_edition(settings, store, edition.id)
    assert first.failed == 4
    leave(store, *readers[:3])

    down.start()
    try:
        second = send_edition(settings, store, edition.id)
    finally:
        down.stop()

    assert mailbox.addresses() == [readers[3]]
    assert (second.sent, second.failed, second.remaining, second.cancelled) == (1, 0, 0, 3)
    assert statuses(store, edition.id) == {
        readers[0]: "cancelled",
        readers[1]: "cancelled",
        readers[2]: "cancelled",
        readers[3]: "sent",
    }


@pytest.mark.parametrize("claim", ["dead sender on this host", "expired claim of another host"])
def test_a_claim_freed_from_a_lost_sender_is_not_mailed_to_someone_who_left(
    settings, store, server, mailbox, claim
):
    settings = with_smtp(settings, server.port)
    edition = make_edition(settings, store)
    readers = subscribe_four(store)
    if claim == "dead sender on this host":
        worker, until = dead_local_worker(), now() + timedelta(hours=1)
    else:
        worker, until = "elsewhere:1", now() - timedelta(seconds=1)
    with store.session() as session:
        ledger.ensure_deliveries(session, edition.id, "daily")
    with store.session() as session:
        claimed = ledger.claim_deliveries(session, edition.id, worker=worker, limit=10, until=until)
    assert len(claimed) == 4
    leave(store, *readers[:3])

    counts = send_edition(settings, store, edition.id)

    assert mailbox.addresses() == [readers[3]]
    assert (counts.sent, counts.remaining, counts.cancelled) == (1, 0, 3)
    assert statuses(store, edition.id)[readers[0]] == "cancelled"


def test_someone_who_leaves_while_their_retry_waits_is_not_mailed(settings, store, server, mailbox):
    settings = with_smtp(settings, server.port, backoff=0.3)
    edition = make_edition(settings, store)
    readers = people(3)
    subscribe(store, readers)
    mailbox.defer_once.add(readers[0])
    left = []

    def on_progress(counts) -> None:
        if not left:  # the first outcome recorded is the 451 for readers[0]
            with store.session() as session:
                unsubscribe(session, email=readers[0])
            left.append(readers[0])

    counts = send_edition(settings, store, edition.id, progress=on_progress)

    assert left and sorted(mailbox.addresses()) == readers[1:]
    assert (counts.sent, counts.failed, counts.remaining, counts.cancelled) == (2, 0, 0, 1)
    assert statuses(store, edition.id)[readers[0]] == "cancelled"


def test_the_ledger_claims_and_requeues_only_who_still_receives_the_brief(database_url):
    store = Store(database_url)
    try:
        edition_id = edition_record(store, brief="daily")
        readers = subscribe_four(store)
        with store.session() as session:
            assert ledger.ensure_deliveries(session, edition_id, "daily") == 4
        with store.session() as session:
            claimed = claim(session, edition_id)
            due = {c.address: now() - timedelta(minutes=4 - n) for n, c in enumerate(claimed)}
            for item in claimed:
                retry_at = due[item.address]
                ledger.record_retry(session, item.id, error="451", response=None, retry_at=retry_at)
        leave(store, *readers[:3])

        with store.session() as session:
            assert ledger.next_retry_at(session, edition_id) == due[readers[3]]
        with store.session() as session:
            claimed = claim(session, edition_id)
            assert [c.address for c in claimed] == [readers[3]]
            ledger.release_claims(session, edition_id, ids=[c.id for c in claimed])
        with store.session() as session:
            assert ledger.fail_pending(session, edition_id, error="server down") == 4
        with store.session() as session:
            assert ledger.requeue_failed(session, edition_id) == 1
        with store.session() as session:
            assert ledger.cancel_unwanted(session, edition_id) == 3
            counts = ledger.delivery_counts(session, edition_id)
            rows = ledger.list_deliveries(session, edition_id=edition_id, status="cancelled")
        assert (counts["pending"], counts["failed"], counts["cancelled"]) == (1, 0, 3)
        assert {row.address for row in rows} == set(readers[:3])
        assert {row.last_error for row in rows} == {ledger.LEFT}
    finally:
        store.dispose()


def claim(session, edition_id: int) -> list[ledger.ClaimedDelivery]:
    until = now() + timedelta(minutes=5)
    return ledger.claim_deliveries(session, edition_id, worker="w:1", limit=10, until=until)


def test_removing_a_subscriber_removes_their_deliveries(database_url):
    from briefing.store.subscribers import remove_subscriber

    store = Store(database_url)
    try:
        edition_id = edition_record(store, brief="daily")
        readers = people(2)
        subscribe(store, readers)
        with store.session() as session:
            ledger.ensure_deliveries(session, edition_id, "daily")
        with store.session() as session:
            remove_subscriber(session, readers[0])
        assert statuses(store, edition_id) == {readers[1]: "pending"}
    finally:
        store.dispose()


def test_rows_already_there_are_skipped_not_doubled_or_refused(database_url):
    from sqlalchemy import func, select

    from briefing.store.db import insert_ignoring_duplicates
    from briefing.store.subscribers import Subscription

    store = Store(database_url)
    try:
        edition_id = edition_record(store, brief="daily")
        readers = people(2)
        subscribe(store, readers)
        with store.session() as session:
            assert ledger.ensure_deliveries(session, edition_id, "daily") == 2
        with store.session() as session:
            assert ledger.ensure_deliveries(session, edition_id, "daily") == 0
            ann = find_subscriber(session, email=readers[0]).id
            rows = [{"subscriber_id": ann, "brief": b, "created_at": now()} for b in ("daily", "x")]
            session.execute(insert_ignoring_duplicates(session, Subscription).values(rows))
        with store.session() as session:
            assert session.scalar(select(func.count()).select_from(ledger.Delivery)) == 2
            assert find_subscriber(session, email=readers[0]).briefs == ["daily", "x"]
    finally:
        store.dispose()
