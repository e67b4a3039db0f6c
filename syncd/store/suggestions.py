"""Ranking untracked ties by strength for ``syncd suggest`` and ``auto_track``.

Read from ``person_stats`` (one row per person, never ``contacts``): the lasting part of each
score was stored when the person's contacts changed, with a ranking key that already holds
recency up to a constant of the moment (schema 4), so the strongest ties come off an index in
order. The dormancy test is added here, mirroring :func:`syncd.strength.dormant_after_days`
with the policy's own constants as parameters; ``_AGE_DAYS`` etc. are its SQL spelling.
"""

from __future__ import annotations

from datetime import datetime

from syncd import strength as policy
from syncd.model import History
from syncd.store.schema import StoreBase, to_epoch
from syncd.store.stats import HISTORY_COLUMNS, RECENCY_PER_SECOND

_AGE_DAYS = "((:now - s.last_contact) / 86400.0)"
_USUAL_GAP = ("coalesce(nullif(s.inferred_days, 0), (s.last_contact - s.first_contact) "
              "/ 86400.0 / max(1, s.contact_days - 1))")
_DORMANT = f"({_AGE_DAYS} > max(:dormant_days, :gaps * {_USUAL_GAP}))"


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
        # Two walks down an index, each stopping at the `wanted` strongest: people in touch
        # within the recency horizon by strength_key, the others by strength alone.
        recent = self._db.execute(
            f"SELECT s.strength_key + :shift, s.person_id, {HISTORY_COLUMNS} "
            "FROM person_stats s JOIN people p ON p.id = s.person_id "
            "WHERE s.strength IS NOT NULL AND s.strength_key >= :min_score - :shift "
            f"AND s.last_contact > :horizon_start AND {filters} "
            "ORDER BY s.strength_key DESC LIMIT :wanted", parameters).fetchall()
        older = self._db.execute(
            f"SELECT s.strength, s.person_id, {HISTORY_COLUMNS} "
            "FROM person_stats s JOIN people p ON p.id = s.person_id "
            "WHERE s.strength IS NOT NULL AND s.strength >= :min_score "
            f"AND s.last_contact <= :horizon_start AND {filters} "
            "ORDER BY s.strength DESC LIMIT :wanted", parameters).fetchall()
        rows = sorted([*recent, *older], key=lambda row: (-row[0], row[1]))
        rows = rows[offset:offset + limit]
        return [(row[1], History(*row[2:])) for row in rows]

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
