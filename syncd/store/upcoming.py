"""Upcoming meetings: future occurrences that suppress reminders until they start.

They become counted contacts when their start passes (``promote_started_meetings``), even if
the calendar never changes again; a removal deletes upcoming rows only (a past meeting stays
proof).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from syncd.model import Decision, Direction
from syncd.store.identity import IdentityMixin
from syncd.store.schema import from_epoch, to_epoch

log = logging.getLogger(__name__)


class UpcomingMixin(IdentityMixin):
    """The ``upcoming`` table: written by pages, promoted to contacts, read by ``due``."""

    def _remove_upcoming(self, source: str, removal: str) -> None:
        """Delete the upcoming rows (and skip notes) of a removed source id or prefix."""
        for table in ("upcoming", "skips"):
            if removal.endswith("|"):
                # A prefix: substr() compares exactly, where LIKE would see % and _ as wildcards.
                self._db.execute(f"DELETE FROM {table} WHERE source = ? AND "
                                 "substr(source_id, 1, ?) = ?", (source, len(removal), removal))
            else:
                self._db.execute(f"DELETE FROM {table} WHERE source = ? AND source_id = ?",
                                 (source, removal))

    def _add_upcoming(self, source: str, source_id: str, decision: Decision) -> None:
        start = to_epoch(decision.at)
        if start is None:
            return
        for address in decision.counted:
            person_id = self.person_for_address(address)
            self._db.execute("INSERT OR REPLACE INTO upcoming VALUES (?, ?, ?, ?, ?, ?)",
                             (source, source_id, person_id, decision.dedupe_key, start,
                              decision.reason))

    def promote_started_meetings(self, now: datetime) -> int:
        """Turn upcoming meetings whose start is at or before ``now`` into counted contacts.

        Runs through the same idempotent path as a synced meeting: one interaction per dedupe
        key (UID + RECURRENCE-ID, so the same meeting in two calendars counts once), one
        observation per (source, source id), one contact per person. Return the number of new
        counted contacts. Safe to call any number of times.
        """
        epoch = to_epoch(now)
        rows = self._db.execute(
            "SELECT source, source_id, person_id, dedupe_key, start, reason FROM upcoming "
            "WHERE start <= ? ORDER BY dedupe_key, source, source_id", (epoch,)).fetchall()
        if not rows:
            return 0
        new = 0
        # Everyone an upcoming meeting counted for, per meeting: its participants besides me.
        attendees: dict[str, int] = {}
        for _source, _source_id, _person, key, _start, _reason in rows:
            attendees[key] = attendees.get(key, 0) + 1
        with self.transaction() as db:
            identities = self._interaction_ids([
                Decision(True, "meeting", reason.replace("an upcoming meeting", "a meeting", 1),
                         Direction.MEETING, from_epoch(start), dedupe_key=key)
                for _source, _source_id, _person, key, start, reason in rows],
                [start for _source, _source_id, _person, _key, start, _reason in rows])
            for (source, source_id, person_id, key, start, _reason), (interaction_id, _) in zip(
                    rows, identities, strict=True):
                db.execute("INSERT OR REPLACE INTO observations VALUES (?, ?, ?)",
                           (source, source_id, interaction_id))
                existing = db.execute(
                    "SELECT max(counts), min(address) FROM contacts WHERE interaction_id = ? "
                    "AND person_id = ?", (interaction_id, person_id)).fetchone()
                participants: int | None = attendees[key]
                if existing[0] is None:
                    # The calendar named the person, not one address: their first one.
                    db.execute("INSERT INTO contacts(interaction_id, address, person_id, at, "
                               "direction, counts, participants, address_counts) "
                               "VALUES (?, ?, ?, ?, 'meeting', 1, ?, 1)",
                               (interaction_id, self.first_address(person_id), person_id, start,
                                attendees[key]))
                elif not existing[0]:
                    db.execute("UPDATE contacts SET at = ?, direction = 'meeting', counts = 1, "
                               "address_counts = 1 WHERE interaction_id = ? AND address = ?",
                               (start, interaction_id, existing[1]))
                    participants = None  # the row keeps the count it was written with
                else:
                    continue
                self._count_contact(person_id, Direction.MEETING, start, participants)
                new += 1
            db.execute("DELETE FROM upcoming WHERE start <= ?", (epoch,))
        log.info("promoted %d started meetings (%d new contacts)", len(rows), new)
        return new

    def upcoming_for(self, person_id: int, now: datetime) -> list[tuple[datetime, str]]:
        """Return (start, reason) of the person's meetings that start after ``now``, soonest first.

        The same meeting seen in two calendars is listed once.
        """
        rows = self._db.execute(
            "SELECT min(start), reason FROM upcoming WHERE person_id = ? AND start > ? "
            "GROUP BY dedupe_key ORDER BY min(start)", (person_id, to_epoch(now))).fetchall()
        return [(datetime.fromtimestamp(start, UTC), reason) for start, reason in rows]

    def next_meetings(self, person_ids: Iterable[int], now: datetime) -> dict[int, datetime]:
        """Return, per person id that has one, the start of their next upcoming meeting."""
        ids = list(person_ids)
        result: dict[int, datetime] = {}
        for offset in range(0, len(ids), 500):
            chunk = ids[offset:offset + 500]
            marks = ",".join("?" * len(chunk))
            for person_id, start in self._db.execute(
                    f"SELECT person_id, min(start) FROM upcoming WHERE person_id IN ({marks}) "
                    "AND start > ? GROUP BY person_id", (*chunk, to_epoch(now))):
                result[person_id] = datetime.fromtimestamp(start, UTC)
        return result
