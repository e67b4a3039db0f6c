"""The user's choices about people: who is tracked (config, CLI, vCard), tiers, snoozes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

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
        """Track (with an optional tier or cadence) or untrack a person (``syncd track``/
        ``untrack``); an untracked person is never auto-tracked again."""
        with self.transaction():
            # Untracking is for good as far as auto_track goes (never_auto); tracking again
            # is the user's own choice, so it lifts that.
            self._db.execute("UPDATE people SET tracked = ?, tracked_by = ?, tier = ?, "
                             "every_days = ?, never_auto = ?, track_reason = NULL WHERE id = ?",
                             (int(tracked), "cli" if tracked else None, tier, every_days,
                              int(not tracked), person_id))

    def mark_tracked_in_transaction(self, person_id: int, tier: str) -> None:
        """Track a person at ``tier`` unless the config already tracks them (no transaction)."""
        self._db.execute("UPDATE people SET tracked = 1, tracked_by = 'vcard', tier = ? "
                         "WHERE id = ? AND tracked_by IS NOT 'config'", (tier, person_id))

    def snooze(self, person_id: int, until: datetime | None) -> None:
        """Silence a person until ``until`` (None ends a snooze)."""
        with self.transaction():
            self._db.execute("UPDATE people SET snoozed_until = ? WHERE id = ?",
                             (to_epoch(until), person_id))

    # --- identity: syncd merge / split ------------------------------------------------------

    def merge(self, person_ids: Sequence[int]) -> int:
        """Make ``person_ids`` one person, the first of them, and return its id (ONE transaction).

        Contacts follow their addresses and the stats are recomputed from them. Tracking
        (tracked, by whom, tier, cadence, auto_track's reason) is that of a person the config
        file tracks, else of the first tracked one in the order given; the name is that of the
        person the config file tracks, else the first non-empty one; the latest snooze stays;
        "never auto-track" stays when nobody is tracked; an ignored address keeps the merged
        person ignored unless the config tracks it. Addresses kept apart by ``syncd split`` are
        not touched here: the caller of a ``syncd merge`` lifts that (:meth:`allow_together`).
        """
        with self.transaction():
            return self._merge_in_transaction(person_ids)

    def _merge_in_transaction(self, person_ids: Sequence[int]) -> int:
        """:meth:`merge` inside the caller's transaction (an address-book card merges people
        with the same rules as ``syncd merge``, so nobody's tracking is lost to a card)."""
        ids = list(dict.fromkeys(person_ids))
        marks = ",".join("?" * len(ids))
        rows = {row[0]: row for row in self._db.execute(
            "SELECT id, name, tracked, tracked_by, tier, every_days, track_reason, "
            f"snoozed_until, never_auto, ignored FROM people WHERE id IN ({marks})", ids)}
        ordered = [rows[person_id] for person_id in ids]
        tracked = [row for row in ordered if row[2]]
        keeper = next((row for row in tracked if row[3] == "config"),
                      tracked[0] if tracked else None)
        snoozes = [row[7] for row in ordered if row[7] is not None]
        # The config file is the user's word on the name too (apply_config would write it
        # back anyway): taking it here keeps the name from changing twice.
        name = (keeper[1] if keeper is not None and keeper[3] == "config"
                else next((row[1] for row in ordered if row[1]), ""))
        if keeper is None:
            tracking: tuple[object, ...] = (0, None, None, None, None,
                                            int(any(row[8] for row in ordered)))
        else:
            tracking = (1, keeper[3], keeper[4], keeper[5], keeper[6], keeper[8])
        ignored = int(any(row[9] for row in ordered)
                      and (keeper is None or keeper[3] != "config"))
        self._db.execute(
            "UPDATE people SET name = ?, tracked = ?, tracked_by = ?, tier = ?, "
            "every_days = ?, track_reason = ?, never_auto = ?, snoozed_until = ?, "
            "ignored = ? WHERE id = ?",
            (name, *tracking, max(snoozes) if snoozes else None, ignored, ids[0]))
        self.merge_people(ids[0], ids[1:])
        return ids[0]

    def split(self, person_id: int, address: str, ignored: Callable[[str], bool],
              apart_from: Sequence[str] = ()) -> int:
        """Give ``address`` (canonical) of ``person_id`` a new person of its own with exactly
        its contacts; return the new id (ONE transaction). The new person is untracked, and
        ignored when ``ignored`` accepts the address; the rest keep the person's choices.
        ``address`` is kept apart (:meth:`keep_apart`) from the addresses left to the person
        and from ``apart_from`` (those it was split from when the choice was made)."""
        with self.transaction():
            new_id = self.split_address(person_id, address)
            self._db.execute("UPDATE people SET ignored = ? WHERE id = ?",
                             (int(ignored(address)), new_id))
            remaining = [row[0] for row in self._db.execute(
                "SELECT address FROM addresses WHERE person_id = ?", (person_id,))]
            self._db.execute("UPDATE people SET ignored = ? WHERE id = ? "
                             "AND tracked_by IS NOT 'config'",
                             (int(any(ignored(other) for other in remaining)), person_id))
            self._keep_apart(address, [*remaining, *apart_from])
        return new_id

    def keep_apart(self, address: str, others: Sequence[str]) -> None:
        """Record that ``address`` and each of ``others`` (canonical) are different people,
        whoever holds them now or later (a replayed split of addresses not seen yet)."""
        with self.transaction():
            self._keep_apart(address, others)

    def _keep_apart(self, address: str, others: Sequence[str]) -> None:
        pairs = [(address, other) for other in others if other != address]
        self._db.executemany("INSERT OR IGNORE INTO kept_apart VALUES (?, ?)",
                             [*pairs, *((other, first) for first, other in pairs)])

    def allow_together(self, addresses: Sequence[str]) -> None:
        """Forget that any two of ``addresses`` were kept apart (a ``syncd merge`` of them:
        the user's latest choice wins)."""
        marks = ",".join("?" * len(addresses))
        with self.transaction():
            self._db.execute(f"DELETE FROM kept_apart WHERE address IN ({marks}) "
                             f"AND other IN ({marks})", [*addresses, *addresses])

    def kept_apart_pairs(self) -> list[tuple[str, str]]:
        """Return every pair of addresses kept apart, each once (smaller first), sorted."""
        return [(row[0], row[1]) for row in self._db.execute(
            "SELECT address, other FROM kept_apart WHERE address < other "
            "ORDER BY address, other")]

    def _any_kept_apart(self, addresses: Sequence[str], others: Sequence[str]) -> bool:
        """Return True when one of ``addresses`` is kept apart from one of ``others``."""
        if not addresses or not others:
            return False
        return self._db.execute(
            f"SELECT 1 FROM kept_apart WHERE address IN ({','.join('?' * len(addresses))}) "
            f"AND other IN ({','.join('?' * len(others))}) LIMIT 1",
            [*addresses, *others]).fetchone() is not None

    def owner_of(self, address: str) -> int | None:
        """Return the id of the person holding ``address`` (canonical), or None."""
        row = self._db.execute("SELECT person_id FROM addresses WHERE address = ?",
                               (address,)).fetchone()
        return None if row is None else int(row[0])

    def identity_candidates(self) -> list[tuple[int, str, str, str]]:
        """Return (person id, name, address, address as written) of everyone not ignored who
        is tracked or has a counted contact (``syncd people --duplicates``), by id and address.
        """
        return [(row[0], row[1], row[2], row[3]) for row in self._db.execute(
            "SELECT p.id, p.name, a.address, coalesce(a.written, a.address) FROM people p "
            "JOIN addresses a ON a.person_id = p.id "
            "LEFT JOIN person_stats s ON s.person_id = p.id "
            "WHERE p.ignored = 0 AND (p.tracked = 1 OR s.interactions > 0) "
            "ORDER BY p.id, a.address")]

    def addresses_of(self, person_id: int) -> list[str]:
        """Return the canonical addresses of a person, sorted."""
        return [row[0] for row in self._db.execute(
            "SELECT address FROM addresses WHERE person_id = ? ORDER BY address", (person_id,))]

    def add_addresses(self, person_id: int, addresses: Sequence[str]) -> None:
        """Give ``person_id`` those of ``addresses`` nobody holds yet."""
        with self.transaction():
            self._db.executemany("INSERT OR IGNORE INTO addresses(address, person_id) "
                                 "VALUES (?, ?)", [(address, person_id) for address in addresses])

    # --- choices made on the command line (see syncd/choices.py) --------------------------------

    def tracked_by(self, person_id: int) -> str | None:
        """Return why a person is tracked: "config", "cli", "vcard", or None."""
        row = self._db.execute("SELECT tracked_by FROM people WHERE id = ?",
                               (person_id,)).fetchone()
        return None if row is None else row[0]

    def track(self, person_id: int, tier: str | None = None,
              every_days: float | None = None) -> None:
        """Track a person. With neither ``tier`` nor ``every_days`` an existing tier or cadence
        is kept (re-tracking changes nothing); a tier replaces the person's own cadence, which
        would beat it (ties.cadence_for). Tracking is the user's own choice: it lifts an earlier
        untrack's ban on auto_track (``never_auto``)."""
        with self.transaction():
            if tier is not None:
                self._db.execute("UPDATE people SET tracked = 1, tracked_by = 'cli', tier = ?, "
                                 "every_days = NULL, never_auto = 0, track_reason = NULL "
                                 "WHERE id = ?", (tier, person_id))
            elif every_days is not None:
                self._db.execute("UPDATE people SET tracked = 1, tracked_by = 'cli', "
                                 "every_days = ?, never_auto = 0, track_reason = NULL "
                                 "WHERE id = ?", (every_days, person_id))
            else:
                self._db.execute("UPDATE people SET tracked = 1, tracked_by = 'cli', "
                                 "never_auto = 0, track_reason = NULL WHERE id = ?", (person_id,))

    def untrack(self, person_id: int) -> None:
        """Stop tracking a person (their tier and cadence go with it)."""
        self.set_tracking(person_id, False)

    def person_with_addresses(self, name: str, addresses: Sequence[str]) -> int:
        """Return the person holding the first known of ``addresses``; create one if none is
        known (named ``name``, holding them all). For replaying choices into a new database."""
        for address in addresses:
            row = self._db.execute("SELECT person_id FROM addresses WHERE address = ?",
                                   (address,)).fetchone()
            if row is not None:
                return int(row[0])
        with self.transaction():
            return self.merge_addresses(name, addresses)

    def manual_contacts(self) -> list[tuple[int, str, datetime, str | None]]:
        """Return (person id, key, when, note) of every contact logged with ``syncd done``."""
        return [(person_id, key.removeprefix("manual:"),
                 datetime.fromtimestamp(at, UTC), note)
                for person_id, key, at, note in self._db.execute(
                    "SELECT c.person_id, i.key, i.at, i.note FROM interactions i "
                    "JOIN contacts c ON c.interaction_id = i.id WHERE i.rule = 'manual' "
                    "ORDER BY i.at, i.id")]

    def tracked_on_the_command_line(self) -> list[tuple[int, str | None, float | None]]:
        """Return (person id, tier, every days) of people tracked with ``syncd track``."""
        return [(row[0], row[1], row[2]) for row in self._db.execute(
            "SELECT id, tier, every_days FROM people WHERE tracked_by = 'cli' ORDER BY id")]

    def snoozes(self) -> list[tuple[int, datetime]]:
        """Return (person id, until) of every snooze on record."""
        return [(person_id, datetime.fromtimestamp(until, UTC)) for person_id, until in
                self._db.execute("SELECT id, snoozed_until FROM people "
                                 "WHERE snoozed_until IS NOT NULL ORDER BY id")]
