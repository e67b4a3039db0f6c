"""A tiny sd_notify(3) client: tell systemd we are ready, what we do, and that we are alive.

The protocol (sd_notify(3), "systemd.service" Type=notify): send newline-separated
``KEY=VALUE`` datagrams to the AF_UNIX socket named by ``$NOTIFY_SOCKET``; a name starting
with ``@`` is in the Linux abstract namespace. Without ``$NOTIFY_SOCKET`` (not started by
systemd) every call does nothing. ``$WATCHDOG_USEC`` (set when the unit has ``WatchdogSec=``)
asks for ``WATCHDOG=1`` at least that often; we ping at half the interval.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


class SystemdNotifier:
    """Sends notifications to the service manager; silent and harmless outside systemd."""

    def __init__(self, environ: Mapping[str, str] = os.environ,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        address = environ.get("NOTIFY_SOCKET", "")
        # sd_notify(3): "@" means the abstract namespace, written with a leading NUL byte.
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self._socket: socket.socket | None = None
        watchdog = environ.get("WATCHDOG_USEC", "")
        watchdog_pid = environ.get("WATCHDOG_PID", "")
        # WATCHDOG_PID, when set, names the process the watchdog is for (sd_watchdog_enabled(3)).
        mine = not watchdog_pid or watchdog_pid == str(os.getpid())
        self.watchdog_interval: float | None = (
            int(watchdog) / 1_000_000 / 2 if watchdog.isdigit() and int(watchdog) > 0 and mine
            else None)
        self._monotonic = monotonic
        self._last_ping = float("-inf")
        self._warned = False

    @property
    def enabled(self) -> bool:
        """True when started by systemd with a notification socket."""
        return bool(self._address)

    def notify(self, **fields: str) -> None:
        """Send ``KEY=VALUE`` lines (e.g. ``notify(READY="1", STATUS="syncing")``)."""
        if not self._address:
            return
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX,
                                             socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto(message, self._address)
        except OSError as error:
            if not self._warned:
                log.warning("cannot reach systemd at NOTIFY_SOCKET: %s", error)
                self._warned = True

    def ready(self, status: str) -> None:
        """Tell systemd start-up is complete (``READY=1``) with a first status line."""
        self.notify(READY="1", STATUS=status, MAINPID=str(os.getpid()))

    def status(self, text: str) -> None:
        """Set the free-form status ``systemctl status`` shows."""
        self.notify(STATUS=text)

    def stopping(self) -> None:
        """Tell systemd we are shutting down on purpose."""
        self.notify(STOPPING="1", STATUS="stopping")

    def heartbeat(self) -> None:
        """Send ``WATCHDOG=1`` when the watchdog is on and half its interval has passed."""
        if self.watchdog_interval is None:
            return
        now = self._monotonic()
        if now - self._last_ping >= self.watchdog_interval:
            self._last_ping = now
            self.notify(WATCHDOG="1")

    def close(self) -> None:
        """Close the socket."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None
