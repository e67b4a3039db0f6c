"""What counts never depends on the order mail is read in (Engine.revisit).

My addresses are learned from the From of sent mail while a pass goes on; every decision an
address learned later changes is made again, whether it is learned later in the same pass,
from another source, or added to ``[me]`` in the config.
"""

from __future__ import annotations

from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from syncd.app import App
from syncd.config import parse_config
from syncd.engine import Engine
from syncd.model import Message, Page, Role
from syncd.rules import Rules
from syncd.store import Store
from syncd.testing import database_content, message

NOW = datetime(2026, 6, 1, tzinfo=UTC)
ALIAS = "alias@me.example"
DAY = [datetime(2026, 3, day, 12, tzinfo=UTC) for day in range(1, 10)]

TO_ALIAS = message("INBOX/1", "dave@example.org", [ALIAS], date=DAY[1])
#: 20 others and my alias: too many participants until the alias is known to be mine.
TO_ALIAS_AND_MANY = message("INBOX/2", "erin@example.org",
                            [ALIAS, *(f"guest{n}@example.org" for n in range(19))], date=DAY[2])
FROM_ALIAS_IN_ARCHIVE = message("Archive/1", ALIAS, ["henry@example.org"], date=DAY[3],
                                role=Role.ARCHIVE)
SENT_FROM_ALIAS = message("Sent/1", ALIAS, ["frank@example.org"], date=DAY[4], role=Role.SENT)


@dataclass
class Pages:
    """A connector serving one page per record; a Sent record's page teaches its From."""

    records: Sequence[Message]
    name: str = "mail"

    def pull(self, cursor: str | None, known: Container[str]) -> Iterator[Page]:
        for index, record in enumerate(self.records):
            mine = (frozenset({record.sender.email})
                    if record.folder_role is Role.SENT and record.sender else frozenset())
            yield Page(records=(record,), cursor=str(index + 1), my_addresses=mine)


def fresh_engine() -> tuple[Engine, Store]:
    store = Store.in_memory()
    store.set_configured_addresses(["me@example.com"])
    return Engine(store, Rules(), lambda: NOW), store


def people(store: Store) -> dict[str, datetime | None]:
    return {address: person.last_contact for person in store.counted_people()
            for address in person.addresses}


EXPECTED = {"dave@example.org": DAY[1], "erin@example.org": DAY[2],
            "henry@example.org": DAY[3], "frank@example.org": DAY[4]}


@pytest.mark.parametrize("order", [
    [TO_ALIAS, TO_ALIAS_AND_MANY, FROM_ALIAS_IN_ARCHIVE, SENT_FROM_ALIAS],
    [SENT_FROM_ALIAS, TO_ALIAS, TO_ALIAS_AND_MANY, FROM_ALIAS_IN_ARCHIVE],
    [TO_ALIAS, SENT_FROM_ALIAS, FROM_ALIAS_IN_ARCHIVE, TO_ALIAS_AND_MANY],
], ids=["alias-learned-last", "alias-learned-first", "alias-learned-between"])
def test_mail_to_and_from_an_alias_counts_the_same_in_any_order_within_a_pass(order):
    engine, store = fresh_engine()
    engine.sync("mail", Pages(order))
    assert people(store) == EXPECTED
    reference_engine, reference = fresh_engine()
    reference_engine.sync("mail", Pages([SENT_FROM_ALIAS, TO_ALIAS, TO_ALIAS_AND_MANY,
                                         FROM_ALIAS_IN_ARCHIVE]))
    assert database_content(store) | {"cursors": []} == database_content(reference) | {
        "cursors": []}


def test_an_alias_learned_later_from_another_source_changes_what_the_first_one_read():
    engine, store = fresh_engine()
    engine.sync("inbox", Pages([TO_ALIAS, TO_ALIAS_AND_MANY, FROM_ALIAS_IN_ARCHIVE]))
    assert people(store) == {}  # not to me, too many people, not to me
    engine.sync("sent", Pages([SENT_FROM_ALIAS]))
    assert people(store) == EXPECTED
    assert ALIAS in store.my_addresses()


def test_an_address_added_to_me_in_the_config_changes_what_was_read_before():
    engine, store = fresh_engine()
    engine.sync("inbox", Pages([TO_ALIAS, TO_ALIAS_AND_MANY, FROM_ALIAS_IN_ARCHIVE]))
    config = parse_config({"me": {"addresses": ["me@example.com", ALIAS]}},
                          environ={"HOME": "/h"})
    App(config, store, lambda: NOW).apply_config()
    assert people(store) == {address: when for address, when in EXPECTED.items()
                             if address != "frank@example.org"}


def test_revisiting_with_nothing_new_changes_nothing():
    engine, store = fresh_engine()
    engine.sync("mail", Pages([SENT_FROM_ALIAS, TO_ALIAS]))
    before = database_content(store)
    assert engine.revisit([ALIAS, "me@example.com"]) == 0
    assert database_content(store) == before


def test_a_kept_message_reads_back_as_it_was():
    from syncd.message_codec import decode_message, encode_message
    from syncd.testing import address

    kept = message("INBOX/9", "dave@example.org", [ALIAS], cc=["c@example.org"],
                   bcc=["b@example.org"], date=DAY[1], received=DAY[2],
                   headers={"in-reply-to": "<x@y>"})
    named = Message(**{**{field: getattr(kept, field) for field in kept.__slots__},
                       "sender": address("dave@example.org", "Dave Ö"), "message_id": None})
    for original in (kept, named, message("Sent/2", ALIAS, role=Role.SENT)):
        assert decode_message(encode_message(original)) == original
