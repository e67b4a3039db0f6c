"""Notifiers: how an alert reaches the user (``[notify] backend``).

- ``desktop``: a freedesktop notification over the session bus (the desktop-notifier library,
  which also speaks macOS and Windows), with the actions *Snooze 1 week* and *Done* on
  single-person alerts, and *Open report* on every notification when ``[report] path`` is set.
  Action callbacks arrive on the library's event-loop thread and are
  handed to ``on_action``; the daemon queues them and applies them on its own thread.
  When no notification service is reachable on the session bus the backend says so once and
  falls back to the log for the rest of the run: a headless machine must never crash syncd.
- ``command``: runs ``[notify].command`` (split like a shell would, not run by one) with the
  notification as JSON on stdin and ``SYNCD_*`` environment variables, for ntfy, Pushover or
  mail scripts.
- ``log``: one INFO line per notification (read it with ``journalctl --user -u syncd``).

``send`` raises :class:`NotifyError` when delivery failed; the daemon then records nothing, so
the next alert check tries again.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import subprocess
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from syncd.alerts import Notification
from syncd.config import NotifyConfig
from syncd.errors import ConfigError, ConfigProblem, NotifyError

log = logging.getLogger(__name__)

APP_NAME = "syncd"
#: A freedesktop icon-naming-spec name every icon theme has.
ICON_NAME = "x-office-address-book"
SNOOZE = "snooze"
DONE = "done"
OPEN_REPORT = "open_report"
ACTION_TITLES = {SNOOZE: "Snooze 1 week", DONE: "Done"}
REPORT_TITLE = "Open report"
#: How long a D-Bus call may take before the desktop counts as unreachable.
DBUS_TIMEOUT = 10.0

ActionHandler = Callable[[str, Notification], None]


class Notifier(Protocol):
    """What every backend offers."""

    name: str

    def send(self, notification: Notification) -> None:
        """Deliver one notification; raise NotifyError when it could not be delivered."""

    def close(self) -> None:
        """Release what the backend holds (threads, connections)."""


class LogNotifier:
    """Writes each notification as one INFO log line."""

    name = "log"

    def send(self, notification: Notification) -> None:
        """Log the notification's text."""
        log.info("alert: %s", notification.text)

    def close(self) -> None:
        """Nothing to release."""


def notification_json(notification: Notification) -> dict[str, Any]:
    """Return the JSON object a ``command`` backend receives on stdin."""
    return {
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "text": notification.text,
        "urgency": notification.urgency,
        "people": [{"id": alert.person_id, "name": alert.name, "days_since": alert.days_since,
                    "due_at": alert.due_at.isoformat().replace("+00:00", "Z")
                    if alert.due_at else None, "text": alert.text}
                   for alert in notification.alerts],
    }


class CommandNotifier:
    """Runs a user command per notification: JSON on stdin, ``SYNCD_*`` variables set."""

    name = "command"

    def __init__(self, command: str, environ: Mapping[str, str] = os.environ,
                 timeout: float = 60.0) -> None:
        self.argv = shlex.split(command)
        self._environ = environ
        self._timeout = timeout

    def send(self, notification: Notification) -> None:
        """Run the command; raise NotifyError when it cannot start, fails or hangs."""
        environment = {
            **self._environ,
            "SYNCD_KIND": notification.kind,
            "SYNCD_TITLE": notification.title,
            "SYNCD_BODY": notification.body,
            "SYNCD_TEXT": notification.text,
            "SYNCD_URGENCY": notification.urgency,
            "SYNCD_COUNT": str(len(notification.alerts)),
            "SYNCD_PEOPLE": ", ".join(alert.name for alert in notification.alerts),
            "SYNCD_PERSON_IDS": " ".join(str(alert.person_id) for alert in notification.alerts),
        }
        payload = json.dumps(notification_json(notification), ensure_ascii=False)
        try:
            result = subprocess.run(self.argv, input=payload.encode(), env=environment,
                                    capture_output=True, timeout=self._timeout, check=False)
        except FileNotFoundError:
            raise NotifyError(f"cannot run the [notify] command: {self.argv[0]!r} was not "
                              "found; fix [notify] command in the config") from None
        except subprocess.TimeoutExpired:
            raise NotifyError(f"the [notify] command {self.argv[0]!r} did not finish within "
                              f"{self._timeout:.0f} s") from None
        except OSError as error:
            raise NotifyError(f"cannot run the [notify] command {self.argv[0]!r}: "
                              f"{error.strerror}") from None
        if result.returncode != 0:
            last = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
            raise NotifyError(f"the [notify] command {self.argv[0]!r} exited with status "
                              f"{result.returncode}" + (f": {last[0][:200]}" if last[0] else ""))
        log.info("alert sent by command %s: %s", self.argv[0], notification.title)

    def close(self) -> None:
        """Nothing to release."""


class DesktopNotifier:
    """Desktop notifications through the desktop-notifier library, on its own asyncio thread.

    The library needs a running event loop to receive ``ActionInvoked`` signals (the
    freedesktop notification spec, "Signals"), so one loop runs in a daemon thread for the
    life of this object; sends are submitted to it and waited for.
    """

    name = "desktop"

    def __init__(self, on_action: ActionHandler | None = None,
                 fallback: Notifier | None = None, *, report_button: bool = False) -> None:
        self._on_action = on_action
        #: With ``[report] path`` set: an *Open report* button on every notification, and a
        #: click on the notification itself (the spec's "default" action) does the same.
        self._report_button = report_button
        self._fallback = fallback or LogNotifier()
        self._loop: Any = None
        self._thread: threading.Thread | None = None
        self._library: Any = None
        self._usable: bool | None = None  # None: not probed yet
        self._down = False

    @property
    def active(self) -> str:
        """The backend notifications really go to: ``desktop``, or ``log`` after a fallback."""
        return self.name if self._usable is not False else self._fallback.name

    def _start(self) -> None:
        import asyncio

        from desktop_notifier import DesktopNotifier as Library
        from desktop_notifier import Icon

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="syncd-desktop",
                                        daemon=True)
        self._thread.start()
        self._library = Library(app_name=APP_NAME, app_icon=Icon(name=ICON_NAME))

    def _run(self, coroutine: Any) -> Any:
        import asyncio

        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout=DBUS_TIMEOUT)

    def _probe(self) -> str | None:
        """Return None when a notification service answers on the session bus, else why not."""
        async def probe() -> None:
            from dbus_fast.aio import MessageBus

            bus = await MessageBus().connect()
            try:
                await bus.introspect("org.freedesktop.Notifications",
                                     "/org/freedesktop/Notifications")
            finally:
                bus.disconnect()

        try:
            self._run(probe())
        except Exception as error:
            return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        return None

    def send(self, notification: Notification) -> None:
        """Show the notification; fall back to the log when there is no desktop session."""
        if self._usable is None:
            self._start()
            reason = self._probe()
            self._usable = reason is None
            if reason is not None:
                log.warning("no desktop notification service on the session bus (%s); alerts "
                            "go to the log instead (set [notify] backend = \"log\" or "
                            "\"command\" on a headless machine)", reason)
        if not self._usable:
            self._fallback.send(notification)
            return
        from desktop_notifier import Button, Urgency
        from desktop_notifier import Notification as LibraryNotification

        dispatched = threading.Event()
        buttons: tuple[Any, ...] = ()
        if notification.kind == "alert":
            buttons = tuple(Button(title, on_pressed=self._pressed(action, notification),
                                   identifier=action)
                            for action, title in ACTION_TITLES.items())
        clicked = None
        if self._report_button:
            clicked = self._pressed(OPEN_REPORT, notification)
            buttons += (Button(REPORT_TITLE, on_pressed=clicked, identifier=OPEN_REPORT),)
        urgency = {"low": Urgency.Low, "critical": Urgency.Critical}.get(
            notification.urgency, Urgency.Normal)
        message = LibraryNotification(notification.title, notification.body, urgency=urgency,
                                      buttons=buttons, on_dispatched=dispatched.set,
                                      on_clicked=clicked)
        try:
            self._run(self._library.send_notification(message))
        except Exception as error:
            raise self._outage(f"{type(error).__name__}: {error}") from None
        if not dispatched.is_set():
            # The library logs and swallows delivery errors; on_dispatched is its success signal.
            raise self._outage("the notification service did not accept it")
        if self._down:
            log.info("the desktop notification service is back")
            self._down = False
        log.info("alert shown on the desktop: %s", notification.title)

    def _outage(self, reason: str) -> NotifyError:
        if not self._down:
            log.warning("desktop notification failed (%s); will retry at the next check", reason)
            self._down = True
        return NotifyError(f"desktop notification failed: {reason}")

    def _pressed(self, action: str, notification: Notification) -> Callable[[], None]:
        def pressed() -> None:
            if self._on_action is None:
                log.info("action %s on %r ignored: nothing handles actions here", action,
                         notification.title)
                return
            try:
                self._on_action(action, notification)
            except Exception:
                log.exception("handling the %s action failed", action)

        return pressed

    def close(self) -> None:
        """Stop the event-loop thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._loop = None


def build_notifier(config: NotifyConfig, on_action: ActionHandler | None = None,
                   environ: Mapping[str, str] = os.environ, *,
                   report_button: bool = False) -> Notifier:
    """Return the backend ``[notify] backend`` names; desktop notifications get an *Open
    report* button with ``report_button`` (``[report] path`` is set).

    Raise :class:`ConfigError` for ``backend = "command"`` without a command.
    """
    if config.backend == "command":
        if not config.command:
            raise ConfigError([ConfigProblem("notify.command", 'backend = "command" needs a '
                                             'command, e.g. command = "notify-me --json"')])
        return CommandNotifier(config.command, environ)
    if config.backend == "log":
        return LogNotifier()
    return DesktopNotifier(on_action, report_button=report_button)
