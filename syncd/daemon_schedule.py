"""The daemon's timetable: when each source syncs and alerts are checked, and backoff.

APScheduler 3 (a BackgroundScheduler thread) only decides *when*: its jobs (one per enabled
source, on the source's ``every`` with jitter, ``coalesce=True``, ``max_instances=1``, plus the
alert check) call the daemon's ``request``, which queues work for the daemon's one worker
thread; no job ever runs a sync itself. A failing source is retried with exponential backoff
(:func:`retry_delay`) by moving its job, and put back on its interval once it works again.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from syncd.config import SourceConfig

if TYPE_CHECKING:
    from syncd.engine import SyncReport

# The daemon's parts log under one name, the one users filter the journal on (syncd.daemon:).
log = logging.getLogger("syncd.daemon")

#: The alert check runs after every sync and at least this often (quiet hours end, snoozes end).
ALERT_CHECK_EVERY = timedelta(minutes=10)
#: A gap this large between wall-clock and monotonic time means suspend/resume or a clock change.
CLOCK_JUMP = timedelta(minutes=2)
FIRST_RETRY = timedelta(minutes=1)


def retry_delay(failures: int, every: timedelta) -> timedelta:
    """Return how long to wait before retrying a source after ``failures`` failures in a row.

    One minute, doubling with each failure, never more than four intervals or an hour
    (whichever is longer): a flaky network is retried soon, a dead server is not hammered.
    """
    cap = max(every * 4, timedelta(hours=1))
    if failures <= 0:
        return every
    delay: timedelta = FIRST_RETRY * (2 ** min(failures - 1, 30))
    return min(cap, delay)


def jitter_seconds(every: timedelta) -> int:
    """Return the scheduling jitter for an interval: 10% of it, at most five minutes."""
    return int(min(every.total_seconds() * 0.1, 300))


class Schedule:
    """The scheduler jobs that queue ``("sync", NAME)`` and ``("alerts",)`` requests.

    ``request`` is the daemon's thread-safe request queue; jobs call it on the scheduler's
    thread. Until :meth:`start` (and after :meth:`shutdown`) there are no jobs: scheduling
    calls do nothing and :meth:`next_run` returns None. ``failures`` counts each source's
    failed syncs in a row (:meth:`after_sync` keeps it).
    """

    def __init__(self, request: Callable[..., None],
                 alert_every: timedelta = ALERT_CHECK_EVERY) -> None:
        self._request = request
        self._alert_every = alert_every
        self._scheduler: Any = None
        self.failures: dict[str, int] = {}

    def start(self, sources: Iterable[SourceConfig]) -> None:
        """Start the scheduler thread with a job per enabled source and the alert check."""
        from apscheduler.schedulers.background import BackgroundScheduler

        self._scheduler = BackgroundScheduler(timezone=UTC, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        self._scheduler.start()
        for source in sources:
            if source.enabled:
                self.add(source, source.every)
        self._scheduler.add_job(self._request, self._interval(self._alert_every, 30),
                                args=["alerts"], id="alerts", replace_existing=True)

    def shutdown(self) -> None:
        """Stop the scheduler thread without waiting for it; no job fires after this."""
        if self._scheduler is not None:
            with contextlib.suppress(Exception):
                self._scheduler.shutdown(wait=False)
            self._scheduler = None

    def _interval(self, every: timedelta, jitter: int, start: datetime | None = None) -> Any:
        from apscheduler.triggers.interval import IntervalTrigger

        return IntervalTrigger(seconds=max(1.0, every.total_seconds()), jitter=jitter or None,
                               start_date=start, timezone=UTC)

    def add(self, source: SourceConfig, first_in: timedelta) -> None:
        """(Re)schedule a source: first run after ``first_in``, then every ``source.every``."""
        if self._scheduler is None:
            return
        start = datetime.now(UTC) + first_in
        self._scheduler.add_job(
            self._request, self._interval(source.every, jitter_seconds(source.every), start),
            args=["sync", source.name], id=f"sync:{source.name}", replace_existing=True,
            next_run_time=start)

    def remove(self, name: str) -> None:
        """Drop source ``name``'s job, if it has one."""
        with contextlib.suppress(Exception):
            self._scheduler.remove_job(f"sync:{name}")

    def next_run(self, name: str) -> datetime | None:
        """Return when source ``name`` runs next (for status lines and tests)."""
        job = self._scheduler.get_job(f"sync:{name}") if self._scheduler else None
        return None if job is None else job.next_run_time

    def match(self, sources: Mapping[str, SourceConfig]) -> None:
        """Make the jobs match ``sources``: one per enabled source, each on its interval."""
        if self._scheduler is None:
            return
        enabled = {name: source for name, source in sources.items() if source.enabled}
        wanted = {f"sync:{name}" for name in enabled}
        for job in self._scheduler.get_jobs():
            if job.id.startswith("sync:") and job.id not in wanted:
                self._scheduler.remove_job(job.id)
        for source in enabled.values():
            # A failed reload may have left a job on the new interval: every one is replaced.
            self.add(source, source.every)

    def after_sync(self, source: SourceConfig, report: SyncReport) -> None:
        """Count a sync's failure and move the source's next run: back off after a failure,
        back to its interval once it works again. Refused credentials only log: the store
        has paused the source until ``syncd auth``."""
        previous = self.failures.get(source.name, 0)
        if report.error is None:
            self.failures[source.name] = 0
            if previous:
                log.info("%s: working again after %d failures", source.name, previous)
                self.add(source, source.every)
            return
        if report.error_kind == "auth":
            log.warning("%s: credentials refused; paused until: syncd auth %s", source.name,
                        source.name)
            return
        failures = previous + 1
        self.failures[source.name] = failures
        delay = retry_delay(failures, source.every)
        log.info("%s: failure %d in a row; next try in %d s", source.name, failures,
                 delay.total_seconds())
        self.add(source, delay)

    def failing(self) -> list[str]:
        """Return the sources whose last sync failed, by name."""
        return sorted(name for name, count in self.failures.items() if count)
