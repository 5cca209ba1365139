"""One `send_edition` call at work: connections sending claimed deliveries, kept in step with
the ledger.

A delivery is marked `sent` only once the server accepted its message. The ledger write of
one message and the assembly of the next are both done while the server reads the next
message's body, before the final "." that makes the server take it: they cost no time of
their own, and a message is never ended before the one before it is recorded. So a crash
(kill -9) leaves at most one accepted message unrecorded, which a rerun sends again.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import timedelta

from briefing.deliver.mail import EditionMail, Letter, Recipient
from briefing.deliver.roster import ascii_address
from briefing.deliver.smtp import (
    BOUNCED,
    FAILED,
    REFUSED,
    REQUEUE,
    RETRY,
    SENT,
    Connection,
    SendOutcome,
    SmtpFatalError,
    describe,
)
from briefing.deliver.transport import DotStuffed
from briefing.errors import BriefingError
from briefing.store import Store
from briefing.store import deliveries as ledger
from briefing.store.db import now
from briefing.store.editions import Edition
from briefing.store.subscribers import mark_subscriber_bounced

log = logging.getLogger(__name__)

CLAIM_BATCH = 100
# The same refusal for this many recipients in a row, none accepted: the server refuses us.
SAME_REFUSALS_LIMIT = 3
# Sessions failing in a row (421, dropped) before the server counts as unreachable.
SESSION_FAILURES_LIMIT = 3
# Addresses in a reply ("<ann@example.org>: Relay access denied"), left out to compare replies.
_REPLY_ADDRESS = re.compile(r"<[^>]*>|\S+@\S+")


@dataclass(frozen=True)
class DeliveryCounts:
    """What one `send_edition` call did: sent, bounced and failed by it; sent before; left;
    how many of the edition's deliveries are cancelled because the subscriber left; and why
    nothing was sent at all (`skipped`), if so."""

    sent: int = 0
    failed: int = 0
    bounced: int = 0
    already_sent: int = 0
    remaining: int = 0
    cancelled: int = 0
    skipped: str | None = None

    def as_dict(self) -> dict[str, int]:
        """The counts alone (`skipped` is not one)."""
        return {key: value for key, value in asdict(self).items() if key != "skipped"}


MailingProgress = Callable[[DeliveryCounts], None]


def worker_name() -> str:
    """Who holds a claim: this host and process (see send.dead_local_workers)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class _RateLimit:
    """Spaces messages so that all connections together stay under `rate` per second."""

    def __init__(self, rate: float) -> None:
        self.interval = 1 / rate if rate else 0.0
        self.next = time.monotonic()
        self.lock = threading.Lock()

    def wait(self, stop: threading.Event) -> None:
        if not self.interval:
            return
        with self.lock:
            slot = max(self.next, time.monotonic())
            self.next = slot + self.interval
        stop.wait(max(0.0, slot - time.monotonic()))


def _batch_size(rate: float, claim_timeout: timedelta) -> int:
    """Small batches; slow enough sending must not outlive its claim."""
    if not rate:
        return CLAIM_BATCH
    return max(1, min(CLAIM_BATCH, int(rate * claim_timeout.total_seconds() / 4)))


class Mailing:
    """What all connections of one call share: the ledger, counts, and why sending stopped."""

    def __init__(
        self,
        smtp,
        store: Store,
        edition: Edition,
        mail: EditionMail,
        progress: MailingProgress | None,
        stop: threading.Event,
    ) -> None:
        self.smtp = smtp
        self.store = store
        self.edition = edition
        self.mail = mail
        self.progress = progress
        self.stop = stop
        self.worker = worker_name()
        self.limit = _RateLimit(smtp.rate_limit)
        self.batch = _batch_size(smtp.rate_limit, smtp.claim_timeout)
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.fatal: BriefingError | None = None
        self.unreachable: str | None = None
        with store.session() as session:
            counts = ledger.delivery_counts(session, edition.id)
        self.counts = DeliveryCounts(
            already_sent=counts[ledger.SENT],
            remaining=counts[ledger.PENDING] + counts[ledger.SENDING],
        )
        # Whether the server took a message in this run: then a refusal is personal. (Not
        # counting earlier runs: the server's settings may have changed since.)
        self.accepted = False
        self.refusals: tuple[str, int] = ("", 0)  # the last refusal (addresses left out), count

    def start(self) -> None:
        if self.smtp.connections == 1:
            _Worker(self).work()
            return
        threads = [
            threading.Thread(target=_Worker(self).work, name=f"smtp-{n}", daemon=True)
            for n in range(self.smtp.connections)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def finish(self) -> DeliveryCounts:
        """The final counts; whoever left while this ran has their delivery cancelled first,
        so that `remaining` counts only what is still to go."""
        failed = 0
        with self.store.session() as session:
            ledger.cancel_unwanted(session, self.edition.id)
        if self.unreachable:
            with self.store.session() as session:
                failed = ledger.fail_pending(session, self.edition.id, error=self.unreachable)
        with self.store.session() as session:
            counts = ledger.delivery_counts(session, self.edition.id)
        self.counts = replace(
            self.counts,
            failed=self.counts.failed + failed,
            remaining=counts[ledger.PENDING] + counts[ledger.SENDING],
            cancelled=counts[ledger.CANCELLED],
        )
        if self.fatal:
            with self.store.session() as session:
                ledger.note_untried(session, self.edition.id, reason=f"not tried: {self.fatal}")
            raise self.fatal
        return self.counts

    def stopping(self) -> bool:
        return self.stop.is_set() or self.halt.is_set()

    def give_up(self, error: BriefingError) -> None:
        self.fatal = error
        self.halt.set()

    def backoff(self, attempt: int) -> float:
        return self.smtp.backoff * 2 ** (attempt - 1)

    def claim(self) -> list[ledger.ClaimedDelivery]:
        until = now() + self.smtp.claim_timeout
        with self.store.session() as session:
            return ledger.claim_deliveries(
                session, self.edition.id, worker=self.worker, limit=self.batch, until=until
            )

    def release(self, items: list[ledger.ClaimedDelivery]) -> None:
        if items:
            with self.store.session() as session:
                ledger.release_claims(session, self.edition.id, ids=[i.id for i in items])

    def seconds_to_next_retry(self) -> float | None:
        """How long until a delivery that failed for now may be tried again; None when none."""
        with self.store.session() as session:
            when = ledger.next_retry_at(session, self.edition.id)
        return None if when is None else (when - now()).total_seconds()

    def record(
        self, item: ledger.ClaimedDelivery, message_id: str | None, outcome: SendOutcome
    ) -> None:
        """Write what became of one delivery to the ledger, then count it."""
        status = self._judge(outcome)
        final = True
        # A bare connection and prebuilt statements, not an ORM session: once per message.
        with self.store.engine.begin() as connection:
            if status == SENT:
                ledger.record_sent(
                    connection, item.id, message_id=message_id, response=outcome.response
                )
            elif status == BOUNCED:
                ledger.record_bounce(
                    connection,
                    item.id,
                    message_id=message_id,
                    error=outcome.response,
                    response=outcome.response,
                )
                if outcome.bad_mailbox:
                    mark_subscriber_bounced(connection, item.subscriber_id)
            elif status == REQUEUE:
                ledger.record_requeue(connection, item.id, error=outcome.response, response=None)
                final = False
            else:
                attempts = item.attempts + 1
                retry_at = None
                if status == RETRY and attempts < self.smtp.max_attempts:
                    retry_at = now() + timedelta(seconds=self.backoff(attempts))
                    final = False
                ledger.record_retry(
                    connection, item.id, error=outcome.response, response=None, retry_at=retry_at
                )
        log.info("delivery %s to %s: %s (%s)", item.id, item.address, status, outcome.response)
        self._count(status, final)

    def _judge(self, outcome: SendOutcome) -> str:
        """A 5xx that need not be about the mailbox bounces once the server has taken the
        edition for someone else; before that it is retried, and the same one for recipient
        after recipient stops the run: the server refuses us (relay denied), not them."""
        with self.lock:
            if outcome.status == SENT:
                self.accepted, self.refusals = True, ("", 0)
            if outcome.status != REFUSED:
                return outcome.status
            if self.accepted:
                return BOUNCED
            reply = _REPLY_ADDRESS.sub("<>", outcome.response)
            seen = self.refusals[1] + 1 if self.refusals[0] == reply else 1
            self.refusals = (reply, seen)
        if seen >= SAME_REFUSALS_LIMIT:
            self.give_up(
                SmtpFatalError(
                    f"{describe(self.smtp)} refused {seen} recipients in a row alike, which "
                    f"is its refusal of this sender, not of their mailboxes: {outcome.response}"
                    "; fix the server settings, then run `briefing send` again"
                )
            )
        return RETRY

    def requeue(self, item: ledger.ClaimedDelivery, error: str) -> None:
        """Back to the pool with why it did not go, no attempt counted (the session failed)."""
        with self.store.engine.begin() as connection:
            ledger.record_requeue(connection, item.id, error=error, response=None)

    def _count(self, status: str, final: bool) -> None:
        status = FAILED if status in (RETRY, REQUEUE) else status
        with self.lock:
            if final:
                self.counts = replace(
                    self.counts,
                    remaining=self.counts.remaining - 1,
                    **{status: getattr(self.counts, status) + 1},
                )
            if self.progress:
                self.progress(self.counts)


NO_SMTPUTF8 = (
    "{address}: the server does not offer SMTPUTF8, which a mailbox name beyond ASCII needs; "
    "ask its operator to enable SMTPUTF8, or use the subscriber's ASCII address"
)
Prepared = tuple[str, Letter[DotStuffed]] | SendOutcome


class _Stopped(Exception):
    """Asked to stop while a message was being sent: it is abandoned before its end."""


class _Worker:
    """One SMTP connection's loop: claim a batch, send it, record each outcome in time."""

    def __init__(self, run: Mailing) -> None:
        self.run = run
        self.connection = Connection(run.smtp)
        self.sender = run.mail.sender.addr_spec
        # The last outcome not yet in the ledger: written before the next message ends.
        self.unrecorded: tuple[ledger.ClaimedDelivery, str | None, SendOutcome] | None = None
        self.prefetched: tuple[int, Prepared] | None = None
        self.session_failures = 0

    def work(self) -> None:
        try:
            while not self.run.stopping():
                batch = self.run.claim()
                if batch:
                    self.deliver(batch)
                elif not self.wait_for_retry():
                    break
        except BriefingError as exc:
            self.run.give_up(exc)
        finally:
            try:
                self.record_pending()
            finally:
                self.connection.close()

    def deliver(self, batch: list[ledger.ClaimedDelivery]) -> None:
        for index, item in enumerate(batch):
            following = batch[index + 1] if index + 1 < len(batch) else None
            try:
                if self.run.stopping() or not self.connected():
                    self.record_pending()
                    self.run.release(batch[index:])
                    return
                self.send(item, following)
            except _Stopped:
                self.run.release(batch[index:])
                return
            except SmtpFatalError as exc:
                self.record_pending()
                self.run.requeue(item, str(exc))
                self.run.release(batch[index + 1 :])
                raise
            except BaseException:
                self.run.release(batch[index + 1 :])
                raise
        self.record_pending()

    def send(self, item: ledger.ClaimedDelivery, following: ledger.ClaimedDelivery | None) -> None:
        """Send one message; record the one before while the server reads this one's body."""
        if self.run.limit.interval:  # paced anyway: keep the ledger current while waiting
            self.record_pending()
        self.run.limit.wait(self.run.stop)
        prepared = self.prepared(item)
        if isinstance(prepared, SendOutcome):
            self.record_pending()
            self.unrecorded = (item, None, prepared)
            return
        address, letter = prepared

        def while_the_server_reads() -> None:
            self.record_pending()
            if self.run.stopping():
                raise _Stopped
            if following is not None:
                self.prefetched = (following.id, self.build(following))

        outcome = self.connection.send(
            letter.data, self.sender, address, before_end=while_the_server_reads
        )
        self.record_pending()
        self.unrecorded = (item, letter.message_id, outcome)
        if outcome.status != SENT:  # rare: the ledger (and the run's judgement) at once
            self.record_pending()
        self.after_session(outcome)

    def after_session(self, outcome: SendOutcome) -> None:
        """After a failed session (421, dropped): wait, then go on with a new one; after
        several in a row the server counts as unreachable."""
        if outcome.status != REQUEUE:
            self.session_failures = 0
            return
        self.connection.close()
        self.session_failures += 1
        if self.session_failures >= SESSION_FAILURES_LIMIT:
            self.run.unreachable = (
                f"{describe(self.run.smtp)}: {outcome.response} "
                f"({self.session_failures} sessions in a row)"
            )
            self.run.halt.set()
        else:
            self.run.stop.wait(self.run.backoff(self.session_failures))

    def record_pending(self) -> None:
        if self.unrecorded is not None:
            item, message_id, outcome = self.unrecorded
            self.unrecorded = None
            self.run.record(item, message_id, outcome)

    def prepared(self, item: ledger.ClaimedDelivery) -> Prepared:
        if self.prefetched is not None and self.prefetched[0] == item.id:
            prepared, self.prefetched = self.prefetched[1], None
            return prepared
        return self.build(item)

    def build(self, item: ledger.ClaimedDelivery) -> Prepared:
        """The envelope address and message for one delivery, or why there can be none."""
        address = item.address if self.connection.smtputf8 else ascii_address(item.address)
        if address is None:
            return SendOutcome(FAILED, NO_SMTPUTF8.format(address=item.address))
        key = f"e{self.run.edition.id}.d{item.id}"
        try:
            return address, self.run.mail.smtp_letter(
                Recipient(address, item.name, item.token, key)
            )
        except ValueError as exc:
            return SendOutcome(FAILED, f"message not built: {exc}")

    def connected(self) -> bool:
        """Open the connection if needed, retrying with backoff while the server is down."""
        if self.connection.is_open:
            return True
        smtp, error = self.run.smtp, ""
        for attempt in range(1, smtp.max_attempts + 1):
            try:
                self.connection.open()
                return True
            except (ssl.SSLCertVerificationError, smtplib.SMTPNotSupportedError) as exc:
                raise SmtpFatalError(f"{describe(smtp)}: {exc}") from None
            except (OSError, smtplib.SMTPException) as exc:
                error = f"{describe(smtp)}: cannot connect: {exc or type(exc).__name__}"
                log.warning("%s (attempt %d of %d)", error, attempt, smtp.max_attempts)
            if attempt < smtp.max_attempts and self.run.stop.wait(self.run.backoff(attempt)):
                return False
        self.run.unreachable = error
        self.run.halt.set()
        return False

    def wait_for_retry(self) -> bool:
        """Wait until a delivery that failed for now may be tried again; False when none."""
        delay = self.run.seconds_to_next_retry()
        if delay is None:
            return False
        if delay > 1:
            self.connection.close()
        return not self.run.stop.wait(min(max(delay, 0.05), 5.0))
