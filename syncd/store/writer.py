"""The page writer: one page of decisions, skips and its cursor in ONE transaction.

Also the other writes of contacts: a contact logged by hand (``syncd done``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext
from datetime import datetime

from syncd.model import Decision, Direction, Skip
from syncd.store.schema import to_epoch
from syncd.store.stats import Links
from syncd.store.upcoming import UpcomingMixin


class WriterMixin(UpcomingMixin):
    """Applying pages: interactions, observations, contacts and their stats."""

    def apply(self, source: str, decisions: Sequence[tuple[str, Decision]],
              skipped: Sequence[Skip], cursor: str | None,
              learned_mine: Iterable[str] = (), *, removals: Sequence[str] = (),
              revisitable: Mapping[str, str] | None = None) -> int:
        """Store one page: its removals, decisions, skips and cursor, in ONE transaction.

        ``decisions`` pairs each record's source id with what the rules decided. Return the
        number of new counted (person, interaction) contacts. Replaying a page changes nothing.
        ``revisitable`` maps the source ids of messages whose decision depends on which
        addresses are mine to the message encoded (syncd.message_codec): they are kept, with
        their interaction, for ``Engine.revisit`` (a source id kept before is replaced).

        A decision with rule ``upcoming`` (a future meeting) writes one ``upcoming`` row per
        counted person instead of contacts; any other decision about a source id drops the
        upcoming rows it had (a meeting that started, or one I have since declined).
        ``removals`` delete *upcoming* rows only: a source id, or a prefix ending in ``|``
        (``calendar|UID|`` = every occurrence of one event, ``calendar|`` = a whole calendar,
        see connectors.calendars._calendar); contacts already counted stay (a past meeting is
        proof).
        Removals are applied before the page's decisions, so a changed event can be re-listed.
        """
        new_contacts = 0
        with nullcontext(self._db) if self._batched else self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO sources(name) VALUES (?)", (source,))
            for address in learned_mine:
                db.execute("INSERT OR IGNORE INTO my_addresses VALUES (?, ?)",
                           (address, f"sent:{source}"))
            for removal in removals:
                self._remove_upcoming(source, removal)
            has_skips = db.execute("SELECT 1 FROM skips WHERE source = ? LIMIT 1",
                                   (source,)).fetchone() is not None
            stored: list[tuple[str, Decision]] = []
            for source_id, decision in decisions:
                if has_skips:
                    db.execute("DELETE FROM skips WHERE source = ? AND source_id = ?",
                               (source, source_id))
                if decision.direction is Direction.MEETING:
                    db.execute("DELETE FROM upcoming WHERE source = ? AND source_id = ?",
                               (source, source_id))
                    if decision.rule == "upcoming":
                        self._add_upcoming(source, source_id, decision)
                        continue
                stored.append((source_id, decision))
            # The page's rows are resolved and written a statement per table (executemany,
            # half the cost of one execute per row), contact stats summed per person first
            # (commutative: max/min/+1). Its interactions and people are looked up and created
            # first, so the loop below only hits the address cache.
            ats = [None if decision.at is None else int(decision.at.timestamp())
                   for _, decision in stored]  # to_epoch, once per decision
            identities = self._interaction_ids([decision for _, decision in stored], ats)
            senders = {decision.sender.email: decision.sender.written or decision.sender.email
                       for _, decision in reversed(stored) if decision.sender is not None}
            self._resolve_people((address for _, decision in stored
                                  for address in decision.participants), senders)
            self._spell_as_senders(senders)
            links = Links()
            observations: list[tuple[str, str, int]] = []
            for (source_id, decision), (interaction_id, created), at in zip(
                    stored, identities, ats, strict=True):
                observations.append((source, source_id, interaction_id))
                if created:
                    new_contacts += self._link_new_interaction(interaction_id, decision, at,
                                                               links)
                    continue
                # An earlier record of this page (a copy in another folder) may have linked
                # it: write the gathered contacts before looking.
                self._write_contacts(links)
                new_contacts += self._link_people(interaction_id, decision, links)
            db.executemany("INSERT OR REPLACE INTO observations VALUES (?, ?, ?)", observations)
            if revisitable:
                db.executemany("INSERT OR REPLACE INTO revisitable VALUES (?, ?, ?, ?)",
                               [(source, source_id, interaction_id, revisitable[source_id])
                                for source, source_id, interaction_id in observations
                                if source_id in revisitable])
            self._write_contacts(links)
            self._write_stats(links.stats)
            for skip in skipped:
                db.execute("INSERT OR REPLACE INTO skips VALUES (?, ?, ?)",
                           (source, skip.source_id, skip.reason))
            if decisions:
                db.execute("UPDATE sources SET had_data = 1 WHERE name = ?", (source,))
            if cursor is not None:
                db.execute("UPDATE sources SET cursor = ? WHERE name = ?", (cursor, source))
        return new_contacts

    def _spell_as_senders(self, senders: Mapping[str, str]) -> None:
        """Show an address as its owner wrote it in a From header (``senders``: address ->
        spelling): that spelling replaces the first one seen (say in someone's Cc), once per
        address and process. Addresses created in this page already have it."""
        spelled = {email: written for email, written in senders.items()
                   if email not in self._spelled_by_sender}
        if spelled:
            self._db.executemany("UPDATE addresses SET written = ?, written_by_sender = 1 "
                                 "WHERE address = ? AND written_by_sender = 0",
                                 [(written, email) for email, written in spelled.items()])
            self._spelled_by_sender.update(spelled)

    def _link_new_interaction(self, interaction_id: int, decision: Decision, at: int | None,
                              links: Links) -> int:
        """:meth:`_link_people` for an interaction created by this page, which has no contacts
        yet: nothing to look up (the common case, and a first sync's hot path). Every
        participant is in the address cache (``apply`` resolved the page's people first);
        ``at`` is the decision's time in epoch seconds."""
        direction = decision.direction
        value = direction._value_ if direction is not None else None
        participants = decision.participants
        count = len(participants)
        counted = {address.email for address in decision.counted}
        people = self._people_by_address
        contacts = links.contacts
        counted_people: set[int] = set()
        new = 0
        for address in participants:
            email = address.email
            person_id = people[email][0]
            counts = email in counted
            # A person counts once per interaction even when two of their addresses were on
            # it (see _link_people).
            for_person = counts and person_id not in counted_people
            contacts.append((interaction_id, email, person_id, at, value, int(for_person),
                             count, int(counts)))
            if for_person:
                counted_people.add(person_id)
                if direction is not None and at is not None:
                    links.count(person_id, direction, at, count)
                    new += 1
        return new

    def _link_people(self, interaction_id: int, decision: Decision, links: Links) -> int:
        """Link the decision's participants to an interaction stored before (another copy of
        the message); return new counted contacts.

        Contacts of a new interaction and every counted contact's stats are gathered in
        ``links`` (written by :meth:`_write_contacts` and :meth:`_write_stats`).
        """
        counted = {address.email for address in decision.counted}
        at = to_epoch(decision.at)
        direction = decision.direction.value if decision.direction else None
        participants = len(decision.participants)
        new = 0
        # A person counts once per interaction even when two of their addresses were on it:
        # the first of them holds ``counts``, every address keeps ``address_counts`` (a split
        # gives each address back its own; schema migration 9).
        counted_people: set[int] = set()
        for address in decision.participants:
            person_id = self.person_for_address(address)
            counts = address.email in counted
            existing = self._db.execute(
                "SELECT address_counts FROM contacts WHERE interaction_id = ? AND address = ?",
                (interaction_id, address.email)).fetchone()
            # Another address of theirs may have counted for this interaction already.
            if counts and person_id not in counted_people and self._db.execute(
                    "SELECT 1 FROM contacts WHERE interaction_id = ? AND person_id = ? "
                    "AND counts = 1", (interaction_id, person_id)).fetchone() is not None:
                counted_people.add(person_id)
            for_person = counts and person_id not in counted_people
            if existing is None:
                links.contacts.append((interaction_id, address.email, person_id, at, direction,
                                       int(for_person), participants, int(counts)))
            elif counts and not existing[0]:
                self._db.execute("UPDATE contacts SET at = ?, direction = ?, counts = ?, "
                                 "address_counts = 1 WHERE interaction_id = ? AND address = ?",
                                 (at, direction, int(for_person), interaction_id,
                                  address.email))
            else:
                continue
            if for_person:
                counted_people.add(person_id)
                if decision.direction is not None and at is not None:
                    links.count(person_id, decision.direction, at, participants)
                    new += 1
        return new

    def _write_contacts(self, links: Links) -> None:
        if links.contacts:
            self._db.executemany("INSERT INTO contacts(interaction_id, address, person_id, "
                                 "at, direction, counts, participants, address_counts) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", links.contacts)
            links.contacts.clear()

    def log_manual(self, person_id: int, at: datetime, note: str | None,
                   key: str | None = None) -> bool:
        """Record a contact the machine cannot see (a call, a visit).

        ``key`` names the contact (the choices journal replays it): a contact already stored
        under it is not stored twice. Return False when it was already there.
        """
        epoch = to_epoch(at)
        assert epoch is not None
        with self.transaction():
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO interactions(key, at, direction, counts, rule, reason, "
                "note) VALUES (?, ?, 'manual', 1, 'manual', 'logged with syncd done', ?)",
                (f"manual:{key or uuid.uuid4()}", epoch, note))
            if not cursor.rowcount:
                return False
            # A logged contact belongs to the person's first address (a split moves it
            # with that address).
            self._db.execute("INSERT INTO contacts(interaction_id, address, person_id, at, "
                             "direction, counts, participants, address_counts) "
                             "VALUES (?, ?, ?, ?, 'manual', 1, 1, 1)",
                             (cursor.lastrowid, self.first_address(person_id), person_id,
                              epoch))
            self._count_contact(person_id, Direction.MANUAL, epoch, 1)
        return True
