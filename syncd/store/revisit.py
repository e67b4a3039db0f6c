"""Revisiting decisions when an address of mine is learned later.

The messages whose decision depends on which addresses are mine are kept (``revisitable``,
:mod:`syncd.message_codec` JSON) so that ``Engine.revisit`` can decide them again once an address
of mine is learned: mail to an alias read before mail sent from it, another source's Sent, an
address added to ``[me]``. What counts then never depends on the order mail was read in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from syncd.model import Decision
from syncd.store.identity import IdentityMixin
from syncd.store.schema import to_epoch

#: Addresses per ``IN (...)`` lookup: well under SQLite's 999 variables of old builds.
_LOOKUP_CHUNK = 500


class RevisitMixin(IdentityMixin):
    """Kept messages (written by ``apply``), found by an address, and their decisions
    replaced."""

    def revisitable(self, addresses: Iterable[str]) -> dict[int, list[str]]:
        """Return, per interaction that involved one of ``addresses`` as someone else (a
        contact row of the person holding it), the encoded messages kept for it."""
        found: dict[int, list[str]] = {}
        wanted = sorted(set(addresses))
        for offset in range(0, len(wanted), _LOOKUP_CHUNK):
            chunk = wanted[offset:offset + _LOOKUP_CHUNK]
            for interaction_id, _source, _source_id, record in self._db.execute(
                    "SELECT DISTINCT r.interaction_id, r.source, r.source_id, r.record "
                    "FROM addresses a JOIN contacts c ON c.person_id = a.person_id "
                    "JOIN revisitable r ON r.interaction_id = c.interaction_id "
                    f"WHERE a.address IN ({','.join('?' * len(chunk))})", chunk).fetchall():
                found.setdefault(interaction_id, []).append(record)
        return found

    def redecide(self, decisions: Mapping[int, Sequence[Decision]]) -> int:
        """Replace what each interaction's copies were decided with ``decisions`` (one per
        kept copy, in any order), in one transaction; return the interactions changed.

        The interaction takes the first counting decision (else the first one); its contacts
        are rewritten as :meth:`apply` would have written them for these decisions, and the
        stats of everyone who was or now is in them are rebuilt.
        """
        touched: set[int] = set()
        changed = 0
        with self.transaction() as db:
            for interaction_id, found in decisions.items():
                if not found:
                    continue
                chosen = next((decision for decision in found if decision.counts), found[0])
                #: address -> (person id, at, direction, counts, participants, address_counts)
                #: as apply writes them: one counting row per person (schema migration 9)
                contacts: dict[str, tuple[int, int | None, str | None, int, int, int]] = {}
                for decision in found:
                    counted = {address.email for address in decision.counted}
                    for address in decision.participants:
                        person_id = self.person_for_address(address)
                        counts = int(address.email in counted)
                        if address.email not in contacts or counts > contacts[address.email][5]:
                            contacts[address.email] = (
                                person_id, to_epoch(decision.at),
                                decision.direction.value if decision.direction else None, counts,
                                len(decision.participants), counts)
                counting: set[int] = set()
                for email in sorted(contacts):
                    person_id, at, direction, counts, participants, own = contacts[email]
                    for_person = int(bool(own) and person_id not in counting)
                    if for_person:
                        counting.add(person_id)
                    contacts[email] = (person_id, at, direction, for_person, participants, own)
                before = db.execute(
                    "SELECT address, person_id, at, direction, counts, participants, "
                    "address_counts FROM contacts WHERE interaction_id = ?",
                    (interaction_id,)).fetchall()
                if {row[0]: tuple(row[1:]) for row in before} == contacts:
                    continue
                changed += 1
                touched.update(row[1] for row in before)
                touched.update(values[0] for values in contacts.values())
                db.execute("DELETE FROM contacts WHERE interaction_id = ?", (interaction_id,))
                db.executemany("INSERT INTO contacts(interaction_id, address, person_id, at, "
                               "direction, counts, participants, address_counts) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                               [(interaction_id, email, *values)
                                for email, values in contacts.items()])
                db.execute(
                    "UPDATE interactions SET at = ?, direction = ?, counts = ?, rule = ?, "
                    "reason = ? WHERE id = ?",
                    (to_epoch(chosen.at), chosen.direction.value if chosen.direction else None,
                     int(chosen.counts), chosen.rule, chosen.reason, interaction_id))
            self.rebuild_stats(touched)
        return changed
