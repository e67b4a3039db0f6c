"""The contract every connector passes (connectors/base.py), as one generic suite.

A connector's test module subclasses :class:`ConnectorContract` and implements three small
hooks: build a source holding some messages, add more to it, and add an unreadable item.
Everything else — what a first pass, a second pass, ``known`` ids and cursors must do — is
checked here, identically for every connector.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from connectors.base import Connector
from syncd.model import Message, Page


def sample(number: int, sender: str = "alice@example.org", to: str = "me@example.com") -> bytes:
    """Return message ``number`` of the suite: From with a display name, To, Message-ID, Date."""
    return (f"From: Alice <{sender}>\r\nTo: {to}\r\nMessage-ID: <{number}@contract.test>\r\n"
            f"Date: Fri, 1 Mar 2024 10:{number % 60:02d}:00 +0000\r\nSubject: n{number}\r\n"
            f"\r\nbody {number}\r\n").encode()


def whole_pass(connector: Connector, cursor: str | None = None,
               known: Sequence[str] = ()) -> tuple[list[Page], list[Message], str | None]:
    pages = list(connector.pull(cursor, set(known)))
    records = [record for page in pages for record in page.records
               if isinstance(record, Message)]
    return pages, records, pages[-1].cursor if pages else None


class ConnectorContract:
    """Subclass with the three hooks below; pytest collects the tests (name it Test...)."""

    def make_source(self, messages: Sequence[bytes]) -> Connector:
        """Return a connector over a new source holding ``messages`` in its inbox."""
        raise NotImplementedError

    def add_messages(self, messages: Sequence[bytes]) -> None:
        """Add ``messages`` to the source made last."""
        raise NotImplementedError

    def add_unreadable(self) -> None:
        """Add one item the connector cannot read as mail (a file of garbage, a broken one)."""
        raise NotImplementedError

    # --- the contract -----------------------------------------------------------------------

    def test_a_first_pass_returns_every_message_once(self):
        _, records, cursor = whole_pass(self.make_source([sample(n) for n in range(1, 8)]))
        assert sorted(r.message_id or "" for r in records) == sorted(
            f"{n}@contract.test" for n in range(1, 8))
        assert len({r.source_id for r in records}) == 7
        assert cursor is not None

    def test_a_second_pass_with_the_cursor_returns_nothing(self):
        source = self.make_source([sample(n) for n in range(1, 4)])
        _, first, cursor = whole_pass(source)
        pages, records, again = whole_pass(source, cursor, [r.source_id for r in first])
        assert records == [] and pages, "a pass with nothing new still yields its cursor"
        assert again is not None

    def test_new_mail_is_returned_once_on_the_next_pass(self):
        source = self.make_source([sample(n) for n in range(1, 4)])
        _, first, cursor = whole_pass(source)
        self.add_messages([sample(10), sample(11)])
        known = {r.source_id for r in first}
        _, records, cursor = whole_pass(source, cursor, sorted(known))
        new = {r.message_id for r in records if r.source_id not in known}
        assert new == {"10@contract.test", "11@contract.test"}
        # A connector may re-read an item it already gave (an mbox re-reads the last message
        # in case it was half-written); the store dedupes it. It must never give a new one twice.
        assert len(records) - len(new) <= 1
        known |= {r.source_id for r in records}
        _, records, _ = whole_pass(source, cursor, sorted(known))
        assert all(r.source_id in known for r in records) and len(records) <= 1

    def test_source_ids_are_stable_across_passes(self):
        source = self.make_source([sample(n) for n in range(1, 5)])
        _, first, _ = whole_pass(source)
        _, second, _ = whole_pass(source)
        assert sorted(r.source_id for r in first) == sorted(r.source_id for r in second)

    def test_items_already_known_are_not_returned_again(self):
        source = self.make_source([sample(n) for n in range(1, 5)])
        _, first, _ = whole_pass(source)
        _, again, _ = whole_pass(source, None, [r.source_id for r in first])
        assert again == []

    def test_every_time_is_aware_utc(self):
        _, records, _ = whole_pass(self.make_source([sample(1), sample(2)]))
        for record in records:
            assert record.date is not None and record.date.utcoffset() == timedelta(0)
            assert record.received is None or record.received.utcoffset() == timedelta(0)

    def test_addresses_are_normalised_with_their_names(self):
        _, [record], _ = whole_pass(self.make_source([sample(1, "Alice@Example.ORG")]))
        assert record.sender is not None
        assert (record.sender.email, record.sender.name) == ("alice@example.org", "Alice")
        assert [a.email for a in record.to] == ["me@example.com"]

    def test_an_unreadable_item_is_a_skip_not_an_exception(self):
        source = self.make_source([sample(1)])
        self.add_unreadable()
        pages, records, _ = whole_pass(source)
        assert [r.message_id for r in records] == ["1@contract.test"]
        skips = [skip for page in pages for skip in page.skipped]
        assert len(skips) == 1 and skips[0].reason
