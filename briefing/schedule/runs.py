"""The scheduled job: for each due (brief, slot), claim a run, poll the feeds, have the conductor
(`pipeline.publish`) make the edition and send it, record.

Exactly-once comes from the database, not from the scheduler: a run row is unique per
(brief, slot), an edition per (brief, slot) and a delivery per (edition, subscriber), and every
step skips what is already done. So a restart, a re-run or a second process yields no second
edition and no second email (at most the one message in flight when a process was killed).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from briefing.config import Settings
from briefing.errors import BriefingError
from briefing.ingest.feeds import poll_feeds
from briefing.pipeline import Sending, publish
from briefing.schedule.heartbeat import Heartbeat, current_owner, is_orphaned
from briefing.schedule.outcomes import RunOutcome, one_line, report_outcome
from briefing.schedule.slots import DuePlan, brief_schedule, in_catch_up, plan_slots
from briefing.store import Store
from briefing.store.db import now as utc_now
from briefing.store.editions import Edition
from briefing.store.runs import (
    FAILED,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    Owner,
    ScheduleRun,
    add_run,
    add_skipped,
    finish,
    mark_orphaned,
    newest_slot,
    open_runs,
    stop_retrying,
    take_over,
)

log = logging.getLogger(__name__)

FIRST_RETRY = timedelta(minutes=5)
LONGEST_RETRY = timedelta(hours=2)


def retry_delay(attempt: int) -> timedelta:
    """5 min, 15 min, 45 min, then every 2 h: few admin notices, yet a fix is soon noticed."""
    return min(FIRST_RETRY * 3 ** (attempt - 1), LONGEST_RETRY)


class Runner:
    """Does the scheduled work of one process; safe to call from several threads."""

    def __init__(
        self, settings: Settings, store: Store, stop: threading.Event, owner: Owner | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.stop = stop
        self.owner = owner or current_owner()
        self.schedules = {name: brief_schedule(settings, name) for name in settings.brief_names}
        self._busy = {name: threading.Lock() for name in self.schedules}
        self._active: dict[int, threading.Event] = {}  # run id → that run's stop signal
        self._idle = threading.Condition()
        threading.Thread(target=self._relay_stop, name="stop-relay", daemon=True).start()

    def sweep(self, now: datetime | None = None) -> list[RunOutcome]:
        """Every brief: reap dead runs, retry failed ones, catch up a missed slot."""
        return [outcome for name in self.schedules for outcome in self.run_due(name, now)]

    def run_due(
        self, brief: str, now: datetime | None = None, wait: bool = False
    ) -> list[RunOutcome]:
        """Do what is due for one brief at `now` (default: the time it gets its turn).

        One thread of a process works on a brief at a time: with `wait` (a slot's own wake-up)
        the call waits its turn, so a slot is not lost to a sweep that happened to be running;
        without (the periodic sweep) it returns at once if the brief is busy.
        """
        busy = self._busy[brief]
        while not busy.acquire(timeout=0.5 if wait else 0):
            if not wait or self.stop.is_set():
                return []
        try:
            return [] if self.stop.is_set() else self._run_due(brief, now or utc_now())
        finally:
            busy.release()

    def next_run(self, brief: str, now: datetime | None = None) -> datetime | None:
        return self.schedules[brief].next_after(now or utc_now())

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no run is in progress; False if one still is after `timeout` seconds."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._active, timeout)

    def _run_due(self, brief: str, now: datetime) -> list[RunOutcome]:
        _, spec = self.settings.brief(brief)
        self._reap(brief, now, spec.catch_up)
        with self.store.session() as session:
            since = newest_slot(session, brief)
            retries = [
                run
                for run in open_runs(session, brief)
                if run.status == FAILED and run.retry_at and run.retry_at <= now
            ]
        plan = plan_slots(self.schedules[brief], now, spec.catch_up, since)
        if since is not None:  # a brief with no recorded run has missed nothing
            self._skip_missed(brief, plan, since, now, spec.catch_up)
        outcomes = []
        for run in retries:
            if not self.stop.is_set() and (outcome := self._attempt(brief, run.slot, run)):
                outcomes.append(outcome)
        if plan.due and not self.stop.is_set() and (outcome := self._attempt(brief, plan.due)):
            outcomes.append(outcome)
        return outcomes

    def _skip_missed(
        self,
        brief: str,
        plan: DuePlan,
        since: datetime,
        now: datetime,
        catch_up: timedelta,
    ) -> None:
        """Record never-attempted slots as skipped, and say why in the log."""
        if not plan.missed_total:
            return
        schedule = self.schedules[brief]
        covered = f"covered by the edition of {schedule.local_time(plan.due)}" if plan.due else ""
        with self.store.session() as session:
            add_skipped(session, brief, plan.superseded, now, f"not run in time; {covered}")
            add_skipped(session, brief, plan.expired, now, f"older than catch_up ({catch_up})")
        log.warning(
            "brief %s: %s slot(s) after %s were not run in time and are skipped%s",
            brief,
            plan.missed_total,
            schedule.local_time(since),
            f"; {covered}" if covered else f" (older than catch_up, {catch_up})",
            extra={"event": "slots_skipped", "brief": brief, "count": plan.missed_total},
        )

    def _reap(self, brief: str, now: datetime, catch_up: timedelta) -> None:
        """Runs of dead processes become failed; failed runs out of the window stop retrying."""
        with self.store.session() as session:
            runs = open_runs(session, brief)
        for run in runs:
            if run.status == RUNNING and is_orphaned(run, self.owner, self._active, now):
                self._fail_orphan(brief, run, now)
            if run.status == FAILED and not in_catch_up(run.slot, now, catch_up):
                self._give_up(brief, run, catch_up)

    def _fail_orphan(self, brief: str, run: ScheduleRun, now: datetime) -> None:
        """Mark a dead process's run failed and due at once (`run` is updated to match)."""
        error = f"left running by pid {run.owner_pid} on {run.owner_host}, which is gone"
        with self.store.session() as session:
            if not mark_orphaned(session, run, now, error):
                return
        run.status, run.retry_at = FAILED, now
        log.warning(
            "brief %s, slot %s: run %s; marked failed",
            brief,
            self.schedules[brief].local_time(run.slot),
            error,
            extra={"event": "run_orphaned", "brief": brief, "slot": run.slot},
        )

    def _give_up(self, brief: str, run: ScheduleRun, catch_up: timedelta) -> None:
        """A failed slot out of the catch-up window is tried no more, like a missed one that old."""
        with self.store.session() as session:
            if not stop_retrying(session, run):
                return
        log.warning(
            "brief %s, slot %s: giving up after %s attempt(s); "
            "the slot is older than catch_up (%s)",
            brief,
            self.schedules[brief].local_time(run.slot),
            run.attempts,
            catch_up,
            extra={"event": "run_abandoned", "brief": brief, "slot": run.slot},
        )

    def _claim(self, brief: str, slot: datetime, run: ScheduleRun | None) -> tuple[int, int] | None:
        """(run id, attempt) if this process won the slot, else None."""
        now = utc_now()
        if run is None:
            try:
                with self.store.session() as session:
                    return add_run(session, brief, slot, self.owner, now), 1
            except IntegrityError:
                return None
        with self.store.session() as session:
            return (run.id, run.attempts + 1) if take_over(session, run, self.owner, now) else None

    def _attempt(
        self, brief: str, slot: datetime, run: ScheduleRun | None = None
    ) -> RunOutcome | None:
        claim = self._claim(brief, slot, run)
        if claim is None:
            return None
        run_id, attempt = claim
        log.info(
            "brief %s, slot %s: run begun (attempt %s)",
            brief,
            self.schedules[brief].local_time(slot),
            attempt,
            extra={"event": "run_begun", "brief": brief, "slot": slot, "attempt": attempt},
        )
        with self._tracking(run_id) as stop:
            with Heartbeat(self.store, self.owner, run_id, attempt, stop) as heartbeat:
                outcome = self._execute(brief, slot, attempt, stop)
            if not heartbeat.lost:
                self._record(run_id, outcome)
        return outcome

    @contextmanager
    def _tracking(self, run_id: int) -> Iterator[threading.Event]:
        """Count the run as in progress; yields its stop signal (set on shutdown)."""
        stop = threading.Event()
        with self._idle:
            self._active[run_id] = stop
            if self.stop.is_set():
                stop.set()
        try:
            yield stop
        finally:
            with self._idle:
                del self._active[run_id]
                self._idle.notify_all()

    def _relay_stop(self) -> None:
        """Shutdown reaches every run at once, so no new message is begun after it."""
        self.stop.wait()
        with self._idle:
            for stop in self._active.values():
                stop.set()

    def _execute(
        self, brief: str, slot: datetime, attempt: int, stop: threading.Event
    ) -> RunOutcome:
        """Fresh news, then the conductor's publication of the slot's edition, as one outcome."""
        outcome = RunOutcome(brief, slot, RUNNING, attempt)
        try:
            self._poll_feeds(outcome)
            published = publish(
                self.settings, self.store, brief, slot=slot, watch=self._watch(outcome, stop)
            )
        except Exception as exc:  # a failed run must never stop the daemon
            return self._failed(outcome, exc)
        sent = published.sent
        if sent is None:
            return self._interrupted(outcome, "before sending")
        outcome.counts.update(sent.as_dict())
        if sent.skipped:  # an empty brief, not mailed: done, and the record says why
            outcome.status, outcome.error = SKIPPED, sent.skipped
            return outcome
        unsent = sent.failed + sent.remaining
        if unsent and stop.is_set():
            return self._interrupted(outcome, f"with {unsent} deliveries not yet sent")
        if unsent:
            return self._failed(outcome, BriefingError(f"{unsent} deliveries were not sent"))
        outcome.status = SUCCEEDED
        return outcome

    @staticmethod
    def _watch(
        outcome: RunOutcome, stop: threading.Event
    ) -> Callable[[Edition], AbstractContextManager[Sending]]:
        """The run's record learns of the edition before any mail goes out (so a failed send
        still names it); the mailing stops with the run."""

        @contextmanager
        def watch(edition: Edition) -> Iterator[Sending]:
            outcome.edition_id = edition.id
            outcome.counts["events"] = len(edition.event_ids)
            if edition.pending_event_ids:
                outcome.counts["pending_review"] = len(edition.pending_event_ids)
            yield None, stop

        return watch

    def _poll_feeds(self, outcome: RunOutcome) -> None:
        """Fresh news first; a feed that fails is logged, and the brief is made regardless."""
        if not self.settings.feeds:
            return
        try:
            report = poll_feeds(self.settings, self.store)
            errors = report.errors
            outcome.counts["feed_events"] = report.added + report.updated
        except Exception as exc:
            errors = [one_line(exc)]
        for error in errors:
            log.warning(
                "brief %s: feed: %s; the brief is made from the events stored",
                outcome.brief,
                error,
                extra={"event": "feed_failed", "brief": outcome.brief},
            )
        if errors:
            outcome.counts["feed_errors"] = len(errors)

    def _interrupted(self, outcome: RunOutcome, when: str) -> RunOutcome:
        outcome.status = FAILED
        outcome.error = f"interrupted by shutdown {when}; will be resumed"
        outcome.retry_at = utc_now()
        return outcome

    def _failed(self, outcome: RunOutcome, exc: Exception) -> RunOutcome:
        outcome.status = FAILED
        outcome.error = one_line(exc)
        outcome.notify = True
        if not isinstance(exc, BriefingError):
            log.error("unexpected error in a scheduled run", exc_info=exc)
        _, spec = self.settings.brief(outcome.brief)
        retry_at = utc_now() + retry_delay(outcome.attempt)
        if in_catch_up(outcome.slot, retry_at, spec.catch_up):
            outcome.retry_at = retry_at
        return outcome

    def _record(self, run_id: int, outcome: RunOutcome) -> None:
        with self.store.session() as session:
            finish(
                session,
                run_id,
                outcome.attempt,
                self.owner,
                status=outcome.status,
                now=utc_now(),
                counts=outcome.counts,
                error=outcome.error,
                retry_at=outcome.retry_at,
                edition_id=outcome.edition_id,
            )
        report_outcome(self.settings, self.schedules[outcome.brief], outcome, self.owner.host)
