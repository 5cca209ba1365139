"""What `briefing schedule status` shows: the working scheduler, each brief's next and last runs.

Times are given in each brief's own zone, as its readers expect the brief, so a next run on a
daylight-saving day reads as the local morning it is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from briefing.config import Settings
from briefing.schedule.leader import scheduler_lock
from briefing.schedule.slots import brief_schedule
from briefing.store import Store
from briefing.store.db import now as utc_now
from briefing.store.runs import ScheduleRun, recent_runs

_RUN_TIMES = ("slot", "started_at", "finished_at", "heartbeat_at", "retry_at")


def schedule_status(settings: Settings, store: Store, runs: int = 5) -> dict[str, Any]:
    """Who holds the scheduler lock, and per brief its schedule, next run and last runs."""
    lock = scheduler_lock(settings.db_url)
    try:
        holder = lock.holder()
    finally:
        lock.release()
    now = utc_now()
    briefs = []
    with store.session() as session:
        for name in settings.brief_names:
            _, spec = settings.brief(name)
            schedule = brief_schedule(settings, name)
            briefs.append(
                {
                    "brief": name,
                    "schedule": spec.schedule,
                    "timezone": str(schedule.zone),
                    "catch_up_seconds": int(spec.catch_up.total_seconds()),
                    "next_run": _iso(schedule.next_after(now), schedule.zone),
                    "runs": [
                        _local_run(run, schedule.zone) for run in recent_runs(session, name, runs)
                    ],
                }
            )
    return {"scheduler": holder, "briefs": briefs}


def _local_run(run: ScheduleRun, zone: ZoneInfo) -> dict[str, Any]:
    """A run's record with its times in the brief's zone."""
    return run.as_dict() | {key: _iso(getattr(run, key), zone) for key in _RUN_TIMES}


def _iso(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return moment.astimezone(zone).isoformat(timespec="seconds") if moment else None
