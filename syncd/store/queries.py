"""Reading people: listings, ``due`` candidates, finding people, and a person's timeline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from syncd.model import PersonRow
from syncd.store.schema import StoreBase, from_epoch, to_epoch


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One interaction on a person's page."""

    at: datetime | None
    direction: str | None
    counts: bool
    rule: str
    reason: str
    note: str | None
    #: Whether the interaction counted for anyone (``counts`` is for this person only).
    interaction_counts: bool = False
    #: How many people it involved besides me (None for rows stored before schema 4).
    participants: int | None = None
    #: Who else it counted for (name, else address), when it did not count for this person.
    counted_for: tuple[str, ...] = ()
    #: The sender's address of mail, when its dedupe key names it (``mid:ID|sender``).
    sender: str | None = None


class QueriesMixin(StoreBase):
    """Person rows with their stats, read one row per person (never scanning contacts)."""

    _PERSON_COLUMNS = (
        "p.id, p.name, p.tracked, p.tier, p.every_days, p.snoozed_until, s.last_outgoing, "
        "s.last_incoming, s.last_meeting, s.last_manual, s.last_contact, s.first_contact, "
        "coalesce(s.interactions, 0), s.inferred_days")

    def _people(self, where: str, parameters: Sequence[object] = ()) -> list[PersonRow]:
        rows = self._db.execute(
            f"SELECT {self._PERSON_COLUMNS} FROM people p "
            f"LEFT JOIN person_stats s ON s.person_id = p.id WHERE {where}",
            parameters).fetchall()
        addresses: dict[int, list[str]] = {}
        if len(rows) > 5_000:
            pairs = self._db.execute(
                "SELECT person_id, address FROM addresses ORDER BY address").fetchall()
        else:
            # Only their addresses, by index, 500 people a statement: `syncd due` with 1,000
            # tracked of 50,000 people reads 2,000 index rows instead of every address.
            pairs = []
            for start in range(0, len(rows), 500):
                ids = [row[0] for row in rows[start:start + 500]]
                pairs += self._db.execute(
                    "SELECT person_id, address FROM addresses "
                    f"WHERE person_id IN ({','.join('?' * len(ids))}) ORDER BY address",
                    ids).fetchall()
        for person_id, address in pairs:
            addresses.setdefault(person_id, []).append(address)
        return [PersonRow(row[0], row[1], tuple(addresses.get(row[0], ())), bool(row[2]),
                          row[3], row[4], from_epoch(row[5]), from_epoch(row[6]),
                          from_epoch(row[7]), from_epoch(row[8]), from_epoch(row[9]),
                          from_epoch(row[10]), from_epoch(row[11]), row[12], row[13])
                for row in rows]

    def tracked_count(self) -> int:
        """Return how many people are tracked."""
        return int(self._db.execute("SELECT count(*) FROM people WHERE tracked = 1").fetchone()[0])

    def tracked_people(self) -> list[PersonRow]:
        """Return every tracked person with stats."""
        return self._people("p.tracked = 1")

    def due_candidates(self, tier_days: Mapping[str, float], default_days: float,
                       now: datetime, *,
                       renotify_after: timedelta | None = None) -> list[PersonRow]:
        """Return tracked people who may be due soon or quiet: a superset, decided in SQL.

        ``syncd due`` must not build 50,000 rows to show 20, so the cadence precedence of
        :func:`syncd.ties.cadence_for` is mirrored here (person > tier > inferred for two-way
        ties > default) with a margin: the warning band is at most 15% of the cadence plus a
        day, so ``last + 0.85 * cadence - 1 day <= now`` keeps everyone ties.py could list.

        With ``renotify_after`` (the alert check), people :mod:`syncd.alerts` would hold back
        as already alerted are left out too: an alert within ``renotify_after``, with no
        contact since and no snooze that started after it and has ended.
        """
        alerted = ""
        parameters: tuple[object, ...] = ()
        if renotify_after is not None:
            alerted = (
                " AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.person_id = p.id AND a.kind IN "
                "('alert', 'digest') AND a.at > ? AND a.at >= coalesce(s.last_contact, 0) AND "
                "(p.snoozed_until IS NULL OR p.snoozed_until <= a.at OR p.snoozed_until > ?))")
            epoch = to_epoch(now) or 0
            parameters = (epoch - int(renotify_after.total_seconds()), epoch)
        tiers = "".join(f"WHEN {self._quote(name)} THEN {float(days)!r} "
                        for name, days in tier_days.items())
        tier_case = f"CASE p.tier {tiers}END" if tiers else "NULL"
        cadence = (
            f"coalesce(p.every_days, {tier_case}, CASE WHEN s.last_outgoing IS NOT NULL "
            "OR s.last_meeting IS NOT NULL OR s.last_manual IS NOT NULL "
            "THEN s.inferred_days END, ?)")
        return self._people(
            f"p.tracked = 1 AND (s.last_contact IS NULL OR "
            f"s.last_contact + 86400 * ({cadence} * 0.85 - 1) <= ?){alerted}",
            (default_days, to_epoch(now), *parameters))

    @staticmethod
    def _quote(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    def counted_people(self) -> list[PersonRow]:
        """Return everyone tracked, and everyone else with a counted contact and not hidden by
        an ignore pattern: a superset of :meth:`tracked_people`."""
        return self._people("p.tracked = 1 OR (s.interactions > 0 AND p.ignored = 0)")

    def person(self, person_id: int) -> PersonRow | None:
        """Return one person by id."""
        rows = self._people("p.id = ?", (person_id,))
        return rows[0] if rows else None

    def people_with_ids(self, person_ids: Sequence[int]) -> list[PersonRow]:
        """Return the people with these ids (at most a few hundred), in no particular order."""
        if not person_ids:
            return []
        return self._people(f"p.id IN ({','.join('?' * len(person_ids))})", list(person_ids))

    def find_people(self, query: str) -> list[int]:
        """Return ids of people whose id, address or name matches ``query`` exactly."""
        text = query.strip()
        if text.isdigit():
            row = self._db.execute("SELECT id FROM people WHERE id = ?", (int(text),)).fetchone()
            if row:
                return [row[0]]
        row = self._db.execute("SELECT person_id FROM addresses WHERE address = ?",
                               (text.lower(),)).fetchone()
        if row:
            return [row[0]]
        return [row[0] for row in self._db.execute(
            "SELECT id FROM people WHERE name = ? COLLATE NOCASE ORDER BY tracked DESC, id",
            (text,))]

    def find_people_by_prefix(self, text: str) -> list[tuple[int, bool]]:
        """Return (id, counted) of people whose name, or one of whose addresses, starts with
        ``text`` (case-insensitive), counted people first. Counted means tracked, or with a
        counted contact and not hidden by an ignore pattern."""
        pattern = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace(
            "_", "\\_") + "%"
        return [(row[0], bool(row[1])) for row in self._db.execute(
            "SELECT p.id, (p.tracked = 1 OR (coalesce(s.interactions, 0) > 0 "
            "AND p.ignored = 0)) AS counted FROM people p "
            "LEFT JOIN person_stats s ON s.person_id = p.id "
            "WHERE p.id IN (SELECT id FROM people WHERE lower(name) LIKE ? ESCAPE '\\' "
            "UNION SELECT person_id FROM addresses WHERE address LIKE ? ESCAPE '\\') "
            "ORDER BY counted DESC, p.tracked DESC, p.id", (pattern, pattern))]

    def suggestion_pool(self) -> list[tuple[int, str, str, bool]]:
        """Return (person id, name or address, "name" or "address", counted) of people.

        One entry per name and per address, for "did you mean"; counted means tracked, or with
        a counted contact and not hidden by an ignore pattern.
        """
        rows = self._db.execute(
            "SELECT p.id, p.name, a.address, (p.tracked = 1 OR (coalesce(s.interactions, 0) > 0 "
            "AND p.ignored = 0)) FROM people p LEFT JOIN person_stats s ON s.person_id = p.id "
            "LEFT JOIN addresses a ON a.person_id = p.id").fetchall()
        pool: list[tuple[int, str, str, bool]] = []
        for person_id, name, address, counted in rows:
            if name:
                pool.append((person_id, name, "name", bool(counted)))
            if address:
                pool.append((person_id, address, "address", bool(counted)))
        return pool

    def names_and_addresses(self) -> list[str]:
        """Return every person name and address (for "did you mean")."""
        names = [row[0] for row in self._db.execute(
            "SELECT DISTINCT name FROM people WHERE name != ''")]
        return names + [row[0] for row in self._db.execute("SELECT address FROM addresses")]

    def timeline(self, person_id: int, limit: int = 20,
                 counted_only: bool = True) -> list[TimelineEntry]:
        """Return the person's latest interactions, newest first, with what each was for them:
        whether it counted for them, for whom else it counted, and the sender of mail."""
        condition = "AND c.counts = 1" if counted_only else ""
        rows = self._db.execute(
            "SELECT i.at, i.direction, c.counts, i.rule, i.reason, i.note, i.counts, "
            "c.participants, i.key, CASE WHEN c.counts = 0 AND i.counts = 1 THEN "
            "(SELECT group_concat(coalesce(nullif(p.name, ''), (SELECT min(a.address) FROM "
            "addresses a WHERE a.person_id = o.person_id)), '\x1f') FROM contacts o "
            "JOIN people p ON p.id = o.person_id WHERE o.interaction_id = c.interaction_id "
            "AND o.counts = 1 AND o.person_id != c.person_id) END "
            "FROM contacts c JOIN interactions i ON i.id = c.interaction_id "
            f"WHERE c.person_id = ? {condition} ORDER BY i.at DESC LIMIT ?",
            (person_id, limit)).fetchall()
        return [TimelineEntry(from_epoch(at), direction, bool(counts), rule, reason, note,
                              bool(interaction_counts), participants,
                              tuple(others.split("\x1f")) if others else (), _sender(key))
                for at, direction, counts, rule, reason, note, interaction_counts, participants,
                key, others in rows]

    def rule_counts(self) -> dict[str, int]:
        """Return how many interactions each rule decided (for summaries)."""
        return dict(self._db.execute(
            "SELECT rule, count(*) FROM interactions GROUP BY rule").fetchall())


def _sender(key: str) -> str | None:
    """Return the sender a mail dedupe key names (``mid:MESSAGE-ID|sender``, see
    syncd.rules.dedupe_key), else None."""
    if not key.startswith("mid:"):
        return None
    sender = key.rpartition("|")[2]
    return sender or None
