"""Sending an edition to its subscribers, kept in step with the delivery ledger.

The ledger is the truth: a delivery is claimed before its message is built, and marked `sent`
only once the server accepted the message, one row per commit (see run.py). So a rerun after a
crash sends only what is not yet `sent` (at most the message in flight at the crash goes
twice), and several senders, threads or hosts, can share one edition.
"""

from __future__ import annotations

import logging
import os
import smtplib
import socket
import threading
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from briefing.archive import write_whole
from briefing.config import Settings
from briefing.deliver.mail import MAIL_POLICY, EditionMail, Recipient, header_text
from briefing.deliver.mailing import DeliveryCounts, Mailing, MailingProgress
from briefing.deliver.message import brief_slug, prepare_mail, sender_address
from briefing.deliver.smtp import Connection, check_login_settings, describe
from briefing.edition_brief import brief_for_edition, edition_file
from briefing.errors import BriefingError
from briefing.process import is_alive
from briefing.slug import slug
from briefing.store import Store
from briefing.store import deliveries as ledger
from briefing.store.db import now
from briefing.store.editions import Edition, get_edition
from briefing.store.subscribers import issue_unsubscribe_tokens, subscribers_for

log = logging.getLogger(__name__)


class DeliveryError(BriefingError):
    """Mail could not be handed to the server."""


def send_edition(
    settings: Settings,
    store: Store,
    edition_id: int,
    *,
    dry_run: bool = False,
    progress: MailingProgress | None = None,
    stop: threading.Event | None = None,
) -> DeliveryCounts:
    """Send the edition to every active subscriber of its brief who has not received it yet.

    An edition without events is not mailed unless its brief's `send_when_empty` says so
    (the counts say why: `skipped`). Idempotent: only deliveries not `sent` go out; those
    left `failed` by an earlier call get a fresh round of attempts, unless the subscriber has
    since unsubscribed, bounced or left the brief: their delivery is `cancelled` instead. With
    `stop` set, the message in flight is finished and the call returns. `dry_run` writes the
    messages under output/outbox/ instead and records nothing.
    """
    with store.session() as session:
        edition = get_edition(session, edition_id)
    if edition.format != "pdf":
        raise DeliveryError(
            f"edition {edition.id} is {edition.format.upper()}, not a PDF; "
            "send a PDF edition (briefing generate makes one by default)"
        )
    if not edition.event_ids and not settings.brief(edition.brief)[1].send_when_empty:
        reason = (
            f"edition {edition.id} has no events, so it is not mailed (set send_when_empty = "
            f"true in [briefs.{edition.brief}] to mail empty briefs)"
        )
        log.info(reason)
        return DeliveryCounts(skipped=reason)
    mail = _prepare(settings, store, edition)
    if dry_run:
        return write_outbox(settings, store, edition, mail)
    check_login_settings(settings.smtp)
    with store.session() as session:
        added = ledger.ensure_deliveries(session, edition.id, edition.brief)
    with store.session() as session:
        dead = dead_local_workers(ledger.claimed_workers(session, edition.id))
    with store.session() as session:
        released = ledger.release_claims(session, edition.id, workers=dead)
    with store.session() as session:
        cancelled = ledger.cancel_unwanted(session, edition.id)
    with store.session() as session:
        retried = ledger.requeue_failed(session, edition.id)
    log.info(
        "edition %s: %d new deliveries, %d claims of dead senders freed, %d cancelled "
        "(the subscriber left), %d failed ones retried",
        edition.id,
        added,
        released,
        cancelled,
        retried,
    )
    run = Mailing(settings.smtp, store, edition, mail, progress, stop or threading.Event())
    run.start()
    return run.finish()


def _prepare(settings: Settings, store: Store, edition: Edition) -> EditionMail:
    pdf = edition_file(settings, edition)
    if not pdf.is_file():
        raise DeliveryError(f"edition {edition.id}: its file {pdf} is missing")
    return prepare_mail(settings, brief_for_edition(settings, store, edition), pdf)


def dead_local_workers(workers: list[str]) -> list[str]:
    """Senders on this host whose process is gone: their claims need not wait for the timeout."""
    host, dead = socket.gethostname(), []
    for worker in workers:
        name, _, pid = worker.rpartition(":")
        if name == host and pid.isdigit() and int(pid) != os.getpid() and not is_alive(int(pid)):
            dead.append(worker)
    return dead


def write_outbox(
    settings: Settings, store: Store, edition: Edition, mail: EditionMail
) -> DeliveryCounts:
    """Write each message that would go out as an .eml file; nothing is sent or recorded."""
    folder = outbox_folder(settings, edition)
    folder.mkdir(parents=True, exist_ok=True)
    with store.session() as session:
        subscribers = subscribers_for(session, edition.brief)
        done = ledger.sent_subscriber_ids(session, edition.id)
        waiting = [subscriber for subscriber in subscribers if subscriber.id not in done]
        tokens = issue_unsubscribe_tokens(session, [(s.id, edition.brief) for s in waiting])
    written = failed = 0
    for subscriber, token in zip(waiting, tokens, strict=True):
        recipient = Recipient(
            subscriber.email, subscriber.name, token, f"e{edition.id}.s{subscriber.id}"
        )
        try:
            letter = mail.letter(recipient)
        except ValueError as exc:  # a real send would leave it `failed` for the same reason
            log.warning("%s: message not built: %s", subscriber.email, exc)
            failed += 1
            continue
        name = f"{subscriber.id:06d}-{slug(subscriber.email)}.eml"
        write_whole(folder / name, letter.data)
        written += 1
    log.info("edition %s: wrote %d messages to %s", edition.id, written, folder)
    already = len(done & {s.id for s in subscribers})
    return DeliveryCounts(sent=written, failed=failed, already_sent=already)


def outbox_folder(settings: Settings, edition: Edition) -> Path:
    return settings.output_dir / "outbox" / f"{brief_slug(edition.brief)}-edition-{edition.id}"


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
