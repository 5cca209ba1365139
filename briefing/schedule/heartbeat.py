"""Who works on a run, and whether they still do: heartbeats and the dead-owner rules.

A claimed run names its owner (host, pid, a token per process life) and keeps a heartbeat fresh
while it works. A `running` run counts as orphaned (its process gone, its slot to be retried)
when its heartbeat has been silent too long, or at once when its owner is a dead process on
this host; a run of this very process is orphaned only if it is no longer in progress here.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Container
from datetime import datetime, timedelta

from briefing.process import is_alive
from briefing.schedule.outcomes import one_line
from briefing.store import Store
from briefing.store.db import now as utc_now
from briefing.store.runs import Owner, ScheduleRun, beat

log = logging.getLogger(__name__)

HEARTBEAT_EVERY = timedelta(seconds=10)
ORPHAN_AFTER = timedelta(seconds=90)  # no heartbeat for this long: the owner is gone


def current_owner() -> Owner:
    """This process, as the owner of the runs it claims."""
    return Owner(socket.gethostname(), os.getpid(), uuid.uuid4().hex)


def is_orphaned(run: ScheduleRun, owner: Owner, working: Container[int], now: datetime) -> bool:
    """Whether a `running` run's owner is gone; `working` holds the ids `owner` is working on."""
    if run.owner_token == owner.token:
        return run.id not in working
    if run.owner_host == owner.host and run.owner_pid and not is_alive(run.owner_pid):
        return True
    return run.heartbeat_at is None or now - run.heartbeat_at > ORPHAN_AFTER


class Heartbeat:
    """Keeps a claimed run's heartbeat fresh while it works, in a thread of its own.

    If another process has taken the run over, it sets the run's `stop` and `lost`: this
    process then finishes the message in flight and records nothing.
    """

    def __init__(
        self, store: Store, owner: Owner, run_id: int, attempt: int, stop: threading.Event
    ) -> None:
        self._store = store
        self._owner = owner
        self._run_id = run_id
        self._attempt = attempt
        self.stop = stop
        self.lost = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{run_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._done.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._done.wait(HEARTBEAT_EVERY.total_seconds()):
            self._beat()

    def _beat(self) -> None:
        try:
            with self._store.session() as session:
                mine = beat(session, self._run_id, self._attempt, self._owner, utc_now())
        except Exception as exc:
            log.warning("heartbeat failed: %s", one_line(exc), extra={"event": "heartbeat"})
            return
        if not mine:
            self.lost = True
            self.stop.set()
            log.error(
                "run %s was taken over by another process; stopping it here",
                self._run_id,
                extra={"event": "run_lost", "run_id": self._run_id},
            )
