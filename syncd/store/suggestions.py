"""Ranking untracked ties by strength for ``syncd suggest`` and ``auto_track``.

Read from ``person_stats`` (one row per person, never ``contacts``): the lasting part of each
score was stored when the person's contacts changed, with a ranking key that already holds
recency up to a constant of the moment (schema 4), so the strongest ties come off an index in
order. The dormancy test is added here, mirroring :func:`syncd.strength.dormant_after_days`
with the policy's own constants as parameters; ``_AGE_DAYS`` etc. are its SQL spelling.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from syncd import strength as policy
from syncd.model import History
from syncd.store.schema import StoreBase, to_epoch
from syncd.store.stats import HISTORY_COLUMNS, RECENCY_PER_SECOND

_AGE_DAYS = "((:now - s.last_contact) / 86400.0)"
_USUAL_GAP = ("coalesce(nullif(s.inferred_days, 0), (s.last_contact - s.first_contact) "
              "/ 86400.0 / max(1, s.contact_days - 1))")
_DORMANT = f"({_AGE_DAYS} > max(:dormant_days, :gaps * {_USUAL_GAP}))"


def reads_range(in_range: int, wanted: int, scored: int) -> bool:
    """Return True when reading ``in_range`` people by last contact and sorting them costs
    less than walking ``scored`` people by strength until ``wanted`` are found: the walk
    reads about wanted x scored / in_range rows, if the people in the range are spread
    evenly through the ranking."""
    return in_range * in_range <= wanted * scored


class SuggestionsMixin(StoreBase):
    """Untracked people ranked by strength, in the group they belong to."""

    def strongest_untracked(self, now: datetime, *, dormant: bool, limit: int, offset: int = 0,
                            needs_rhythm: bool = False) -> list[tuple[int, History]]:
        """Return (person id, history) of the strongest untracked ties, strongest first.

        Only people who could be suggested: not tracked, not ignored, not untracked by the user
        (``never_auto``), and a lasting score stored (two-way, enough contact days). Whether
        an address is mine is left to the caller, for the few rows it reads: asking here costs
        two lookups for each of 50,000 people. ``dormant`` picks the "reconnect" group, else
        "track". With ``needs_rhythm`` only people with an inferred rhythm (auto_track's
        cadence) are listed.
        Scores below :data:`syncd.strength.MIN_SCORE` (before rounding) are left out.
        """
        rhythm = " AND s.inferred_days IS NOT NULL" if needs_rhythm else ""
        epoch = to_epoch(now) or 0
        recency = policy.WEIGHTS["recency"]
        horizon_start = epoch - policy.RECENCY_HORIZON_DAYS * 86400
        parameters = {
            "now": epoch, "horizon": policy.RECENCY_HORIZON_DAYS,
            "dormant_days": policy.DORMANT_AFTER_DAYS, "gaps": policy.DORMANT_GAPS,
            "dormant": int(dormant), "wanted": limit + offset, "horizon_start": horizon_start,
            # Inside the horizon the full score is strength_key + shift (see schema 4).
            "shift": recency - epoch * RECENCY_PER_SECOND,
            "min_score": policy.MIN_SCORE - 0.5}
        filters = ("p.tracked = 0 AND p.ignored = 0 AND p.never_auto = 0 "
                   f"AND {_DORMANT} = :dormant{rhythm}")
        # Each group is read in two parts: people in touch within the recency horizon by
        # strength_key, the others by strength alone (see schema 4).
        recent_range = "s.last_contact > :horizon_start"
        if dormant:
            # Dormant means quiet for longer than max(dormant_days, gaps x usual gap), so not in
            # touch since now - dormant_days: a bound that only narrows the rows read.
            recent_range += " AND s.last_contact < :dormant_before"
            parameters["dormant_before"] = epoch - policy.DORMANT_AFTER_DAYS * 86400
        scored = self._db.execute(
            "SELECT count(*) FROM person_stats INDEXED BY person_stats_last_contact "
            "WHERE strength IS NOT NULL").fetchone()[0]
        recent = self._strongest_in(
            "s.strength_key + :shift", "person_stats_strength_key", "s.strength_key",
            "s.strength_key >= :min_score - :shift", recent_range, filters, parameters, scored)
        older = self._strongest_in(
            "s.strength", "person_stats_strength", "s.strength", "s.strength >= :min_score",
            "s.last_contact <= :horizon_start", filters, parameters, scored)
        rows = sorted([*recent, *older], key=lambda row: (-row[0], row[1]))
        rows = rows[offset:offset + limit]
        return [(row[1], History(*row[2:])) for row in rows]

    def _strongest_in(self, score: str, strength_index: str, order: str, at_least: str,
                      contact_range: str, filters: str, parameters: dict[str, float | int],
                      scored: int) -> list[tuple[Any, ...]]:
        """Return (score, person id, history columns...) of the ``:wanted`` strongest people
        whose last contact satisfies ``contact_range`` and who pass ``filters``.

        Two ways give the same rows; the cheaper is taken. Walking ``strength_index`` down
        stops at the ``wanted``-th match: about wanted x (``scored`` people / people in the
        range) rows, cheap when the range holds many. Reading the range from
        ``person_stats_last_contact`` and sorting it costs the rows in the range: cheap when
        it holds few (people quiet for months, in a mailbox of mostly recent mail). The count
        comes from the index alone.
        """
        in_range = self._db.execute(
            "SELECT count(*) FROM person_stats s INDEXED BY person_stats_last_contact "
            f"WHERE s.strength IS NOT NULL AND {contact_range}", parameters).fetchone()[0]
        if not in_range:
            return []
        index = ("person_stats_last_contact"
                 if reads_range(in_range, int(parameters["wanted"]), scored) else strength_index)
        rows: list[tuple[Any, ...]] = self._db.execute(
            f"SELECT {score}, s.person_id, {HISTORY_COLUMNS} "
            f"FROM person_stats s INDEXED BY {index} JOIN people p ON p.id = s.person_id "
            f"WHERE s.strength IS NOT NULL AND {at_least} AND {contact_range} AND {filters} "
            f"ORDER BY {order} DESC LIMIT :wanted", parameters).fetchall()
        return rows

    def auto_tracked_count(self) -> int:
        """Return how many people auto_track tracks now."""
        row = self._db.execute(
            "SELECT count(*) FROM people WHERE tracked = 1 AND tracked_by = 'auto'").fetchone()
        return int(row[0])

    def track_automatically(self, chosen: list[tuple[int, str]]) -> None:
        """Track each (person id, reason) for auto_track, unless tracked or untracked meanwhile."""
        with self.transaction():
            self._db.executemany(
                "UPDATE people SET tracked = 1, tracked_by = 'auto', track_reason = ?, "
                "tier = NULL, every_days = NULL WHERE id = ? AND tracked = 0 AND never_auto = 0",
                [(reason, person_id) for person_id, reason in chosen])

    def kept_out_of_auto_track(self, person_id: int) -> bool:
        """Return True when ``syncd untrack`` keeps the person out of auto_track for good."""
        row = self._db.execute("SELECT never_auto FROM people WHERE id = ?",
                               (person_id,)).fetchone()
        return bool(row and row[0])

    def track_reason(self, person_id: int) -> tuple[str | None, str | None]:
        """Return (who tracks them: config, cli, vcard, auto or None, why auto_track did)."""
        row = self._db.execute("SELECT tracked_by, track_reason FROM people WHERE id = ? "
                               "AND tracked = 1", (person_id,)).fetchone()
        return (None, None) if row is None else (row[0], row[1])
