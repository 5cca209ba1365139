"""How an attempt at a scheduled slot ended, and how that is told: a log line, an admins' notice.

A failure is what users notice most, so each failed attempt is logged with its reason and next
retry, and (when `admins` are configured) mailed to them; a notice that cannot be sent is only
logged, for the daemon must keep running.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from briefing.config import Settings
from briefing.deliver import send_notice
from briefing.errors import one_line
from briefing.schedule.slots import Schedule
from briefing.store.runs import SKIPPED, SUCCEEDED

log = logging.getLogger(__name__)


@dataclass
class RunOutcome:
    """How one attempt at a slot ended."""

    brief: str
    slot: datetime
    status: str
    attempt: int
    counts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    edition_id: int | None = None
    retry_at: datetime | None = None
    notify: bool = False


def report_outcome(settings: Settings, schedule: Schedule, outcome: RunOutcome, host: str) -> None:
    """Log how the attempt ended; mail the admins about a failure that asks for it."""
    fields = {
        "event": "run_finished",
        "brief": outcome.brief,
        "slot": outcome.slot,
        "status": outcome.status,
        "attempt": outcome.attempt,
        "edition_id": outcome.edition_id,
        "counts": outcome.counts,
        "error": outcome.error,
        "retry_at": outcome.retry_at,
    }
    counts = ", ".join(f"{key} {value}" for key, value in outcome.counts.items())
    where = f"brief {outcome.brief}, slot {schedule.local_time(outcome.slot)}"
    if outcome.status == SUCCEEDED:
        log.info(
            "%s: run succeeded: edition %s; %s", where, outcome.edition_id, counts, extra=fields
        )
        return
    if outcome.status == SKIPPED:
        log.info("%s: run skipped: %s", where, outcome.error, extra=fields)
        return
    retry = f"retry at {schedule.local_time(outcome.retry_at)}" if outcome.retry_at else "no retry"
    log.error("%s: run failed: %s (%s); %s", where, outcome.error, retry, counts, extra=fields)
    if outcome.notify and settings.admins:
        _notify_admins(settings, schedule, outcome, retry, host)


def _notify_admins(
    settings: Settings, schedule: Schedule, outcome: RunOutcome, retry: str, host: str
) -> None:
    subject = f"briefing: scheduled {outcome.brief} brief failed"
    text = (
        f"The scheduled run of brief {outcome.brief!r} for {schedule.local_time(outcome.slot)} "
        f"failed (attempt {outcome.attempt}) on {host}:\n\n{outcome.error}\n\n"
        f"Next: {retry}.\nCounts: {outcome.counts}\n"
    )
    try:
        send_notice(settings, settings.admins, subject, text)
    except Exception as exc:
        log.error(
            "could not mail the admins about the failed run: %s",
            one_line(exc),
            extra={"event": "notice_failed", "brief": outcome.brief},
        )
