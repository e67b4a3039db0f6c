"""``syncd run``: the daemon. Schedules every source, checks alerts, talks to systemd.

How it is built, and why:

- **One worker, the main thread.** APScheduler 3 (a BackgroundScheduler thread) only decides
  *when*: its jobs (one per source, on the source's ``every`` with jitter, ``coalesce=True``,
  ``max_instances=1``, plus the alert check) put a request on a queue. The main thread takes
  requests one at a time, so two runs of a source can never overlap, the SQLite store is only
  ever used from one thread, and a request already waiting is not queued twice.
- **Start**: lock the state directory (one daemon per state dir; ``syncd sync`` beside it stays
  safe because every page is one SQLite transaction), open config and store, send ``READY=1``,
  then sync every enabled source once and check alerts, so the user sees a result at once.
- **Failures**: a failing source is retried with exponential backoff (:func:`retry_delay`);
  a source whose credentials were refused is paused (``Store.is_paused``) until ``syncd auth``.
- **Sleep**: every tick compares wall-clock and monotonic time; CLOCK_MONOTONIC does not advance
  during suspend (clock_gettime(2)), so a gap between them means the machine slept or the clock
  was set: every source syncs and alerts are checked right away.
- **Signals**: handlers only set flags (a handler must not take locks the interrupted code may
  hold). SIGTERM/SIGINT: the engine stops after the page being stored (rows and cursor commit
  together), then the daemon exits 0. SIGHUP: re-read the config; an invalid one is logged and
  the old one kept.
- **IMAP IDLE** (RFC 2177): each enabled ``imap`` source with ``idle = true`` gets one daemon
  thread with its own connector (:class:`IdleWatcher`) waiting in IDLE on INBOX; new mail
  queues a sync of that source like a scheduler job would (so syncs stay serialized and
  coalesced). Sent and other folders are still read on the source's ``every``: mail the user
  sends is not urgent for keep-in-touch, and one IDLE connection per folder would double the
  connections a server allows per user. The thread never touches the store; a paused source's
  queued sync simply does nothing.
- **Alerts**: :mod:`syncd.alerts` decides, this module sends and records. Notification actions
  (*Snooze 1 week*, *Done*, *Open report*) arrive on the notifier's thread and are queued like
  any request.
- **Report**: with ``[report] path`` set, the HTML report is rewritten after every sync and
  every notification action (one queued request, coalesced like the others).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import queue
import signal
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from connectors.base import Connector
from syncd.alerts import AlertPolicy, Notification, local_day_start, plan_alerts, plan_birthdays
from syncd.app import App, Clock, utc_now
from syncd.config import Config, SourceConfig
from syncd.engine import Engine, SyncReport
from syncd.errors import AlreadyRunning, ConfigError, NotifyError, SyncdError
from syncd.notify import DONE, OPEN_REPORT, SNOOZE, Notifier, build_notifier
from syncd.sdnotify import SystemdNotifier
from syncd.store import Store

log = logging.getLogger(__name__)

LOCK_NAME = "daemon.lock"
#: The alert check runs after every sync and at least this often (quiet hours end, snoozes end).
ALERT_CHECK_EVERY = timedelta(minutes=10)
#: A gap this large between wall-clock and monotonic time means suspend/resume or a clock change.
CLOCK_JUMP = timedelta(minutes=2)
SNOOZE_FOR = timedelta(weeks=1)
FIRST_RETRY = timedelta(minutes=1)
#: How long one IDLE lasts before it is re-issued: RFC 2177 §3 says servers may log a client
#: out after 30 minutes of inactivity and advises re-issuing IDLE at least every 29 minutes.
IDLE_TIMEOUT = 25 * 60.0
#: After a failed IDLE (server gone, login refused): wait 30 s, doubling to at most 15 min.
IDLE_BACKOFF = (30.0, 15 * 60.0)

Request = tuple[str, ...]


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


def configure_logging(verbose: int, environ: Mapping[str, str] = os.environ) -> None:
    """Send daemon logs to stderr: INFO (DEBUG with ``-v``), journal-friendly under systemd.

    With ``$JOURNAL_STREAM`` (stderr is connected to the journal, systemd.exec(5)) lines carry
    no timestamp (the journal adds one) but a ``<N>`` syslog priority prefix, which journald
    turns into the entry's priority (sd-daemon(3)).
    """
    root = logging.getLogger()
    handler = logging.StreamHandler()
    if environ.get("JOURNAL_STREAM"):
        handler.setFormatter(_JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    # Libraries say too much at INFO for a daemon that runs for months.
    for noisy in ("apscheduler", "desktop_notifier", "dbus_fast"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose > 1 else logging.WARNING)


_SYSLOG_PRIORITY: Mapping[int, int] = {
    logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


class _JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        priority = _SYSLOG_PRIORITY.get(record.levelno, 6)
        return f"<{priority}>{super().format(record)}"


class StateLock:
    """An exclusive ``flock(2)`` on ``STATE_DIR/daemon.lock``: one daemon per state directory.

    The kernel drops the lock when the process dies, so a crash never leaves a stale lock.
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`AlreadyRunning` naming the holder's pid."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise AlreadyRunning(
                f"another syncd run (pid {holder}) already uses {self.path.parent}; stop it "
                "first (systemctl --user stop syncd), or use syncd sync for a one-off pass"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Drop the lock."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class IdleWatcher:
    """A daemon thread that waits in IMAP IDLE for one source and calls ``on_change`` on mail.

    ``connector`` is this thread's own (never used for syncs); it must have
    ``wait_for_changes(timeout) -> bool`` and ``close()``
    (:class:`connectors.mail.imap.ImapConnector`).
    Errors are logged and retried after ``backoff`` (first, cap) seconds, doubling; nothing it
    raises ends the thread except :meth:`stop`. When the server has no IDLE (the wait returns
    False at once), the thread ends and the source keeps its interval.
    """

    def __init__(self, name: str, connector: Any, on_change: Callable[[], None], *,
                 timeout: float = IDLE_TIMEOUT,
                 backoff: tuple[float, float] = IDLE_BACKOFF) -> None:
        self.name = name
        self.connector = connector
        self._on_change = on_change
        self._timeout = timeout
        self._backoff = backoff
        self._stopped = threading.Event()
        #: Failures in a row (for tests and logs).
        self.failures = 0
        self.thread = threading.Thread(target=self._loop, name=f"idle:{name}", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self.thread.start()

    def stop(self) -> None:
        """Ask the thread to end and drop its connection; return at once.

        A thread blocked in IDLE is woken by shutting its socket down (``interrupt``); it
        closes the connection itself, so no two threads ever talk on it at once.
        """
        self._stopped.set()
        interrupt = getattr(self.connector, "interrupt", None)
        if interrupt is not None:
            interrupt()

    def _loop(self) -> None:
        log.info("%s: waiting for new mail with IMAP IDLE", self.name)
        try:
            while not self._stopped.is_set():
                started = time.monotonic()
                try:
                    changed = self.connector.wait_for_changes(self._timeout)
                except Exception as error:
                    if self._stopped.is_set():
                        break
                    self.failures += 1
                    delay = min(self._backoff[1],
                                self._backoff[0] * 2 ** min(self.failures - 1, 30))
                    log.warning("%s: IMAP IDLE failed (%s); retrying in %.0f s", self.name,
                                error, delay)
                    self.connector.close()
                    self._stopped.wait(delay)
                    continue
                self.failures = 0
                if self._stopped.is_set():
                    break
                if changed:
                    log.debug("%s: IDLE reported new mail", self.name)
                    self._on_change()
                elif time.monotonic() - started < min(1.0, self._timeout / 2):
                    log.info("%s: the server does not support IDLE; syncing on the interval "
                             "only", self.name)
                    break
        finally:
            self.connector.close()


class Daemon:
    """The long-running syncd. Build it, then :meth:`run` (or :meth:`start` and :meth:`serve`).

    ``load_config`` is called at start and on SIGHUP. ``connector_factory`` (default: the lazy
    connector registry) and ``notifier`` (default: ``[notify] backend``) are seams for tests and
    benchmarks; ``clock``, ``wall`` and ``monotonic`` are injected so clock jumps can be tested.
    """

    def __init__(self, load_config: Callable[[], Config], *, clock: Clock = utc_now,
                 wall: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic,
                 environ: Mapping[str, str] = os.environ,
                 connector_factory: Callable[[SourceConfig], Connector] | None = None,
                 notifier: Notifier | None = None, tick: float = 1.0,
                 alert_every: timedelta = ALERT_CHECK_EVERY) -> None:
        self._load_config = load_config
        self.clock = clock
        self._wall = wall
        self._monotonic = monotonic
        self._environ = environ
        self._connector_factory = connector_factory
        self._given_notifier = notifier
        self._tick = tick
        self._alert_every = alert_every
        self.systemd = SystemdNotifier(environ)
        self._requests: queue.Queue[Request] = queue.Queue()
        self._pending: set[Request] = set()
        self._pending_lock = threading.Lock()
        self._failures: dict[str, int] = {}
        self._paused_logged: set[str] = set()
        self._stop = False
        self._reload = False
        self._last_wall = 0.0
        self._last_monotonic = 0.0
        self._app: App | None = None
        self._notifier: Notifier | None = None
        self._scheduler: Any = None
        self._lock: StateLock | None = None
        self._previous_handlers: dict[int, Any] = {}
        self._watchers: dict[str, tuple[SourceConfig, IdleWatcher]] = {}
        self.alerts_sent = 0
        self.syncs_run = 0

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def app(self) -> App:
        """The open app (config and store); only valid between start and shutdown."""
        assert self._app is not None, "the daemon is not started"
        return self._app

    @property
    def store(self) -> Store:
        """The open store."""
        return self.app.store

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; return the exit status (0).

        Raise :class:`ConfigError` (exit 78) for an invalid config at start,
        :class:`AlreadyRunning` when another daemon owns the state directory.
        """
        self.start()
        try:
            self.install_signal_handlers()
            self.serve()
        finally:
            self.shutdown()
        return 0

    def start(self) -> None:
        """Lock the state dir, open config and store, tell systemd READY=1, queue first runs."""
        config = self._load_config()
        self._lock = StateLock(config.state_dir)
        self._lock.acquire()
        try:
            self._app = App.open(config, self.clock)
            self._app.auto_track()
            self._notifier = self._given_notifier or self._build_notifier(config)
            self._start_scheduler()
        except BaseException:
            self._lock.release()
            raise
        sources = self._enabled_sources()
        self.systemd.ready(f"started; {len(sources)} sources, first sync running")
        log.info("syncd started: %d sources (%s), notifications via %s", len(sources),
                 ", ".join(sources) or "none", config.notify.backend)
        for name in sources:
            self.request("sync", name)
        self.request("alerts")
        self._update_watchers()
        self._last_wall, self._last_monotonic = self._wall(), self._monotonic()

    def serve(self) -> None:
        """Take requests until asked to stop."""
        while not self._stop:
            self._on_tick()
            try:
                request = self._requests.get(timeout=self._tick)
            except queue.Empty:
                continue
            with self._pending_lock:
                self._pending.discard(request)
            self.handle(request)
            if self._requests.empty() and not self._stop:
                self.systemd.status(self._idle_status())

    def process_pending(self, wait: float = 0.0) -> int:
        """Handle queued requests until none is left; return how many were handled.

        Wait up to ``wait`` seconds for the first one (tests and benchmarks drive the daemon
        this way instead of :meth:`serve`).
        """
        handled = 0
        while True:
            try:
                request = self._requests.get(timeout=wait) if wait and not handled else (
                    self._requests.get_nowait())
            except queue.Empty:
                return handled
            with self._pending_lock:
                self._pending.discard(request)
            self.handle(request)
            handled += 1

    def shutdown(self) -> None:
        """Stop the scheduler and notifier, close the store, release the lock."""
        self.systemd.stopping()
        for _source, watcher in self._watchers.values():
            watcher.stop()
        self._watchers.clear()
        if self._scheduler is not None:
            with contextlib.suppress(Exception):
                self._scheduler.shutdown(wait=False)
            self._scheduler = None
        if self._notifier is not None:
            self._notifier.close()
            self._notifier = None
        if self._app is not None:
            self._app.close()
            self._app = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        for number, handler in self._previous_handlers.items():
            signal.signal(number, handler)
        self._previous_handlers.clear()
        self.systemd.close()
        log.info("syncd stopped")

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT stop after the current page; SIGHUP re-reads the config."""
        for number, handler in ((signal.SIGTERM, self._on_stop_signal),
                                (signal.SIGINT, self._on_stop_signal),
                                (signal.SIGHUP, self._on_hup_signal)):
            self._previous_handlers[number] = signal.signal(number, handler)

    def _on_stop_signal(self, number: int, frame: FrameType | None) -> None:
        self._stop = True

    def _on_hup_signal(self, number: int, frame: FrameType | None) -> None:
        self._reload = True

    def request_stop(self) -> None:
        """Ask the daemon to stop (what SIGTERM does)."""
        self._stop = True

    # --- requests ----------------------------------------------------------------------------

    def request(self, *request: str) -> None:
        """Queue a request (``("sync", NAME)``, ``("alerts",)``, ...) unless already waiting.

        Safe from any thread; scheduler jobs and notification actions call it.
        """
        with self._pending_lock:
            if request in self._pending:
                return
            self._pending.add(request)
        self._requests.put(request)

    def _build_notifier(self, config: Config) -> Notifier:
        return build_notifier(config.notify, self.queue_action, self._environ,
                              report_button=config.report.path is not None)

    def queue_action(self, action: str, notification: Notification) -> None:
        """Queue a notification action (called on the notifier's thread)."""
        if action == OPEN_REPORT:
            self.request("open_report")
            return
        for alert in notification.alerts:
            self.request("action", action, str(alert.person_id), alert.name)

    def handle(self, request: Request) -> None:
        """Run one request on this thread; nothing it raises stops the daemon."""
        try:
            if request[0] == "sync":
                self.sync_source(request[1])
            elif request[0] == "alerts":
                self.check_alerts()
            elif request[0] == "action":
                self.apply_action(request[1], int(request[2]), request[3])
                self.request_report()
            elif request[0] == "report":
                self.write_report()
            elif request[0] == "open_report":
                self.open_report()
            else:
                log.error("unknown request %r", request)
        except SyncdError as error:
            log.error("%s failed: %s", request[0], error)
        except Exception:
            log.exception("%s failed unexpectedly", request[0])

    def _on_tick(self) -> None:
        self.systemd.heartbeat()
        if self._reload:
            self._reload = False
            self.reload()
        wall, monotonic = self._wall(), self._monotonic()
        drift = (wall - self._last_wall) - (monotonic - self._last_monotonic)
        self._last_wall, self._last_monotonic = wall, monotonic
        if abs(drift) >= CLOCK_JUMP.total_seconds():
            log.info("the clock jumped %+.0f s (resumed from sleep, or the time was set); "
                     "syncing every source now", drift)
            for name in self._enabled_sources():
                self.request("sync", name)
            self.request("alerts")

    # --- syncing -----------------------------------------------------------------------------

    def _enabled_sources(self) -> list[str]:
        return [name for name, source in self.app.config.sources.items() if source.enabled]

    def sync_source(self, name: str) -> SyncReport | None:
        """Run one pass over source ``name``; back off when it fails. None when skipped."""
        source = self.app.config.sources.get(name)
        if source is None or not source.enabled:
            return None
        if self.store.is_paused(name):
            if name not in self._paused_logged:
                log.warning("%s: paused after its credentials were refused; run: syncd auth %s",
                            name, name)
                self._paused_logged.add(name)
            return None
        self._paused_logged.discard(name)
        self.systemd.status(f"syncing {name}")
        engine = Engine(self.store, self.app.rules(), self.clock,
                        should_stop=lambda: self._stop, tier_map=self.app.tier_map())
        report = self.app.sync_source(engine, source,
                                      progress=lambda count: self.systemd.heartbeat(),
                                      connector_factory=self._connector_factory)
        self.syncs_run += 1
        self._after_sync(source, report)
        if not self._stop:
            self.request("alerts")
            self.request_report()
        return report

    def _after_sync(self, source: SourceConfig, report: SyncReport) -> None:
        previous = self._failures.get(source.name, 0)
        if report.error is None:
            self._failures[source.name] = 0
            if previous:
                log.info("%s: working again after %d failures", source.name, previous)
                self._schedule_source(source, source.every)
            return
        if report.error_kind == "auth":
            log.warning("%s: credentials refused; paused until: syncd auth %s", source.name,
                        source.name)
            return
        failures = previous + 1
        self._failures[source.name] = failures
        delay = retry_delay(failures, source.every)
        log.info("%s: failure %d in a row; next try in %d s", source.name, failures,
                 delay.total_seconds())
        self._schedule_source(source, delay)

    # --- alerts ------------------------------------------------------------------------------

    def check_alerts(self) -> int:
        """Decide and send alerts now; record each one sent. Return how many were sent."""
        config = self.app.config
        now = self.clock()
        moved = self.store.restamp_future_alerts(now, CLOCK_JUMP)
        if moved:
            log.info("%d alerts were stamped later than now (the clock was set back); "
                     "they count as sent now", moved)
        policy = AlertPolicy.from_config(config.notify, config.timezone)
        ties = self.app.due(not_alerted_within=config.notify.renotify_after)
        plan = plan_alerts(ties, policy=policy, now=now, last_alerted=self.store.last_alerted(),
                           sent_today=self.store.notifications_since(
                               local_day_start(now, config.timezone)),
                           upcoming=self._upcoming(now))
        sent = 0
        assert self._notifier is not None
        birthdays: tuple[Notification, ...] = ()
        if config.notify.birthdays is not None:
            birthdays = plan_birthdays(self.app.birthdays_ahead(), policy=policy, now=now,
                                       lead=config.notify.birthdays,
                                       notified=self.store.birthdays_notified())
        for notification in (*plan.notifications, *birthdays):
            try:
                self._notifier.send(notification)
            except NotifyError as error:
                log.warning("alert not sent, will retry: %s", error)
                break
            self.store.record_notification(
                notification.kind, [(alert.person_id, alert.due_at)
                                    for alert in notification.alerts],
                now, uuid.uuid4().hex)
            sent += 1
        self.alerts_sent += sent
        held = ", ".join(f"{count} {reason}" for reason, count in sorted(plan.held.items()))
        log.info("alert check: %d ties due and not yet alerted, %d notifications sent%s",
                 len(ties), sent,
                 f", held back: {held}" if held else "")
        return sent

    def _upcoming(self, now: datetime) -> Callable[[int], datetime | None]:
        def first(person_id: int) -> datetime | None:
            meetings = self.store.upcoming_for(person_id, now)
            return meetings[0][0] if meetings else None

        return first

    def apply_action(self, action: str, person_id: int, name: str) -> None:
        """Apply *Snooze 1 week* or *Done* to a person and record it."""
        now = self.clock()
        person = self.store.person(person_id)
        if person is None:
            log.warning("action %s for a person no longer known (#%d) ignored", action, person_id)
            return
        if action == SNOOZE:
            until = now + SNOOZE_FOR
            self.app.snooze(person, until)  # journaled, like syncd snooze
            self.store.record_alert_action(person_id, "snooze", now,
                                           until.isoformat().replace("+00:00", "Z"))
            log.info("snoozed %s until %s (from the notification)", name, f"{until:%Y-%m-%d}")
        elif action == DONE:
            self.app.log_contact(person, now, "marked done from the notification")
            self.store.record_alert_action(person_id, "done", now)
            Engine(self.store, self.app.rules(), self.clock).refresh_rhythms()
            log.info("logged a contact with %s (from the notification)", name)
        else:
            log.warning("unknown notification action %r ignored", action)

    # --- the HTML report ([report] path) -----------------------------------------------------

    def request_report(self) -> None:
        """Queue a rewrite of the report when ``[report] path`` is set (after syncs and actions;
        requests waiting together coalesce into one)."""
        if self.app.config.report.path is not None:
            self.request("report")

    def write_report(self) -> Path | None:
        """Rewrite the report at ``[report] path`` now; return where (None when off).

        Raise :class:`ReportError` when it cannot be written (``handle`` logs it; the next
        sync tries again).
        """
        from syncd.report import write_report

        path = self.app.config.report.path
        if path is None:
            return None
        return write_report(self.app, path)

    def open_report(self) -> None:
        """Show the report in the desktop's default browser (the notification's *Open report*),
        writing it first when it does not exist yet."""
        from syncd.report import open_in_browser

        path = self.app.config.report.path
        if path is None:
            log.warning("Open report ignored: [report] path is not set")
            return
        if not path.exists():
            self.write_report()
        if open_in_browser(path):
            log.info("opened the report %s in the default browser", path)
        else:
            log.warning("could not start a browser to show %s; open it yourself", path)

    # --- scheduling --------------------------------------------------------------------------

    def _start_scheduler(self) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        self._scheduler = BackgroundScheduler(timezone=UTC, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        self._scheduler.start()
        for source in self.app.config.sources.values():
            if source.enabled:
                self._schedule_source(source, source.every)
        self._scheduler.add_job(self.request, self._interval(self._alert_every, 30),
                                args=["alerts"], id="alerts", replace_existing=True)

    def _interval(self, every: timedelta, jitter: int, start: datetime | None = None) -> Any:
        from apscheduler.triggers.interval import IntervalTrigger

        return IntervalTrigger(seconds=max(1.0, every.total_seconds()), jitter=jitter or None,
                               start_date=start, timezone=UTC)

    def _schedule_source(self, source: SourceConfig, first_in: timedelta) -> None:
        """(Re)schedule a source: first run after ``first_in``, then every ``source.every``."""
        if self._scheduler is None:
            return
        start = datetime.now(UTC) + first_in
        self._scheduler.add_job(
            self.request, self._interval(source.every, jitter_seconds(source.every), start),
            args=["sync", source.name], id=f"sync:{source.name}", replace_existing=True,
            next_run_time=start)

    def next_run(self, name: str) -> datetime | None:
        """Return when source ``name`` runs next (for status lines and tests)."""
        job = self._scheduler.get_job(f"sync:{name}") if self._scheduler else None
        return None if job is None else job.next_run_time

    def _idle_status(self) -> str:
        upcoming = [run for name in self._enabled_sources() if (run := self.next_run(name))]
        failing = sorted(name for name, count in self._failures.items() if count)
        text = f"idle; {self.syncs_run} syncs, {self.alerts_sent} alerts sent"
        if upcoming:
            text += f"; next sync {min(upcoming).astimezone(UTC):%H:%M} UTC"
        if failing:
            text += f"; failing: {', '.join(failing)}"
        return text

    # --- IMAP IDLE ---------------------------------------------------------------------------

    def _update_watchers(self) -> None:
        """Run one :class:`IdleWatcher` per enabled ``imap`` source with ``idle = true``.

        Watchers of sources removed, disabled or changed are stopped (a changed one restarts).
        """
        wanted = {name: source for name, source in self.app.config.sources.items()
                  if source.enabled and source.type == "imap" and source.options.get("idle")}
        for name, (source, watcher) in list(self._watchers.items()):
            if wanted.get(name) != source:
                watcher.stop()
                del self._watchers[name]
        for name, source in wanted.items():
            if name in self._watchers:
                continue
            try:
                connector = (self._connector_factory or self.app.connector)(source)
            except Exception as error:
                log.warning("%s: no IMAP IDLE (%s); syncing on the interval only", name, error)
                continue
            if not hasattr(connector, "wait_for_changes"):
                continue
            watcher = IdleWatcher(name, connector, functools.partial(self.request, "sync", name))
            self._watchers[name] = (source, watcher)
            watcher.start()

    # --- reloading ---------------------------------------------------------------------------

    def reload(self) -> bool:
        """Re-read the config (SIGHUP). Keep the old one when the new one cannot be used.

        The old config stays in force when the new file is invalid (:class:`ConfigError`) and
        also when reading or applying it meets *any* other error: a reload must never stop the
        daemon (the README promises an invalid config on reload is logged and ignored). The
        state directory cannot change while running (the lock and store belong to it).
        Return True when the new config was applied.
        """
        old = self.app.config
        try:
            new = self._load_config()
        except ConfigError as error:
            log.error("SIGHUP: the new configuration is invalid, keeping the old one: %s", error)
            return False
        except Exception:
            log.exception("SIGHUP: reading the new configuration failed unexpectedly, keeping "
                          "the old one")
            return False
        if new.state_dir != old.state_dir:
            log.warning("SIGHUP: state_dir changed to %s; that needs a restart, the old one "
                        "is kept", new.state_dir)
            new = replace(new, state_dir=old.state_dir)
        try:
            self._apply_config(old, new)
        except Exception:
            log.exception("SIGHUP: applying the new configuration failed unexpectedly, keeping "
                          "the old one")
            self._restore_config(old)
            return False
        log.info("SIGHUP: configuration reloaded (%d sources)", len(self._enabled_sources()))
        self.request("alerts")
        self.request_report()
        return True

    def _apply_config(self, old: Config, new: Config) -> None:
        """Put ``new`` in force: store, notifier, schedule, IDLE watchers (may raise)."""
        notifier = None
        # The notifier changes with [notify], and when [report] path is set or unset (its
        # Open report button).
        if ((new.notify, new.report.path is None) != (old.notify, old.report.path is None)
                and self._given_notifier is None):
            # Built before anything changes, so a notifier that cannot start leaves all as was.
            notifier = self._build_notifier(new)
        try:
            self.app.config = new
            self.app.apply_config()
        except BaseException:
            if notifier is not None:
                notifier.close()
            raise
        if notifier is not None:
            if self._notifier is not None:
                self._notifier.close()
            self._notifier = notifier
        for name, source in old.sources.items():
            if source.enabled and (name not in new.sources or not new.sources[name].enabled):
                with contextlib.suppress(Exception):
                    self._scheduler.remove_job(f"sync:{name}")
        for name, source in new.sources.items():
            before = old.sources.get(name)
            if not source.enabled:
                continue
            if before is None or not before.enabled or before != source:
                self._schedule_source(source, source.every)
                self.request("sync", name)
        self._update_watchers()

    def _restore_config(self, old: Config) -> None:
        """Put ``old`` back in force after a failed reload, as far as each part allows."""
        self.app.config = old
        steps: tuple[tuple[str, Callable[[], None]], ...] = (
            ("store", self.app.apply_config),
            ("schedule", self._reschedule_all),
            ("IMAP IDLE", self._update_watchers),
        )
        for what, step in steps:
            try:
                step()
            except Exception:
                log.exception("SIGHUP: restoring the old configuration's %s failed", what)

    def _reschedule_all(self) -> None:
        """Make the scheduled jobs match the config in force: one per enabled source."""
        if self._scheduler is None:
            return
        wanted = {f"sync:{name}" for name in self._enabled_sources()}
        for job in self._scheduler.get_jobs():
            if job.id.startswith("sync:") and job.id not in wanted:
                self._scheduler.remove_job(job.id)
        for name in self._enabled_sources():
            # A failed reload may have left a job on the new interval: every one is replaced.
            source = self.app.config.sources[name]
            self._schedule_source(source, source.every)


def daemon_pid(state_dir: Path) -> int | None:
    """Return the pid of the daemon holding ``state_dir``'s lock, or None when none does."""
    path = state_dir / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            # A shared lock fails only while the daemon holds its exclusive one.
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 32).decode(errors="replace").strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
