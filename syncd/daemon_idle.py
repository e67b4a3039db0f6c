"""The daemon's IMAP IDLE threads (RFC 2177): new INBOX mail queues a sync at once.

Each enabled ``imap`` source with ``idle = true`` gets one daemon thread with its own connector
(:class:`IdleWatcher`) waiting in IDLE on INBOX; new mail queues a sync of that source like a
scheduler job would (so syncs stay serialized and coalesced). Sent and other folders are still
read on the source's ``every``: mail the user sends is not urgent for keep-in-touch, and one
IDLE connection per folder would double the connections a server allows per user. The threads
never touch the store; a paused source's queued sync simply does nothing.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from connectors.base import Connector
from syncd.config import SourceConfig

# The daemon's parts log under one name, the one users filter the journal on (syncd.daemon:).
log = logging.getLogger("syncd.daemon")

#: How long one IDLE lasts before it is re-issued: RFC 2177 §3 says servers may log a client
#: out after 30 minutes of inactivity and advises re-issuing IDLE at least every 29 minutes.
IDLE_TIMEOUT = 25 * 60.0
#: After a failed IDLE (server gone, login refused): wait 30 s, doubling to at most 15 min.
IDLE_BACKOFF = (30.0, 15 * 60.0)


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


class IdleWatchers:
    """The daemon's :class:`IdleWatcher` threads, one per source that asks for IDLE.

    ``request`` is the daemon's thread-safe request queue (``request("sync", NAME)``).
    """

    def __init__(self, request: Callable[..., None]) -> None:
        self._request = request
        self._watchers: dict[str, tuple[SourceConfig, IdleWatcher]] = {}

    def update(self, sources: Mapping[str, SourceConfig],
               connector: Callable[[SourceConfig], Connector]) -> None:
        """Run one watcher per enabled ``imap`` source of ``sources`` with ``idle = true``.

        Watchers of sources removed, disabled or changed are stopped (a changed one restarts).
        ``connector`` builds each new watcher's own connection; a source whose connector cannot
        be built, or cannot IDLE, keeps its interval only.
        """
        wanted = {name: source for name, source in sources.items()
                  if source.enabled and source.type == "imap" and source.options.get("idle")}
        for name, (source, watcher) in list(self._watchers.items()):
            if wanted.get(name) != source:
                watcher.stop()
                del self._watchers[name]
        for name, source in wanted.items():
            if name in self._watchers:
                continue
            try:
                built = connector(source)
            except Exception as error:
                log.warning("%s: no IMAP IDLE (%s); syncing on the interval only", name, error)
                continue
            if not hasattr(built, "wait_for_changes"):
                continue
            watcher = IdleWatcher(name, built, functools.partial(self._request, "sync", name))
            self._watchers[name] = (source, watcher)
            watcher.start()

    def stop(self) -> None:
        """Stop every watcher (each ends on its own thread; this returns at once)."""
        for _source, watcher in self._watchers.values():
            watcher.stop()
        self._watchers.clear()
