"""`syncd show --why`: every timeline row says what the interaction was for THIS person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from syncd.engine import Engine
from syncd.model import Attendee, Meeting, Role
from syncd.render import timeline_json, why_text
from syncd.rules import Rules
from syncd.store import Store
from syncd.testing import FakeConnector, address, message

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
ME = "me@example.org"


def day(number: int) -> datetime:
    return NOW - timedelta(days=30 - number)


def why_rows(store: Store, person: str) -> list[str]:
    [person_id] = store.find_people(person)
    row = store.person(person_id)
    assert row is not None
    return [why_text(entry, row.addresses)
            for entry in store.timeline(person_id, limit=20, counted_only=False)]


def synced() -> Store:
    store = Store.in_memory()
    store.set_configured_addresses([ME])
    mail = [
        message("1", "alice@example.com", [ME], cc=["bob@example.com"], date=day(1)),
        message("2", ME, ["bob@example.com", "carol@example.com", "dan@example.com"],
                date=day(2), role=Role.SENT),
        message("3", "carol@lists.example", ["bob@example.com", ME], date=day(3),
                headers={"list-id": "Friends <friends.lists.example>"}),
        message("4", ME, ["bob@example.com", "noreply@shop.example"], date=day(4),
                role=Role.SENT),
    ]
    meeting = Meeting(source_id="cal|lunch|", uid="lunch", start=day(5),
                      organizer=address(ME),
                      attendees=(Attendee(address("bob@example.com"), "ACCEPTED"),
                                 Attendee(address("erin@example.com"), "DECLINED")))
    Engine(store, Rules(), lambda: NOW).sync("mail", FakeConnector([*mail, meeting]))
    return store


def test_the_sender_counts_and_a_co_recipient_is_told_whose_mail_it_was():
    store = synced()
    assert why_rows(store, "alice@example.com") == ["counted: they wrote to you, 1 more in copy"]
    assert why_rows(store, "bob@example.com")[-1] == (
        "not counted for them: they were a co-recipient of mail from alice@example.com")


def test_my_mail_counts_for_every_person_i_wrote_to_and_says_so():
    store = synced()
    assert why_rows(store, "dan@example.com") == ["counted: you wrote to them and 2 others"]
    assert why_rows(store, "bob@example.com")[3] == "counted: you wrote to them and 2 others"


def test_mail_that_counted_for_nobody_says_why_and_whose_it_was():
    store = synced()
    assert why_rows(store, "bob@example.com")[2] == (
        "not counted: mailing-list mail (List-Id: Friends <friends.lists.example>); "
        "they were a co-recipient of mail from carol@lists.example")


def test_an_address_left_out_of_my_mail_and_a_decliner_are_told_it_counted_for_others():
    store = synced()
    assert why_rows(store, "noreply@shop.example") == [
        "not counted for them: your mail counted for bob@example.com only (this address is "
        "automated, yours, or ignored)"]
    assert why_rows(store, "erin@example.com") == [
        "not counted for them: the meeting counted for bob@example.com only (they declined, "
        "are a room or resource, or are ignored)"]
    assert why_rows(store, "bob@example.com")[0] == "counted: you met them with 1 other"


def test_the_json_timeline_carries_the_same_why():
    store = synced()
    [bob] = store.find_people("bob@example.com")
    entries = store.timeline(bob, counted_only=False)
    assert [timeline_json(entry, ("bob@example.com",))["why"] for entry in entries] == \
        why_rows(store, "bob@example.com")
