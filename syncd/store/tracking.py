"""The user's choices about people: who is tracked (config, CLI, vCard), tiers, snoozes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from syncd.store.identity import IdentityMixin
from syncd.store.schema import to_epoch


class TrackingMixin(IdentityMixin):
    """Tracking, untracking and snoozing people; applying ``[[people]]`` from the config."""

    def sync_configured_people(self, people: Sequence[tuple[str, Sequence[str], str | None,
                                                          float | None]]) -> None:
        """Apply ``[[people]]`` (name, addresses, tier, every days): merged and tracked.

        People tracked only because an earlier config listed them are untracked when removed.
        Every command applies the config, so when the store already matches it nothing is
        written (a read-only command never waits for the daemon's write lock).
        """
        if self._people_as_configured(people):
            return
        with self.transaction():
            listed: set[int] = set()
            for name, addresses, tier, every_days in people:
                person_id = self.merge_addresses(name, addresses)
                listed.add(person_id)
                self._db.execute("UPDATE people SET tracked = 1, tracked_by = 'config', "
                                 "tier = ?, every_days = ?, ignored = 0 WHERE id = ?",
                                 (tier, every_days, person_id))
            for (person_id,) in self._db.execute(
                    "SELECT id FROM people WHERE tracked_by = 'config'").fetchall():
                if person_id not in listed:
                    self._db.execute("UPDATE people SET tracked = 0, tracked_by = NULL, "
                                     "tier = NULL, every_days = NULL WHERE id = ?", (person_id,))

    def _people_as_configured(self, people: Sequence[tuple[str, Sequence[str], str | None,
                                                           float | None]]) -> bool:
        """Return True when applying ``people`` would change nothing."""
        listed: set[int] = set()
        for name, addresses, tier, every_days in people:
            marks = ",".join("?" * len(addresses))
            owners = self._db.execute(
                f"SELECT DISTINCT person_id, count(*) OVER () FROM addresses "
                f"WHERE address IN ({marks})", list(addresses)).fetchall()
            if len(owners) != 1 or owners[0][1] != len(set(addresses)):
                return False
            person_id = owners[0][0]
            row = self._db.execute("SELECT name, tracked, tracked_by, tier, every_days, ignored "
                                   "FROM people WHERE id = ?", (person_id,)).fetchone()
            if row is None or tuple(row) != (name, 1, "config", tier, every_days, 0):
                return False
            listed.add(person_id)
        configured = {row[0] for row in self._db.execute(
            "SELECT id FROM people WHERE tracked_by = 'config'")}
        return configured == listed

    def set_tracking(self, person_id: int, tracked: bool, tier: str | None = None,
                     every_days: float | None = None) -> None:
        """Track (with an optional tier or cadence) or untrack a person."""
        with self.transaction():
            self._db.execute("UPDATE people SET tracked = ?, tracked_by = ?, tier = ?, "
                             "every_days = ? WHERE id = ?",
                             (int(tracked), "cli" if tracked else None, tier, every_days,
                              person_id))

    def mark_tracked_in_transaction(self, person_id: int, tier: str) -> None:
        """Track a person at ``tier`` unless the config already tracks them (no transaction)."""
        self._db.execute("UPDATE people SET tracked = 1, tracked_by = 'vcard', tier = ? "
                         "WHERE id = ? AND tracked_by IS NOT 'config'", (tier, person_id))

    def snooze(self, person_id: int, until: datetime | None) -> None:
        """Silence a person until ``until`` (None ends a snooze)."""
        with self.transaction():
            self._db.execute("UPDATE people SET snoozed_until = ? WHERE id = ?",
                             (to_epoch(until), person_id))
