"""The alert log: every notification sent and every action taken, so a restart repeats
nothing (:mod:`syncd.alerts` decides, the daemon records here)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from syncd.store.schema import StoreBase, to_epoch


class AlertsMixin(StoreBase):
    """Recording notifications and actions, and reading them back."""

    # Row kinds in ``alerts``: "alert" (one person named in a notification of their own),
    # "digest" (one row per person named in a digest; ``detail`` is the digest's id, so a
    # digest counts once towards max_per_day), and user actions "snooze" / "done".

    def record_notification(self, kind: str, people: Sequence[tuple[int, datetime | None]],
                            at: datetime, group: str) -> None:
        """Record one sent notification naming ``people`` (person id, due date), atomically."""
        epoch = to_epoch(at)
        with self.transaction():
            self._db.executemany(
                "INSERT INTO alerts(person_id, kind, at, due_at, detail) VALUES (?, ?, ?, ?, ?)",
                [(person_id, kind, epoch, to_epoch(due_at), group)
                 for person_id, due_at in people])

    def record_alert_action(self, person_id: int, kind: str, at: datetime,
                            detail: str | None = None) -> None:
        """Record an action taken on an alert (``snooze`` or ``done``)."""
        with self.transaction():
            self._db.execute("INSERT INTO alerts(person_id, kind, at, detail) VALUES (?, ?, ?, ?)",
                             (person_id, kind, to_epoch(at), detail))

    def restamp_future_alerts(self, now: datetime, tolerance: timedelta) -> int:
        """Move alerts and actions stamped more than ``tolerance`` after ``now`` to ``now``.

        Such stamps were made while the wall clock was wrong (set ahead, then corrected): left
        as they are, they would hold those people back as "alerted" and use up every day's
        ``max_per_day`` until the real time caught up with them. What they record happened at
        the latest now. Return how many rows moved.
        """
        epoch = to_epoch(now) or 0
        with self.transaction():
            return self._db.execute("UPDATE alerts SET at = ? WHERE at > ?",
                                    (epoch, epoch + int(tolerance.total_seconds()))).rowcount

    def last_alerted(self) -> dict[int, datetime]:
        """Return, per person, the last time they were named in a notification."""
        return {person_id: datetime.fromtimestamp(at, UTC) for person_id, at in self._db.execute(
            "SELECT person_id, max(at) FROM alerts WHERE kind IN ('alert', 'digest') "
            "GROUP BY person_id")}

    def birthdays_notified(self) -> set[tuple[int, date]]:
        """Return (person id, birthday date) of every birthday notification sent."""
        return {(person_id, datetime.fromtimestamp(due_at, UTC).date())
                for person_id, due_at in self._db.execute(
                    "SELECT person_id, due_at FROM alerts WHERE kind = 'birthday' "
                    "AND due_at IS NOT NULL")}

    def notifications_since(self, since: datetime) -> int:
        """Return how many notifications were sent at or after ``since`` (a digest is one)."""
        row = self._db.execute(
            "SELECT count(CASE WHEN kind = 'alert' THEN 1 END), "
            "count(DISTINCT CASE WHEN kind = 'digest' THEN detail END) "
            "FROM alerts WHERE at >= ? AND kind IN ('alert', 'digest')",
            (to_epoch(since),)).fetchone()
        return int(row[0]) + int(row[1])

    def alert_actions(self, person_id: int) -> list[tuple[str, datetime, str | None]]:
        """Return (kind, when, detail) of every alert and action about a person, oldest first."""
        return [(kind, datetime.fromtimestamp(at, UTC), detail) for kind, at, detail in
                self._db.execute("SELECT kind, at, detail FROM alerts WHERE person_id = ? "
                                 "ORDER BY at, id", (person_id,))]
