"""What the daemon shows the user: alerts, the notification's actions, and the HTML report.

:mod:`syncd.alerts` decides, this module sends and records. Notification actions (*Snooze 1
week*, *Done*, *Open report*) arrive on the notifier's thread and are only queued there, like
any request, so they are applied on the daemon's one worker thread. With ``[report] path`` set,
the report is rewritten after every sync and every notification action (one queued request,
coalesced like the others).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path

from syncd.alerts import AlertPolicy, Notification, local_day_start, plan_alerts, plan_birthdays
from syncd.app import App, Clock
from syncd.config import Config
from syncd.daemon_schedule import CLOCK_JUMP
from syncd.engine import Engine
from syncd.errors import NotifyError
from syncd.notify import DONE, OPEN_REPORT, SNOOZE, Notifier, build_notifier

# The daemon's parts log under one name, the one users filter the journal on (syncd.daemon:).
log = logging.getLogger("syncd.daemon")

SNOOZE_FOR = timedelta(weeks=1)


class Alerts:
    """The daemon's notifier, the alerts it sends, what their buttons do, and the report.

    ``app`` returns the daemon's open app (called only while the daemon runs); ``request``
    queues a request on the daemon (safe from any thread). ``notifier``, when given, is used
    for every config instead of one built from ``[notify] backend`` (a seam for tests and
    benchmarks). Every method but :meth:`queue_action` runs on the daemon's worker thread.
    """

    def __init__(self, app: Callable[[], App], request: Callable[..., None], clock: Clock,
                 environ: Mapping[str, str], notifier: Notifier | None = None) -> None:
        self._app = app
        self._request = request
        self._clock = clock
        self._environ = environ
        self._given_notifier = notifier
        self.notifier: Notifier | None = None
        #: Notifications sent since the daemon started (for its status line).
        self.sent = 0

    # --- the notifier ------------------------------------------------------------------------

    def open(self, config: Config) -> None:
        """Start the notifier ``config`` asks for (may raise :class:`NotifyError`)."""
        self.notifier = self._given_notifier or self._build_notifier(config)

    def _build_notifier(self, config: Config) -> Notifier:
        return build_notifier(config.notify, self.queue_action, self._environ,
                              report_button=config.report.path is not None)

    def notifier_for(self, old: Config, new: Config) -> Notifier | None:
        """Return a started notifier for ``new`` when it needs another than ``old``, else None.

        Built before anything changes on a reload, so a notifier that cannot start leaves all
        as it was; the caller hands it to :meth:`use`, or closes it when the reload fails.
        """
        # The notifier changes with [notify], and when [report] path is set or unset (its
        # Open report button).
        if ((new.notify, new.report.path is None) != (old.notify, old.report.path is None)
                and self._given_notifier is None):
            return self._build_notifier(new)
        return None

    def use(self, notifier: Notifier) -> None:
        """Send through ``notifier`` from now on; close the one it replaces."""
        if self.notifier is not None:
            self.notifier.close()
        self.notifier = notifier

    def close(self) -> None:
        """Close the notifier (no more actions arrive after this)."""
        if self.notifier is not None:
            self.notifier.close()
            self.notifier = None

    # --- alerts and actions ------------------------------------------------------------------

    def check(self) -> int:
        """Decide and send alerts now; record each one sent. Return how many were sent."""
        app = self._app()
        store = app.store
        config = app.config
        now = self._clock()
        moved = store.restamp_future_alerts(now, CLOCK_JUMP)
        if moved:
            log.info("%d alerts were stamped later than now (the clock was set back); "
                     "they count as sent now", moved)
        policy = AlertPolicy.from_config(config.notify, config.timezone)
        ties = app.due(not_alerted_within=config.notify.renotify_after)
        plan = plan_alerts(ties, policy=policy, now=now, last_alerted=store.last_alerted(),
                           sent_today=store.notifications_since(
                               local_day_start(now, config.timezone)),
                           upcoming=self._upcoming(app, now))
        sent = 0
        assert self.notifier is not None
        birthdays: tuple[Notification, ...] = ()
        if config.notify.birthdays is not None:
            birthdays = plan_birthdays(app.birthdays_ahead(), policy=policy, now=now,
                                       lead=config.notify.birthdays,
                                       notified=store.birthdays_notified())
        for notification in (*plan.notifications, *birthdays):
            try:
                self.notifier.send(notification)
            except NotifyError as error:
                log.warning("alert not sent, will retry: %s", error)
                break
            store.record_notification(
                notification.kind, [(alert.person_id, alert.due_at)
                                    for alert in notification.alerts],
                now, uuid.uuid4().hex)
            sent += 1
        self.sent += sent
        held = ", ".join(f"{count} {reason}" for reason, count in sorted(plan.held.items()))
        log.info("alert check: %d ties due and not yet alerted, %d notifications sent%s",
                 len(ties), sent,
                 f", held back: {held}" if held else "")
        return sent

    @staticmethod
    def _upcoming(app: App, now: datetime) -> Callable[[int], datetime | None]:
        def first(person_id: int) -> datetime | None:
            meetings = app.store.upcoming_for(person_id, now)
            return meetings[0][0] if meetings else None

        return first

    def queue_action(self, action: str, notification: Notification) -> None:
        """Queue a notification action (called on the notifier's thread)."""
        if action == OPEN_REPORT:
            self._request("open_report")
            return
        for alert in notification.alerts:
            self._request("action", action, str(alert.person_id), alert.name)

    def apply_action(self, action: str, person_id: int, name: str) -> None:
        """Apply *Snooze 1 week* or *Done* to a person and record it."""
        app = self._app()
        now = self._clock()
        person = app.store.person(person_id)
        if person is None:
            log.warning("action %s for a person no longer known (#%d) ignored", action, person_id)
            return
        if action == SNOOZE:
            until = now + SNOOZE_FOR
            app.snooze(person, until)  # journaled, like syncd snooze
            app.store.record_alert_action(person_id, "snooze", now,
                                          until.isoformat().replace("+00:00", "Z"))
            log.info("snoozed %s until %s (from the notification)", name, f"{until:%Y-%m-%d}")
        elif action == DONE:
            app.log_contact(person, now, "marked done from the notification")
            app.store.record_alert_action(person_id, "done", now)
            Engine(app.store, app.rules(), self._clock).refresh_rhythms()
            log.info("logged a contact with %s (from the notification)", name)
        else:
            log.warning("unknown notification action %r ignored", action)

    # --- the HTML report ([report] path) -----------------------------------------------------

    def request_report(self) -> None:
        """Queue a rewrite of the report when ``[report] path`` is set (after syncs and actions;
        requests waiting together coalesce into one)."""
        if self._app().config.report.path is not None:
            self._request("report")

    def write_report(self) -> Path | None:
        """Rewrite the report at ``[report] path`` now; return where (None when off).

        Raise :class:`ReportError` when it cannot be written (the daemon logs it; the next
        sync tries again).
        """
        from syncd.report import write_report

        app = self._app()
        path = app.config.report.path
        if path is None:
            return None
        return write_report(app, path)

    def open_report(self) -> None:
        """Show the report in the desktop's default browser (the notification's *Open report*),
        writing it first when it does not exist yet."""
        from syncd.report import open_in_browser

        path = self._app().config.report.path
        if path is None:
            log.warning("Open report ignored: [report] path is not set")
            return
        if not path.exists():
            self.write_report()
        if open_in_browser(path):
            log.info("opened the report %s in the default browser", path)
        else:
            log.warning("could not start a browser to show %s; open it yourself", path)
