"""Identity: which person an address is, which interaction a dedupe key is, and mine.

People are created as addresses are first seen (named after the first display name seen);
``merge_addresses`` makes several addresses one person, moving their contacts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from syncd.model import Address, Decision
from syncd.store.stats import StatsMixin

#: Keys per ``IN (...)`` lookup: well under SQLite's 999 variables of old builds.
_LOOKUP_CHUNK = 500


class IdentityMixin(StatsMixin):
    """People by address, interactions by dedupe key, and the addresses that are mine."""

    def my_addresses(self) -> set[str]:
        """Return every address known to be mine (config and learned from Sent folders)."""
        return {row[0] for row in self._db.execute("SELECT address FROM my_addresses")}

    def set_configured_addresses(self, addresses: Iterable[str]) -> None:
        """Make ``addresses`` the configured set of mine (learned ones are kept)."""
        wanted = set(addresses)
        current = {row[0] for row in self._db.execute(
            "SELECT address FROM my_addresses WHERE origin = 'config'")}
        if current == wanted:
            return  # nothing to write: see sync_configured_people
        with self.transaction():
            self._db.execute("DELETE FROM my_addresses WHERE origin = 'config'")
            self._db.executemany("INSERT OR REPLACE INTO my_addresses VALUES (?, 'config')",
                                 [(address,) for address in wanted])

    def _interaction_ids(self, decisions: Sequence[Decision],
                         ats: Sequence[int | None]) -> list[tuple[int, bool]]:
        """Return (interaction id, whether created now) per decision, in order; ``ats`` are
        the decisions' times in epoch seconds (:func:`~syncd.store.schema.to_epoch`).

        Decisions are taken in turn: a key seen twice is created once, and a counting copy
        upgrades a non-counting one (e.g. a copy in Junk, then one in INBOX). One lookup per
        500 keys and one insert for all new ones. Ids are given here, which is safe inside the write
        transaction ``apply`` holds.
        """
        if not decisions:
            return []
        known: dict[str, list[int]] = {}  # key -> [id, counts]
        keys = list({decision.dedupe_key: None for decision in decisions})
        for offset in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[offset:offset + _LOOKUP_CHUNK]
            for interaction_id, key, counts in self._db.execute(
                    "SELECT id, key, counts FROM interactions WHERE key IN "
                    f"({','.join('?' * len(chunk))})", chunk):
                known[key] = [interaction_id, counts]
        next_id = int(self._db.execute(
            "SELECT coalesce(max(id), 0) FROM interactions").fetchone()[0]) + 1
        created: list[tuple[object, ...]] = []
        upgraded: list[tuple[object, ...]] = []
        result: list[tuple[int, bool]] = []
        for decision, at in zip(decisions, ats, strict=True):
            entry = known.get(decision.dedupe_key)
            if entry is not None and not (decision.counts and not entry[1]):
                result.append((entry[0], False))
                continue
            direction = decision.direction
            values = (at, direction._value_ if direction is not None else None,
                      int(decision.counts), decision.rule, decision.reason)
            if entry is None:
                known[decision.dedupe_key] = [next_id, int(decision.counts)]
                created.append((next_id, decision.dedupe_key, *values))
                result.append((next_id, True))
                next_id += 1
                continue
            # Seen before where it did not count (e.g. a copy in Junk); this copy does.
            entry[1] = 1
            upgraded.append((*values, entry[0]))
            result.append((entry[0], False))
        self._db.executemany("INSERT INTO interactions(id, key, at, direction, counts, rule, "
                             "reason) VALUES (?, ?, ?, ?, ?, ?, ?)", created)
        self._db.executemany("UPDATE interactions SET at = ?, direction = ?, counts = ?, "
                             "rule = ?, reason = ? WHERE id = ?", upgraded)
        return result

    def _resolve_people(self, addresses: Iterable[Address],
                        senders: Mapping[str, str] | None = None) -> None:
        """Put every one of ``addresses`` in the address cache (see :meth:`person_for_address`):
        new people are named after the first display name seen, unnamed ones get the first
        name seen. One lookup per 500 addresses and one insert per table for the new ones.
        A new address is spelled as it was written, as sender when ``senders`` (address ->
        spelling) has it, else as first seen."""
        wanted: dict[str, str] = {}  # address -> the first display name seen ('' if none)
        written: dict[str, str] = {}  # address -> the first spelling seen
        for address in addresses:
            cached = self._people_by_address.get(address.email)
            if cached is not None and (cached[1] or not address.name):
                continue
            if not wanted.get(address.email):
                wanted[address.email] = address.name
            if address.email not in written:
                written[address.email] = address.written or address.email
        if not wanted:
            return
        emails = list(wanted)
        found: dict[str, tuple[int, bool]] = {}
        for offset in range(0, len(emails), _LOOKUP_CHUNK):
            chunk = emails[offset:offset + _LOOKUP_CHUNK]
            for email, person_id, named in self._db.execute(
                    "SELECT address, person_id, people.name != '' FROM addresses JOIN people ON "
                    f"people.id = person_id WHERE address IN ({','.join('?' * len(chunk))})",
                    chunk):
                found[email] = (person_id, bool(named))
        renamed = [(wanted[email], person_id) for email, (person_id, named) in found.items()
                   if not named and wanted[email]]
        self._db.executemany("UPDATE people SET name = ? WHERE id = ? AND name = ''", renamed)
        next_id = int(self._db.execute(
            "SELECT coalesce(max(id), 0) FROM people").fetchone()[0]) + 1
        people: list[tuple[int, str]] = []
        for email, name in wanted.items():
            if email in found:
                person_id, named = found[email]
                self._people_by_address[email] = (person_id, named or bool(name))
            else:
                people.append((next_id, name))
                self._people_by_address[email] = (next_id, bool(name))
                next_id += 1
        self._db.executemany("INSERT INTO people(id, name) VALUES (?, ?)", people)
        senders = senders or {}
        created = [email for email in wanted if email not in found]
        self._db.executemany("INSERT INTO addresses(address, person_id, written, name, "
                             "written_by_sender) VALUES (?, ?, ?, ?, ?)",
                             [(email, self._people_by_address[email][0],
                               senders.get(email) or written[email], wanted[email],
                               int(email in senders)) for email in created])
        self._spelled_by_sender.update(email for email in created if email in senders)

    def person_for_address(self, address: Address) -> int:
        """Return the person id for ``address``, creating a person named after it if new.

        A person still without a name takes the first display name seen.
        """
        cached = self._people_by_address.get(address.email)
        if cached is None or (address.name and not cached[1]):
            self._resolve_people((address,))
            cached = self._people_by_address[address.email]
        return cached[0]

    def merge_addresses(self, name: str, addresses: Sequence[str]) -> int:
        """Make ``addresses`` one person called ``name`` and return its id (in a transaction).

        People that held some of the addresses are merged into the first of them
        (:meth:`merge_people`); unknown addresses join it. Nobody holding any: a new person.
        """
        self._people_by_address.clear()
        owners: list[int] = []
        for address in addresses:
            row = self._db.execute("SELECT person_id FROM addresses WHERE address = ?",
                                   (address,)).fetchone()
            if row is not None and row[0] not in owners:
                owners.append(int(row[0]))
        if owners:
            target = owners[0]
        else:
            target = int(self._db.execute("INSERT INTO people(name) VALUES (?)",
                                          (name,)).lastrowid or 0)
        self._db.execute("UPDATE people SET name = ? WHERE id = ?", (name, target))
        self._db.executemany("INSERT OR IGNORE INTO addresses(address, person_id) VALUES (?, ?)",
                             [(address, target) for address in addresses])
        if len(owners) > 1:
            self.merge_people(target, owners[1:])
        return target

    def merge_people(self, target: int, others: Sequence[int]) -> None:
        """Make ``others`` part of ``target`` (inside a transaction): their addresses, contacts,
        upcoming meetings, alerts and address-book cards move; their rows go; the stats of
        ``target`` are recomputed from contacts (:meth:`recount`). The caller settles tracking
        first."""
        self._people_by_address.clear()
        ids = [person_id for person_id in dict.fromkeys(others) if person_id != target]
        if not ids:
            return
        marks = ",".join("?" * len(ids))
        db = self._db
        db.execute(f"UPDATE addresses SET person_id = ? WHERE person_id IN ({marks})",
                   (target, *ids))
        db.execute(f"UPDATE contacts SET person_id = ? WHERE person_id IN ({marks})",
                   (target, *ids))
        db.execute(f"UPDATE OR IGNORE upcoming SET person_id = ? WHERE person_id IN ({marks})",
                   (target, *ids))
        db.execute(f"DELETE FROM upcoming WHERE person_id IN ({marks})", ids)
        db.execute(f"UPDATE alerts SET person_id = ? WHERE person_id IN ({marks})",
                   (target, *ids))
        db.execute(f"UPDATE cards SET person_id = ? WHERE person_id IN ({marks})",
                   (target, *ids))
        db.execute(f"DELETE FROM people WHERE id IN ({marks})", ids)
        db.execute(f"DELETE FROM person_stats WHERE person_id IN ({marks})", ids)
        self.recount([target])

    def split_address(self, person_id: int, address: str) -> int:
        """Give ``address`` of ``person_id`` its own new person, with exactly the contacts it
        had, and return the new id (inside a transaction). Both people's stats are recomputed
        from contacts. Upcoming meetings and alerts stay with ``person_id``."""
        self._people_by_address.clear()
        db = self._db
        row = db.execute("SELECT coalesce(name, '') FROM addresses WHERE address = ?",
                         (address,)).fetchone()
        new_id = int(db.execute("INSERT INTO people(name) VALUES (?)",
                                (row[0] if row else "",)).lastrowid or 0)
        db.execute("UPDATE addresses SET person_id = ? WHERE address = ?", (new_id, address))
        db.execute("UPDATE contacts SET person_id = ? WHERE person_id = ? AND address = ?",
                   (new_id, person_id, address))
        self.recount([person_id, new_id])
        return new_id

    def recount(self, person_ids: Sequence[int]) -> None:
        """Re-choose each person's ONE counting row per interaction (their first address that
        counted) and rebuild their stats from contacts (inside a transaction); their history,
        strength and rhythm are marked for the next refresh."""
        for person_id in person_ids:
            # Demote every counting row with a counting row of a smaller address of the same
            # person on the same interaction (the smallest is never demoted, whatever order
            # the rows are visited in); then promote the smallest counted address of any
            # interaction left without a counting row (a split took it away). Both walk the
            # person's rows in the contacts_person index and probe the primary key, so a
            # merge never scans the whole table.
            self._db.execute(
                "UPDATE contacts SET counts = 0 WHERE person_id = ?1 AND counts = 1 AND EXISTS "
                "(SELECT 1 FROM contacts d WHERE d.interaction_id = contacts.interaction_id "
                "AND d.person_id = ?1 AND d.counts = 1 AND d.address < contacts.address)",
                (person_id,))
            self._db.execute(
                "UPDATE contacts SET counts = 1 WHERE person_id = ?1 AND counts = 0 "
                "AND address_counts = 1 AND NOT EXISTS (SELECT 1 FROM contacts d WHERE "
                "d.interaction_id = contacts.interaction_id AND d.person_id = ?1 AND "
                "(d.counts = 1 OR (d.address_counts = 1 AND d.address < contacts.address)))",
                (person_id,))
        self.rebuild_stats(person_ids)
