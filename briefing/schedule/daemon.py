"""APScheduler wiring: one cron job per brief, a periodic sweep, the lock, and clean shutdown.

The scheduler only wakes the Runner up; which slots to run is decided from the database, so a
late, doubled or missed wake-up (a restart, a suspended host) never changes what gets made.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.exc import SQLAlchemyError

from briefing.config import Settings
from briefing.errors import BriefingError
from briefing.schedule.leader import SchedulerLock, scheduler_lock, wait_for_leadership
from briefing.schedule.runs import Runner
from briefing.schedule.slots import brief_schedule
from briefing.store import Store

log = logging.getLogger(__name__)

SWEEP_SECONDS = 30  # also bounds how late a slot runs after the host wakes from sleep
LOCK_POLL_SECONDS = 2.0
DRAIN_SECONDS = 30.0  # how long shutdown waits for the message in flight


def run_scheduler(
    settings: Settings, open_store: Callable[[], Store], *, standby: bool = True
) -> int:
    """Run until SIGTERM/SIGINT; the exit code (0 after a clean stop, 1 if the lock was lost).

    The store is opened (and migrated) only once this process leads, so two schedulers started
    together on a new database do not race to create its tables.
    """
    for name in settings.brief_names:
        brief_schedule(settings, name)  # a bad cron expression fails before any waiting
    stop = threading.Event()
    _handle_signals(stop)
    lock = scheduler_lock(settings.db_url)
    log.info(
        "scheduler starting (pid %s); briefs: %s",
        os.getpid(),
        ", ".join(settings.brief_names),
        extra={"event": "starting", "briefs": settings.brief_names},
    )
    try:
        if not wait_for_leadership(
            lock,
            stop,
            standby=standby,
            poll=LOCK_POLL_SECONDS,
            on_busy=_standing_by if standby else None,
        ):
            if stop.is_set():
                log.info("stopped while standing by", extra={"event": "stopped"})
                return 0
            raise BriefingError(
                f"another scheduler is running on this database ({lock.holder()}); "
                "start with --standby to wait for it instead"
            )
        return _lead(settings, open_store(), lock, stop)
    finally:
        lock.release()


def _standing_by(holder: str) -> None:
    log.warning(
        "another scheduler holds the lock (%s); standing by to take over",
        holder,
        extra={"event": "standby", "holder": holder},
    )


def _lead(settings: Settings, store: Store, lock: SchedulerLock, stop: threading.Event) -> int:
    runner = Runner(settings, store, stop)
    lost = threading.Event()
    scheduler = BlockingScheduler(
        timezone=UTC,
        executors={"default": ThreadPoolExecutor(2 * len(runner.schedules) + 1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    for name, schedule in runner.schedules.items():
        # A slot due while the previous slot's run is still going waits its turn (run_due) and
        # starts as that run ends, instead of being dropped until the next sweep.
        scheduler.add_job(
            _on_time, schedule.trigger, args=[runner, name], id=f"brief:{name}", max_instances=2
        )

    def sweep() -> None:
        if not lock.check():
            log.error("lost the scheduler lock; stopping", extra={"event": "lock_lost"})
            lost.set()
            stop.set()
            return
        with _logged("sweep"):
            runner.sweep()

    scheduler.add_job(sweep, "interval", seconds=SWEEP_SECONDS, next_run_time=datetime.now(UTC))
    log.info("scheduler leading (pid %s)", os.getpid(), extra={"event": "leading"})
    for name in runner.schedules:
        _announce_next(runner, name)
    threading.Thread(target=_shutdown_on, args=(stop, scheduler), daemon=True).start()
    scheduler.start()
    if not runner.wait_idle(DRAIN_SECONDS):
        log.error(
            "a run is still busy after %ss; exiting anyway (it will be resumed)",
            DRAIN_SECONDS,
            extra={"event": "drain_timeout"},
        )
        logging.shutdown()
        os._exit(1)
    log.info("scheduler stopped", extra={"event": "stopped"})
    return 1 if lost.is_set() else 0


def _on_time(runner: Runner, name: str) -> None:
    with _logged(f"brief {name}"):
        runner.run_due(name, wait=True)
    _announce_next(runner, name)


@contextmanager
def _logged(what: str) -> Iterator[None]:
    """An error outside a run (the database away, say) is logged; the next sweep tries again."""
    try:
        yield
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        log.error("%s: database error: %s", what, reason, extra={"event": "database_error"})
    except Exception:
        log.exception("%s: unexpected error", what, extra={"event": "error"})


def _announce_next(runner: Runner, name: str) -> None:
    upcoming = runner.next_run(name)
    if upcoming is None or runner.stop.is_set():
        return
    log.info(
        "brief %s: next run %s",
        name,
        runner.schedules[name].local_time(upcoming),
        extra={"event": "next_run", "brief": name, "at": upcoming},
    )


def _shutdown_on(stop: threading.Event, scheduler: BlockingScheduler) -> None:
    stop.wait()
    while not scheduler.running:  # a signal may come before start() has begun
        time.sleep(0.05)
    scheduler.shutdown(wait=False)


def _handle_signals(stop: threading.Event) -> None:
    """First SIGTERM/SIGINT: stop taking work, finish the message in flight. Second: go now."""

    def handler(signum: int, _frame) -> None:
        if stop.is_set():
            log.error("second signal; exiting at once", extra={"event": "forced_exit"})
            logging.shutdown()
            os._exit(1)
        stop.set()  # before the log line, so whoever reads "stopping" knows no work is begun
        log.info(
            "%s received; finishing the message in flight",
            signal.Signals(signum).name,
            extra={"event": "stopping"},
        )

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
