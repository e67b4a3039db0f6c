"""Reading everything ``syncd export`` writes: people with their stats and the user's choices."""

from __future__ import annotations

from dataclasses import dataclass

from syncd.model import Birthday, PersonRow
from syncd.store.queries import QueriesMixin


@dataclass(frozen=True, slots=True)
class Choices:
    """What the user decided about a person, beyond :class:`PersonRow` (tier, every, snooze):
    who tracks them, whether ``syncd untrack`` keeps them out of auto_track, whether an ignore
    pattern hides them, and why auto_track tracked them. ``birthday`` is no choice but travels
    with them into an export: the one their address-book cards give (CardsMixin.birthdays),
    or None."""

    tracked_by: str | None
    never_auto_track: bool
    ignored: bool
    track_reason: str | None
    birthday: Birthday | None = None


class ExportsMixin(QueriesMixin):
    """Everyone worth exporting, with their choices."""

    def exported_people(self) -> list[tuple[PersonRow, Choices]]:
        """Return, by id, everyone with a counted contact or a choice of the user's (tracked,
        untracked for good, snoozed, ignored) and those choices."""
        where = ("p.tracked = 1 OR s.interactions > 0 OR p.never_auto = 1 "
                 "OR p.snoozed_until IS NOT NULL OR p.ignored = 1")
        rows = self._people(f"{where} ORDER BY p.id")
        choices = {row[0]: Choices(row[1], bool(row[2]), bool(row[3]), row[4])
                   for row in self._db.execute(
                       "SELECT p.id, p.tracked_by, p.never_auto, p.ignored, p.track_reason "
                       f"FROM people p LEFT JOIN person_stats s ON s.person_id = p.id "
                       f"WHERE {where}")}
        return [(row, choices[row.id]) for row in rows]
