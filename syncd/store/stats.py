"""Derived per-person stats (``person_stats``) and inferred rhythms.

``person_stats`` is summed from counted contacts as pages are written (see :class:`Links`),
and can always be rebuilt from ``contacts`` (:meth:`StatsMixin.rebuild_stats`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from syncd.model import Direction, History
from syncd.store.schema import StoreBase
from syncd.strength import MIN_CONTACT_DAYS as MIN_SCORED_DAYS
from syncd.strength import MONTH_DAYS, RECENCY_HORIZON_DAYS, WEIGHTS
from syncd.ties import MIN_CONTACT_DAYS as MIN_RHYTHM_DAYS

_LAST_COLUMN = {
    Direction.OUTGOING: "last_outgoing",
    Direction.INCOMING: "last_incoming",
    Direction.MEETING: "last_meeting",
    Direction.MANUAL: "last_manual",
}

#: A person's first counted contact settles their history at once (one contact day, one month,
#: one direction) when one contact day can have neither a strength nor a rhythm: the new row
#: is written with that history and without the refresh mark, so the refresh after a first
#: sync skips the many one-off correspondents (72,000 of 76,000 people in the big-inbox shape
#: of bench/imap_bench.py). Any later contact marks the row, and the refresh sums it again.
FIRST_CONTACT_SETTLES = MIN_SCORED_DAYS > 1 and MIN_RHYTHM_DAYS > 1

# Adds a person's summed new contacts to person_stats: the last_* columns and first_contact
# keep the later (earlier) of the stored and the new time; NULL means "none yet" on both sides.
# A new row carries its history when settled (see FIRST_CONTACT_SETTLES), else the mark.
_ADD_STATS = (
    "INSERT INTO person_stats(person_id, last_outgoing, last_incoming, last_meeting, "
    "last_manual, last_contact, first_contact, interactions, rhythm_dirty, contact_days, "
    "two_way_days, active_months, outgoing, incoming, meetings, personal) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(person_id) DO UPDATE SET "
    + ", ".join(f"{column} = coalesce(max({column}, excluded.{column}), {column}, "
                f"excluded.{column})" for column in (*_LAST_COLUMN.values(), "last_contact"))
    + ", first_contact = coalesce(min(first_contact, excluded.first_contact), first_contact, "
    "excluded.first_contact), interactions = interactions + excluded.interactions, "
    "rhythm_dirty = 1"
)
#: Keys per ``IN (...)`` lookup: well under SQLite's 999 variables of old builds.
#: The person_stats columns of a :class:`syncd.model.History`, in its field order (alias s).
HISTORY_COLUMNS = (
    "s.contact_days, s.two_way_days, s.active_months, s.outgoing, s.incoming, s.meetings, "
    "s.personal, s.interactions, s.first_contact, s.last_contact, s.inferred_days")
#: Recency points lost per second of quiet (syncd.strength.recency_points, while it lasts).
RECENCY_PER_SECOND = WEIGHTS["recency"] / (RECENCY_HORIZON_DAYS * 86400)
_STATS_INDEX = {direction: index for index, direction in enumerate(_LAST_COLUMN)}
#: A person's summed contacts of one page (see :class:`Links`).
_Summed = tuple[list[int | None], list[int], tuple[Direction, int | None]]
#: rhythm_dirty and the history columns of a new row that the refresh will sum.
_UNSETTLED = (1, 0, 0, 0, 0, 0, 0, 0.0)


def _new_history(count: int, first: tuple[Direction, int | None]) -> tuple[int | float, ...]:
    """rhythm_dirty and the history columns for a person_stats row created with ``count``
    contacts, the first of them ``first`` (see FIRST_CONTACT_SETTLES); as refresh_histories
    would sum them for one contact."""
    direction, participants = first
    if count != 1 or participants is None or not FIRST_CONTACT_SETTLES:
        return _UNSETTLED
    return (0, 1, int(direction is not Direction.INCOMING), 1,
            int(direction is Direction.OUTGOING), int(direction is Direction.INCOMING),
            int(direction is Direction.MEETING), 1.0 / max(1, participants))


class Links:
    """What one page adds: contact rows to insert, and counted contacts summed per person.

    ``stats`` maps a person id to ([last_outgoing, last_incoming, last_meeting, last_manual],
    [last_contact, first_contact, count], (direction, participants) of the first contact):
    the columns of :data:`_ADD_STATS` in order, and what settles a first contact's history.
    """

    __slots__ = ("contacts", "stats")

    def __init__(self) -> None:
        #: (interaction id, address, person id, at, direction, counts, participants,
        #: address_counts)
        self.contacts: list[tuple[int, str, int, int | None, str | None, int, int, int]] = []
        self.stats: dict[int, _Summed] = {}

    def count(self, person_id: int, direction: Direction, at: int,
              participants: int | None) -> None:
        """Add one counted contact with ``participants`` people besides me (None: unknown,
        so a first contact's history is left to the refresh)."""
        entry = self.stats.get(person_id)
        if entry is None:
            entry = self.stats[person_id] = ([None, None, None, None], [at, at, 0],
                                             (direction, participants))
        lasts, totals, _first = entry
        index = _STATS_INDEX[direction]
        last = lasts[index]
        if last is None or at > last:
            lasts[index] = at
        if at > totals[0]:
            totals[0] = at
        if at < totals[1]:
            totals[1] = at
        totals[2] += 1


class StatsMixin(StoreBase):
    """Adding contacts to ``person_stats``, rebuilding it, and the rhythm bookkeeping."""

    def _write_stats(self, stats: Mapping[int, _Summed]) -> None:
        """Add summed counted contacts (see :class:`Links`) to ``person_stats``."""
        if stats:
            self._db.executemany(_ADD_STATS, [
                (person_id, *lasts, *totals, *_new_history(totals[2], first))
                for person_id, (lasts, totals, first) in stats.items()])

    def first_address(self, person_id: int) -> str:
        """Return the person's first address (canonical), or ``#ID`` for one without any."""
        row = self._db.execute("SELECT min(address) FROM addresses WHERE person_id = ?",
                               (person_id,)).fetchone()
        return str(row[0]) if row and row[0] is not None else f"#{person_id}"

    def _count_contact(self, person_id: int, direction: Direction, at: int,
                       participants: int | None) -> None:
        """Add one counted contact to the person's stats (see :meth:`Links.count`)."""
        links = Links()
        links.count(person_id, direction, at, participants)
        self._write_stats(links.stats)

    def refresh_histories(self, scored_from_days: int = 0) -> list[tuple[int, History]]:
        """Re-sum the history of every person whose contacts changed (marked ``rhythm_dirty``);
        return the histories of those of them with at least ``scored_from_days`` contact days.

        The others can never be scored (:data:`syncd.strength.MIN_CONTACT_DAYS`): their
        strength is cleared here, in SQL, rather than returned to be cleared one by one.
        Run before the rhythms settle (which clears the marks); ``syncd suggest`` then reads
        one row per person.

        Two statements, nothing loops over contacts in Python. A new person's first contact is
        settled when written (FIRST_CONTACT_SETTLES); people whose stats were rebuilt (a merge,
        a split, a revisit) and have ONE counted contact get their history read straight off
        that row; only people with more go through the GROUP BY, whose three
        ``count(DISTINCT ...)`` build a temporary b-tree per person (2.0 s of CPU for 76,000
        people, 0.4 s with this split; bench/imap_bench.py's big-inbox shape).
        """
        month = round(MONTH_DAYS * 86400)
        with self.transaction():
            self._db.execute(
                "UPDATE person_stats SET contact_days = 1, two_way_days = h.two_way, "
                "active_months = 1, outgoing = h.outgoing, incoming = h.incoming, "
                "meetings = h.meetings, personal = h.personal FROM ("
                "SELECT person_id, direction != 'incoming' AS two_way, "
                "direction = 'outgoing' AS outgoing, direction = 'incoming' AS incoming, "
                "direction = 'meeting' AS meetings, "
                "1.0 / max(1, coalesce(participants, 1)) AS personal "
                "FROM contacts WHERE counts = 1 AND at IS NOT NULL AND person_id IN "
                "(SELECT person_id FROM person_stats WHERE rhythm_dirty = 1 "
                "AND interactions = 1)) AS h WHERE person_stats.person_id = h.person_id")
            self._db.execute(
                "UPDATE person_stats SET contact_days = h.days, two_way_days = h.two_way, "
                "active_months = h.months, outgoing = h.outgoing, incoming = h.incoming, "
                "meetings = h.meetings, personal = h.personal FROM ("
                "SELECT person_id, count(DISTINCT at / 86400) AS days, "
                "count(DISTINCT CASE WHEN direction != 'incoming' THEN at / 86400 END) "
                "AS two_way, count(DISTINCT at / ?) AS months, "
                "count(CASE WHEN direction = 'outgoing' THEN 1 END) AS outgoing, "
                "count(CASE WHEN direction = 'incoming' THEN 1 END) AS incoming, "
                "count(CASE WHEN direction = 'meeting' THEN 1 END) AS meetings, "
                "sum(1.0 / max(1, coalesce(participants, 1))) AS personal "
                "FROM contacts WHERE counts = 1 AND at IS NOT NULL AND person_id IN "
                "(SELECT person_id FROM person_stats WHERE rhythm_dirty = 1 "
                "AND interactions != 1) "
                "GROUP BY person_id) AS h WHERE person_stats.person_id = h.person_id",
                (month,))
            if scored_from_days > 0:
                self._db.execute(
                    "UPDATE person_stats SET strength = NULL, strength_key = NULL "
                    "WHERE rhythm_dirty = 1 AND contact_days < ? AND strength IS NOT NULL",
                    (scored_from_days,))
        return [(row[0], History(*row[1:])) for row in self._db.execute(
            f"SELECT person_id, {HISTORY_COLUMNS} FROM person_stats s "
            "WHERE rhythm_dirty = 1 AND contact_days >= ?", (scored_from_days,))]

    def set_strengths(self, strengths: Iterable[tuple[int, float | None]]) -> None:
        """Store the lasting part of each person's strength (None: never suggested), and its
        ranking key (see :mod:`syncd.store.suggestions`)."""
        with self.transaction():
            self._db.executemany(
                "UPDATE person_stats SET strength = ?1, strength_key = ?1 + last_contact * ?2 "
                "WHERE person_id = ?3",
                [(score, RECENCY_PER_SECOND, person_id) for person_id, score in strengths])

    def clear_rhythms(self, fewer_contacts_than: int) -> None:
        """Settle the stale rhythm of everyone with fewer counted contacts than given as none.

        One statement for what is, after a first sync, most people (one-off correspondents):
        a rhythm needs that many contact days, and days <= contacts.
        """
        with self.transaction():
            self._db.execute("UPDATE person_stats SET inferred_days = NULL, rhythm_dirty = 0 "
                             "WHERE rhythm_dirty = 1 AND interactions < ?",
                             (fewer_contacts_than,))

    def dirty_rhythms(self) -> list[tuple[int, list[int]]]:
        """Return (person id, sorted counted contact times) for people whose rhythm is stale."""
        people = [row[0] for row in self._db.execute(
            "SELECT person_id FROM person_stats WHERE rhythm_dirty = 1")]
        return [(person_id, self.contact_times(person_id)) for person_id in people]

    def contact_times(self, person_id: int) -> list[int]:
        """Return the sorted times of every counted contact with a person."""
        return [row[0] for row in self._db.execute(
            "SELECT at FROM contacts WHERE person_id = ? AND counts = 1 AND at IS NOT NULL "
            "ORDER BY at", (person_id,))]

    def set_rhythms(self, rhythms: Iterable[tuple[int, float | None]]) -> None:
        """Store inferred cadences (days) and clear their dirty marks."""
        with self.transaction():
            self._db.executemany(
                "UPDATE person_stats SET inferred_days = ?, rhythm_dirty = 0 WHERE person_id = ?",
                [(days, person_id) for person_id, days in rhythms])

    def rebuild_stats(self, person_ids: Iterable[int]) -> None:
        """Recompute the stats of ``person_ids`` from their contacts (inside a transaction).

        One pass over each person's rows of the covering ``contacts_person`` index: a person
        has ONE counting row per interaction (schema migration 9), so rows are interactions.
        """
        lasts = ", ".join(f"max(CASE WHEN direction = '{direction.value}' THEN at END)"
                          for direction in _LAST_COLUMN)
        for person_id in person_ids:
            self._db.execute("DELETE FROM person_stats WHERE person_id = ?", (person_id,))
            self._db.execute(
                "INSERT INTO person_stats(person_id, last_outgoing, last_incoming, last_meeting, "
                "last_manual, last_contact, first_contact, interactions, rhythm_dirty) "
                f"SELECT person_id, {lasts}, max(at), min(at), count(*), 1 FROM contacts "
                "WHERE person_id = ?1 AND counts = 1 AND at IS NOT NULL GROUP BY person_id",
                (person_id,))
