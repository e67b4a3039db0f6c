"""Fakes shipped with syncd for tests: a connector that serves records from memory.

Used by the unit tests of the engine and by benchmarks; never imported by the daemon.
"""

from __future__ import annotations

import json
from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from syncd.addresses import normalize_address
from syncd.errors import CursorExpired, SourceError
from syncd.model import Address, Message, Page, Record, Role
from syncd.store import Store


def address(text: str, name: str = "") -> Address:
    """Return a normalised :class:`Address` (test shorthand)."""
    email = normalize_address(text)
    assert email is not None, text
    return Address(email, name)


def message(source_id: str, sender: str, to: Sequence[str] = (), *, cc: Sequence[str] = (),
            bcc: Sequence[str] = (), date: datetime | None = None,
            message_id: str | None = None, role: Role = Role.INBOX,
            headers: dict[str, str] | None = None, received: datetime | None = None) -> Message:
    """Return a :class:`Message` built from plain strings (test shorthand)."""
    return Message(
        source_id=source_id, message_id=message_id if message_id is not None else source_id,
        date=date, received=received, sender=address(sender),
        to=tuple(address(a) for a in to), cc=tuple(address(a) for a in cc),
        bcc=tuple(address(a) for a in bcc), folder_role=role, headers=headers or {},
        fingerprint=source_id)


@dataclass
class FakeConnector:
    """Serves ``records`` in pages of ``page_size``; the cursor is the count already served.

    ``fail_after_pages`` raises a SourceError after that many pages (a dead server mid-sync);
    ``expire_cursor`` makes any non-empty cursor raise CursorExpired once.
    """

    records: list[Record] = field(default_factory=list)
    page_size: int = 10
    name: str = "fake"
    fail_after_pages: int | None = None
    expire_cursor: bool = False
    my_addresses: frozenset[str] = frozenset()
    pulls: int = 0

    def pull(self, cursor: str | None, known: Container[str]) -> Iterator[Page]:
        self.pulls += 1
        start = 0
        if cursor is not None:
            if self.expire_cursor:
                self.expire_cursor = False
                raise CursorExpired("the fake cursor expired")
            start = int(json.loads(cursor)["served"])
        served = 0
        position = start
        while True:
            chunk = self.records[position:position + self.page_size]
            if self.fail_after_pages is not None and served >= self.fail_after_pages:
                raise SourceError("the fake server went away")
            position += len(chunk)
            yield Page(records=tuple(chunk), cursor=json.dumps({"served": position}),
                       my_addresses=self.my_addresses)
            served += 1
            if position >= len(self.records) or not chunk:
                return


def database_content(store: Store) -> dict[str, list[tuple[object, ...]]]:
    """Return what a store holds that users care about, independent of row ids and order.

    Two stores with equal content hold the same contacts, stats, observations and cursors; used
    to prove that an interrupted and resumed sync equals an uninterrupted one.
    """
    db = store._db
    return {
        "contacts": sorted(db.execute(
            "SELECT i.key, a.address, c.at, c.direction, c.counts FROM contacts c "
            "JOIN interactions i ON i.id = c.interaction_id "
            "JOIN addresses a ON a.person_id = c.person_id").fetchall()),
        "interactions": sorted(db.execute(
            "SELECT key, at, direction, counts, rule FROM interactions").fetchall()),
        "stats": sorted(db.execute(
            "SELECT a.address, s.last_outgoing, s.last_incoming, s.last_contact, "
            "s.first_contact, s.interactions, s.inferred_days FROM person_stats s "
            "JOIN addresses a ON a.person_id = s.person_id").fetchall()),
        "observations": sorted(db.execute(
            "SELECT o.source, o.source_id, i.key FROM observations o "
            "JOIN interactions i ON i.id = o.interaction_id").fetchall()),
        "skips": sorted(db.execute("SELECT source, source_id, reason FROM skips").fetchall()),
        "mine": sorted(db.execute("SELECT address, origin FROM my_addresses").fetchall()),
        "cursors": sorted(db.execute("SELECT name, cursor FROM sources").fetchall()),
    }
