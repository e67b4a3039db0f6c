"""Fakes shipped with syncd for tests: a connector that serves records from memory.

Used by the unit tests of the engine and by benchmarks; never imported by the daemon.
"""

from __future__ import annotations

import json
from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from syncd.addresses import normalize_address
from syncd.errors import CursorExpired, SourceError
from syncd.model import Address, Message, Page, Record, Role
from syncd.store import Store


def address(text: str, name: str = "") -> Address:
    """Return a normalised :class:`Address`, written as given (test shorthand)."""
    email = normalize_address(text)
    assert email is not None, text
    return Address(email, name, text)


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
            "SELECT i.key, c.address, c.at, c.direction, c.address_counts FROM contacts c "
            "JOIN interactions i ON i.id = c.interaction_id").fetchall()),
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


@dataclass
class FakeMailbox:
    """An IMAP-like mail source in memory, for fault-injection tests of the engine.

    ``messages`` are served in order of their UID (their index + 1), as source ids
    ``INBOX/<uidvalidity>/<uid>``, in pages of ``page_size``. The cursor is
    ``{"validity": V, "next": UID}``, like one folder of the IMAP connector's. Faults, each
    consumed by the next pull that meets it:

    - ``fail_after_pages``: the server goes away after serving that many pages (SourceError);
    - ``expire_cursor``: a stored cursor is refused (CursorExpired);
    - ``replay_from``: the next pull ignores the cursor and serves again from that UID, as a
      server that lost its place would (every record in it was seen before);
    - :meth:`change_uidvalidity`: every message gets a new source id, as after a server
      rebuilds its index (RFC 3501 §2.3.1.1); a cursor of the old validity starts from UID 1.
    """

    messages: list[Message] = field(default_factory=list)
    page_size: int = 7
    uidvalidity: int = 1
    fail_after_pages: int | None = None
    expire_cursor: bool = False
    replay_from: int | None = None
    my_addresses: frozenset[str] = frozenset()
    source_type: str = "fake"

    def add(self, record: Message) -> None:
        """Deliver ``record`` (its source id is replaced by the next UID's)."""
        self.messages.append(record)

    def change_uidvalidity(self) -> None:
        """Give every message a new source id (a new UIDVALIDITY)."""
        self.uidvalidity += 1

    def source_id(self, uid: int) -> str:
        """The source id of the message with ``uid`` under the current UIDVALIDITY."""
        return f"INBOX/{self.uidvalidity}/{uid}"

    def pull(self, cursor: str | None, known: Container[str]) -> Iterator[Page]:
        """Yield pages of the messages after the cursor; see the class docstring for faults."""
        next_uid = 1
        if cursor is not None:
            if self.expire_cursor:
                self.expire_cursor = False
                raise CursorExpired("the fake server refused the stored cursor")
            state = json.loads(cursor)
            if state["validity"] == self.uidvalidity:
                next_uid = int(state["next"])
        if self.replay_from is not None:
            next_uid, self.replay_from = min(next_uid, self.replay_from), None
        served = 0
        while True:
            if self.fail_after_pages is not None and served >= self.fail_after_pages:
                self.fail_after_pages = None
                raise SourceError("the fake server went away")
            chunk = self.messages[next_uid - 1:next_uid - 1 + self.page_size]
            records = tuple(replace(record, source_id=self.source_id(next_uid + offset))
                            for offset, record in enumerate(chunk))
            next_uid += len(chunk)
            yield Page(records=records,
                       cursor=json.dumps({"validity": self.uidvalidity, "next": next_uid}),
                       my_addresses=self.my_addresses)
            served += 1
            if not chunk or next_uid > len(self.messages):
                return
