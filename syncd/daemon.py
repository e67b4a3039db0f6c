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
- **IMAP IDLE** (RFC 2177): an ``imap`` source with ``idle = true`` gets a thread waiting in
  IDLE on INBOX whose new mail queues a sync, like a scheduler job would.
- **Alerts**: :mod:`syncd.alerts` decides, the daemon sends and records. Notification actions
  (*Snooze 1 week*, *Done*, *Open report*) arrive on the notifier's thread and are queued like
  any request.
- **Report**: with ``[report] path`` set, the HTML report is rewritten after every sync and
  every notification action (one queued request, coalesced like the others).

The parts, one module each: this one is the lifecycle (start, the request queue and its one
worker, signals, clock jumps, syncing a source, reload, shutdown);
:mod:`syncd.daemon_schedule` the scheduler jobs and backoff; :mod:`syncd.daemon_idle` the IMAP
IDLE threads; :mod:`syncd.daemon_alerts` the notifier, alerts, actions and report;
:mod:`syncd.daemon_lock` the state-directory lock. :class:`Daemon` owns one of each and is
the only one that knows them all; none of them imports this module.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from connectors.base import Connector
from syncd.alerts import Notification
from syncd.app import App, Clock, utc_now
from syncd.config import Config, SourceConfig
from syncd.daemon_alerts import Alerts
from syncd.daemon_idle import IdleWatcher, IdleWatchers
from syncd.daemon_lock import StateLock, daemon_pid
from syncd.daemon_schedule import ALERT_CHECK_EVERY, CLOCK_JUMP, Schedule, retry_delay
from syncd.engine import Engine, SyncReport
from syncd.errors import ConfigError, SyncdError
from syncd.notify import Notifier
from syncd.sdnotify import SystemdNotifier
from syncd.store import Store

# Re-exported: syncd.cli and the tests import these names from here, where they used to live.
__all__ = ["Daemon", "IdleWatcher", "configure_logging", "daemon_pid", "retry_delay"]

log = logging.getLogger(__name__)

Request = tuple[str, ...]


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
        self._connector_factory = connector_factory
        self._tick = tick
        self.systemd = SystemdNotifier(environ)
        self._requests: queue.Queue[Request] = queue.Queue()
        self._pending: set[Request] = set()
        self._pending_lock = threading.Lock()
        self._paused_logged: set[str] = set()
        self._stop = False
        self._reload = False
        self._last_wall = 0.0
        self._last_monotonic = 0.0
        self._app: App | None = None
        self._lock: StateLock | None = None
        self._previous_handlers: dict[int, Any] = {}
        # The parts (each module's docstring says what it does); they reach the daemon only
        # through the request queue and the open app.
        self.schedule = Schedule(self.request, alert_every)
        self.idle = IdleWatchers(self.request)
        self.alerts = Alerts(lambda: self.app, self.request, clock, environ, notifier)
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

    @property
    def alerts_sent(self) -> int:
        """Notifications sent since the daemon started."""
        return self.alerts.sent

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
            self.alerts.open(config)
            self.schedule.start(config.sources.values())
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
        self.idle.stop()
        self.schedule.shutdown()
        self.alerts.close()
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

        Safe from any thread; scheduler jobs, IDLE watchers and notification actions call it.
        """
        with self._pending_lock:
            if request in self._pending:
                return
            self._pending.add(request)
        self._requests.put(request)

    def handle(self, request: Request) -> None:
        """Run one request on this thread; nothing it raises stops the daemon."""
        try:
            if request[0] == "sync":
                self.sync_source(request[1])
            elif request[0] == "alerts":
                self.alerts.check()
            elif request[0] == "action":
                self.alerts.apply_action(request[1], int(request[2]), request[3])
                self.alerts.request_report()
            elif request[0] == "report":
                self.alerts.write_report()
            elif request[0] == "open_report":
                self.alerts.open_report()
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

    def _idle_status(self) -> str:
        upcoming = [run for name in self._enabled_sources() if (run := self.next_run(name))]
        failing = self.schedule.failing()
        text = f"idle; {self.syncs_run} syncs, {self.alerts_sent} alerts sent"
        if upcoming:
            text += f"; next sync {min(upcoming).astimezone(UTC):%H:%M} UTC"
        if failing:
            text += f"; failing: {', '.join(failing)}"
        return text

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
        # No forked reader (Engine.fork_reader): the IDLE watchers' threads import modules
        # the reader needs, and a fork amid such an import leaves the child waiting forever.
        # A first pass here reads in this process: slower, and in the background.
        engine = Engine(self.store, self.app.rules(), self.clock,
                        should_stop=lambda: self._stop, tier_map=self.app.tier_map(),
                        fork_reader=False)
        report = self.app.sync_source(engine, source,
                                      progress=lambda count: self.systemd.heartbeat(),
                                      connector_factory=self._connector_factory)
        self.syncs_run += 1
        self.schedule.after_sync(source, report)
        if not self._stop:
            self.request("alerts")
            self.alerts.request_report()
        return report

    def _update_watchers(self) -> None:
        """Run the IMAP IDLE watchers the config in force asks for (:class:`IdleWatchers`)."""
        self.idle.update(self.app.config.sources, self._connector_factory or self.app.connector)

    # --- the parts' operations, kept on the daemon for its callers and tests -----------------

    def next_run(self, name: str) -> datetime | None:
        """Return when source ``name`` runs next (for status lines and tests)."""
        return self.schedule.next_run(name)

    def check_alerts(self) -> int:
        """Decide and send alerts now; record each one sent. Return how many were sent."""
        return self.alerts.check()

    def queue_action(self, action: str, notification: Notification) -> None:
        """Queue a notification action (called on the notifier's thread)."""
        self.alerts.queue_action(action, notification)

    def apply_action(self, action: str, person_id: int, name: str) -> None:
        """Apply *Snooze 1 week* or *Done* to a person and record it."""
        self.alerts.apply_action(action, person_id, name)

    def request_report(self) -> None:
        """Queue a rewrite of the report when ``[report] path`` is set."""
        self.alerts.request_report()

    def write_report(self) -> Path | None:
        """Rewrite the report at ``[report] path`` now; return where (None when off)."""
        return self.alerts.write_report()

    def open_report(self) -> None:
        """Show the report in the default browser, writing it first when missing."""
        self.alerts.open_report()

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
        self.alerts.request_report()
        return True

    def _apply_config(self, old: Config, new: Config) -> None:
        """Put ``new`` in force: store, notifier, schedule, IDLE watchers (may raise)."""
        notifier = self.alerts.notifier_for(old, new)
        try:
            self.app.config = new
            self.app.apply_config()
        except BaseException:
            if notifier is not None:
                notifier.close()
            raise
        if notifier is not None:
            self.alerts.use(notifier)
        for name, source in old.sources.items():
            if source.enabled and (name not in new.sources or not new.sources[name].enabled):
                self.schedule.remove(name)
        for name, source in new.sources.items():
            before = old.sources.get(name)
            if not source.enabled:
                continue
            if before is None or not before.enabled or before != source:
                self.schedule.add(source, source.every)
                self.request("sync", name)
        self._update_watchers()

    def _restore_config(self, old: Config) -> None:
        """Put ``old`` back in force after a failed reload, as far as each part allows."""
        self.app.config = old
        steps: tuple[tuple[str, Callable[[], None]], ...] = (
            ("store", self.app.apply_config),
            ("schedule", lambda: self.schedule.match(self.app.config.sources)),
            ("IMAP IDLE", self._update_watchers),
        )
        for what, step in steps:
            try:
                step()
            except Exception:
                log.exception("SIGHUP: restoring the old configuration's %s failed", what)
