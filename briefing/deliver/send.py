"""Sending an edition to its subscribers, kept in step with the delivery ledger.

The ledger is the truth: a delivery is claimed before its message is built, and marked `sent`
only once the server accepted the message, one row per commit. So a rerun after a crash sends
only what is not yet `sent` (at most the message in flight at the crash goes twice), and
several senders, threads or hosts, can share one edition.
"""

from __future__ import annotations

import logging
import os
import smtplib
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from briefing.config import Settings
from briefing.deliver.mail import MAIL_POLICY, EditionMail, Recipient, header_text
from briefing.deliver.message import prepare_mail, sender_address, slug
from briefing.deliver.smtp import (
    Connection,
    Outcome,
    SmtpFatalError,
    check_login_settings,
    describe,
)
from briefing.errors import BriefingError
from briefing.store import Store
from briefing.store import subscribers as ledger
from briefing.store.db import now
from briefing.store.editions import Edition, get_edition, latest_edition

log = logging.getLogger(__name__)

CLAIM_BATCH = 25


@dataclass(frozen=True)
class DeliveryCounts:
    """What one `send_edition` call did: sent, bounced and failed by it; sent before; left."""

    sent: int = 0
    failed: int = 0
    bounced: int = 0
    already_sent: int = 0
    remaining: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


Progress = Callable[[DeliveryCounts], None]


class DeliveryError(BriefingError):
    """Mail could not be handed to the server."""


def send_edition(
    settings: Settings,
    store: Store,
    edition_id: int,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> DeliveryCounts:
    """Send the edition to every active subscriber of its brief who has not received it yet.

    Idempotent: only deliveries not `sent` go out; those left `failed` by an earlier call get a
    fresh round of attempts. With `stop` set, the message in flight is finished and the call
    returns. `dry_run` writes the messages under output/outbox/ instead and records nothing.
    """
    with store.session() as session:
        edition = get_edition(session, edition_id)
    mail = _prepare(settings, store, edition)
    if dry_run:
        return write_outbox(settings, store, edition, mail)
    check_login_settings(settings.smtp)
    with store.session() as session:
        added = ledger.ensure_deliveries(session, edition.id, edition.brief)
    with store.session() as session:
        retried = ledger.requeue_failed(session, edition.id)
    with store.session() as session:
        dead = dead_local_workers(ledger.claimed_workers(session, edition.id))
    with store.session() as session:
        released = ledger.release_claims(session, edition.id, workers=dead)
    log.info(
        "edition %s: %d new deliveries, %d failed ones retried, %d claims of dead senders freed",
        edition.id,
        added,
        retried,
        released,
    )
    run = _Run(settings, store, edition, mail, progress, stop or threading.Event())
    run.start()
    return run.finish()


def _prepare(settings: Settings, store: Store, edition: Edition) -> EditionMail:
    from briefing.pipeline import brief_for_edition, edition_file

    pdf = edition_file(settings, edition)
    if not pdf.is_file():
        raise DeliveryError(f"edition {edition.id}: its file {pdf} is missing")
    return prepare_mail(settings, brief_for_edition(settings, store, edition), pdf)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def dead_local_workers(workers: list[str]) -> list[str]:
    """Senders on this host whose process is gone: their claims need not wait for the timeout."""
    host, dead = socket.gethostname(), []
    for worker in workers:
        name, _, pid = worker.rpartition(":")
        if name == host and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            dead.append(worker)
    return dead


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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


class _Run:
    """One `send_edition` call: its connections (threads), counts and the reason it stopped."""

    def __init__(self, settings, store, edition, mail, progress, stop) -> None:
        self.smtp = settings.smtp
        self.store = store
        self.edition = edition
        self.mail = mail
        self.progress = progress
        self.stop = stop
        self.worker = worker_name()
        self.limit = _RateLimit(self.smtp.rate_limit)
        self.batch = _batch_size(self.smtp.rate_limit, self.smtp.claim_timeout)
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

    def start(self) -> None:
        if self.smtp.connections == 1:
            self._work()
            return
        threads = [
            threading.Thread(target=self._work, name=f"smtp-{n}", daemon=True)
            for n in range(self.smtp.connections)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def finish(self) -> DeliveryCounts:
        failed = 0
        if self.unreachable:
            with self.store.session() as session:
                failed = ledger.fail_pending(session, self.edition.id, error=self.unreachable)
        with self.store.session() as session:
            counts = ledger.delivery_counts(session, self.edition.id)
        self.counts = replace(
            self.counts,
            failed=self.counts.failed + failed,
            remaining=counts[ledger.PENDING] + counts[ledger.SENDING],
        )
        if self.fatal:
            raise self.fatal
        return self.counts

    # --- one connection's loop ----------------------------------------------------------

    def _work(self) -> None:
        connection = Connection(self.smtp)
        try:
            while not (self.stop.is_set() or self.halt.is_set()):
                batch = self._claim()
                if batch:
                    self._deliver(connection, batch)
                elif not self._wait_for_retry(connection):
                    break
        except BriefingError as exc:
            self.fatal = exc
            self.halt.set()
        finally:
            connection.close()

    def _claim(self) -> list[ledger.ClaimedDelivery]:
        until = now() + self.smtp.claim_timeout
        with self.store.session() as session:
            return ledger.claim_deliveries(
                session, self.edition.id, worker=self.worker, limit=self.batch, until=until
            )

    def _deliver(self, connection: Connection, batch: list[ledger.ClaimedDelivery]) -> None:
        for index, item in enumerate(batch):
            try:
                if self.stop.is_set() or self.halt.is_set() or not self._connected(connection):
                    self._release(batch[index:])
                    return
                self._send_one(connection, item)
            except SmtpFatalError:
                self._release(batch[index:])
                raise
            except BaseException:
                self._release(batch[index + 1 :])
                raise

    def _send_one(self, connection: Connection, item: ledger.ClaimedDelivery) -> None:
        self.limit.wait(self.stop)
        recipient = Recipient(item.address, item.name, item.token, f"e{self.edition.id}.d{item.id}")
        try:
            letter = self.mail.smtp_letter(recipient)
        except ValueError as exc:
            self._record(item, None, Outcome("bounced", f"message not built: {exc}"))
            return
        outcome = connection.send(letter.data, self.mail.sender.addr_spec, item.address)
        self._record(item, letter.message_id, outcome)
        if outcome.reconnect:
            connection.close()

    def _connected(self, connection: Connection) -> bool:
        """Open the connection if needed, retrying with backoff while the server is down."""
        if connection.is_open:
            return True
        error = ""
        for attempt in range(1, self.smtp.max_attempts + 1):
            try:
                connection.open()
                return True
            except (ssl.SSLCertVerificationError, smtplib.SMTPNotSupportedError) as exc:
                raise SmtpFatalError(f"{describe(self.smtp)}: {exc}") from None
            except (OSError, smtplib.SMTPException) as exc:
                error = f"{describe(self.smtp)}: cannot connect: {exc or type(exc).__name__}"
                log.warning("%s (attempt %d of %d)", error, attempt, self.smtp.max_attempts)
            if attempt < self.smtp.max_attempts and self.stop.wait(self._backoff(attempt)):
                return False
        self.unreachable = error
        self.halt.set()
        return False

    def _backoff(self, attempt: int) -> float:
        return self.smtp.backoff * 2 ** (attempt - 1)

    def _record(
        self, item: ledger.ClaimedDelivery, message_id: str | None, outcome: Outcome
    ) -> None:
        final = True
        # A bare connection, not an ORM session: this runs once per message.
        with self.store.engine.begin() as session:
            if outcome.status == "sent":
                ledger.record_sent(
                    session, item.id, message_id=message_id, response=outcome.response
                )
            elif outcome.status == "bounced":
                ledger.record_bounce(
                    session,
                    item.id,
                    message_id=message_id,
                    error=outcome.response,
                    response=outcome.response,
                )
                if outcome.bad_mailbox:
                    ledger.mark_subscriber_bounced(session, item.subscriber_id)
            else:
                attempts = item.attempts + 1
                retry_at = None
                if attempts < self.smtp.max_attempts:
                    retry_at = now() + timedelta(seconds=self._backoff(attempts))
                    final = False
                ledger.record_retry(
                    session, item.id, error=outcome.response, response=None, retry_at=retry_at
                )
        log.info(
            "delivery %s to %s: %s (%s)", item.id, item.address, outcome.status, outcome.response
        )
        status = "failed" if outcome.status == "retry" else outcome.status
        with self.lock:
            if final:
                self.counts = replace(
                    self.counts,
                    remaining=self.counts.remaining - 1,
                    **{status: getattr(self.counts, status) + 1},
                )
            if self.progress:
                self.progress(self.counts)

    def _release(self, items: list[ledger.ClaimedDelivery]) -> None:
        if items:
            with self.store.session() as session:
                ledger.release_claims(session, self.edition.id, ids=[i.id for i in items])

    def _wait_for_retry(self, connection: Connection) -> bool:
        """Wait until a delivery that failed for now may be tried again; False when none."""
        with self.store.session() as session:
            when = ledger.next_retry_at(session, self.edition.id)
        if when is None:
            return False
        delay = (when - now()).total_seconds()
        if delay > 1:
            connection.close()
        return not self.stop.wait(min(max(delay, 0.05), 5.0))


def _batch_size(rate: float, claim_timeout: timedelta) -> int:
    """Small batches; slow enough sending must not outlive its claim."""
    if not rate:
        return CLAIM_BATCH
    return max(1, min(CLAIM_BATCH, int(rate * claim_timeout.total_seconds() / 4)))


def write_outbox(
    settings: Settings, store: Store, edition: Edition, mail: EditionMail
) -> DeliveryCounts:
    """Write each message that would go out as an .eml file; nothing is sent or recorded."""
    folder = outbox_folder(settings, edition)
    folder.mkdir(parents=True, exist_ok=True)
    with store.session() as session:
        subscribers = ledger.subscribers_for(session, edition.brief)
        done = ledger.sent_subscriber_ids(session, edition.id)
    written = 0
    for subscriber in subscribers:
        if subscriber.id in done:
            continue
        recipient = Recipient(
            subscriber.email, subscriber.name, subscriber.token, f"e{edition.id}.s{subscriber.id}"
        )
        name = f"{subscriber.id:06d}-{slug(subscriber.email)}.eml"
        _write_atomically(folder / name, mail.letter(recipient).data)
        written += 1
    log.info("edition %s: wrote %d messages to %s", edition.id, written, folder)
    return DeliveryCounts(sent=written, already_sent=len(done & {s.id for s in subscribers}))


def outbox_folder(settings: Settings, edition: Edition) -> Path:
    return settings.output_dir / "outbox" / f"{slug(edition.brief)}-edition-{edition.id}"


def _write_atomically(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def send_notice(settings: Settings, recipients: list[str], subject: str, text: str) -> None:
    """Mail a short plain-text notice (e.g. a failed scheduled run) to each recipient."""
    smtp = settings.smtp
    check_login_settings(smtp)
    sender = sender_address(smtp.from_name, smtp.from_address)
    connection = Connection(smtp)
    problems = []
    try:
        for address in recipients:
            message = EmailMessage(policy=MAIL_POLICY)
            message["Subject"] = header_text(subject)
            message["From"] = sender
            message["To"] = header_text(address)
            message["Date"] = now()
            message["Message-ID"] = make_msgid("notice", sender.domain)
            message.set_content(text)
            try:
                outcome = connection.send(message, sender.addr_spec, header_text(address))
            except (OSError, smtplib.SMTPException) as exc:
                raise DeliveryError(f"{describe(smtp)}: notice not sent: {exc}") from None
            if outcome.status != "sent":
                problems.append(f"{address}: {outcome.response}")
    finally:
        connection.close()
    if problems:
        raise DeliveryError(f"notice not delivered to {'; '.join(problems)}")


def current_edition(settings: Settings, store: Store, brief: str | None) -> Edition:
    """The latest edition of the brief, generated first when none covers its newest slot.

    The newest slot is the latest time the brief's schedule fell due (within a week); an
    edition whose window reaches it is current. Without a recent slot any edition is current.
    """
    from briefing.pipeline import generate_edition
    from briefing.slots import parse_schedule

    name, spec = settings.brief(brief)
    schedule = parse_schedule(spec.schedule, settings.brief_zone(spec), f"briefs.{name}.schedule")
    slot = schedule.latest(now(), timedelta(days=7))
    with store.session() as session:
        edition = latest_edition(session, name)
    if edition is None or (slot is not None and edition.window_end < slot):
        log.info("no edition of %s for the slot %s; generating one", name, slot)
        edition = generate_edition(settings, store, name)
    return edition
