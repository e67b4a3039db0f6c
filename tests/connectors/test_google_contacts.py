"""Rules for the Google Contacts source: the real client against the fake server (People API)."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest
from google_helpers import google_server, options, quick  # noqa: F401 - the "google" fixture

from connectors.google.contacts import GoogleContactsConnector
from syncd.errors import AuthError
from syncd.model import Address, Birthday, Card


def contacts(running, tmp_path, *scopes):
    fake = running.fake
    fake.groups.update({"contactGroups/starred": "starred", "contactGroups/myContacts":
                        "myContacts", "contactGroups/abc": "Close friends"})
    return quick(GoogleContactsConnector(
        "gcontacts", options(running, tmp_path / "state", *(scopes or ("google_contacts",))),
        ZoneInfo("UTC")))


def person(name, *emails, groups=(), birthday=None):
    body = {"names": [{"displayName": name}],
            "emailAddresses": [{"value": email} for email in emails],
            "memberships": [{"contactGroupMembership": {"contactGroupResourceName": group}}
                            for group in ("contactGroups/myContacts", *groups)]}
    if birthday:
        body["birthdays"] = [{"date": birthday}]
    return body


def pull_all(connector, cursor=None):
    pages = list(connector.pull(cursor, set()))
    return pages, [record for page in pages for record in page.records], pages[-1].cursor


def test_contacts_become_cards_with_groups_and_starred_as_categories(google, tmp_path):
    fake = google.fake
    fake.add_person("people/c1", person("Ann Example", "Ann@Example.org", "ann@work.example",
                                        groups=("contactGroups/starred", "contactGroups/abc"),
                                        birthday={"month": 3, "day": 14}))
    fake.add_person("people/c2", person("Bob", "bob@example.org",
                                        birthday={"year": 1980, "month": 2, "day": 29}))
    _, cards, cursor = pull_all(contacts(google, tmp_path))
    assert cards == [
        Card(source_id="people/c1", uid=None, name="Ann Example",
             addresses=(Address("ann@example.org", "Ann Example"),
                        Address("ann@work.example", "Ann Example")),
             categories=("starred", "Close friends"), birthday=Birthday(3, 14)),
        Card(source_id="people/c2", uid=None, name="Bob",
             addresses=(Address("bob@example.org", "Bob"),), birthday=Birthday(2, 29, 1980))]
    assert json.loads(cursor)["token"]


def test_the_primary_address_comes_first_then_the_api_s_order(google, tmp_path):
    body = person("Ann", "ann@work.example", "ann@example.org", "ann@old.example")
    body["emailAddresses"][1]["metadata"] = {"primary": True, "source": {"type": "CONTACT"}}
    google.fake.add_person("people/c1", body)
    _, [card], _ = pull_all(contacts(google, tmp_path))
    assert [address.email for address in card.addresses] == [
        "ann@example.org", "ann@work.example", "ann@old.example"]


def test_the_sync_token_brings_only_changes_and_deletions_become_removals(google, tmp_path):
    fake = google.fake
    fake.add_person("people/c1", person("Ann", "ann@example.org"))
    fake.add_person("people/c2", person("Bob", "bob@example.org"))
    connector = contacts(google, tmp_path)
    _, _, cursor = pull_all(connector)
    fake.add_person("people/c1", person("Ann", "ann@example.org",
                                        groups=("contactGroups/starred",)))
    fake.delete_person("people/c2")
    pages, cards, cursor = pull_all(connector, cursor)
    assert [(card.source_id, card.categories) for card in cards] == [("people/c1", ("starred",))]
    assert [removal for page in pages for removal in page.removals] == ["people/c2"]
    _, cards, _ = pull_all(connector, cursor)
    assert cards == []


def test_many_pages_carry_the_cursor_only_on_the_last(google, tmp_path):
    fake = google.fake
    for number in range(2500):
        fake.add_person(f"people/c{number}", person(f"P{number}", f"p{number}@example.org"))
    fake.inject("connections.list", 503)
    pages, cards, _ = pull_all(contacts(google, tmp_path))
    assert len(cards) == 2500 and len({card.source_id for card in cards}) == 2500
    assert [page.cursor is None for page in pages] == [True, True, False]


def test_an_expired_sync_token_lists_everything_again_and_still_sees_deletions(
        google, tmp_path):
    fake = google.fake
    fake.add_person("people/c1", person("Ann", "ann@example.org"))
    fake.add_person("people/c2", person("Bob", "bob@example.org"))
    connector = contacts(google, tmp_path)
    _, _, cursor = pull_all(connector)
    fake.delete_person("people/c2")
    fake.expire_sync_tokens()  # a week without a sync: the deletion is not in any listing
    pages, cards, cursor = pull_all(connector, cursor)
    assert [card.source_id for card in cards] == ["people/c1"]
    assert [removal for page in pages for removal in page.removals] == ["people/c2"]
    assert json.loads(cursor)["token"]


def test_a_token_for_other_google_sources_does_not_read_contacts(google, tmp_path):
    with pytest.raises(AuthError, match="run: syncd auth gcontacts"):
        list(contacts(google, tmp_path, "gmail").pull(None, set()))


def test_google_contacts_sync_through_the_engine_into_people_tiers_and_birthdays(
        google, tmp_path):
    """End to end: the real client, the fake server, the engine and a real store."""
    from datetime import UTC, datetime
    from types import MappingProxyType

    from syncd.cards import TierMap
    from syncd.engine import Engine
    from syncd.rules import Rules
    from syncd.store import Store

    fake = google.fake
    fake.add_person("people/c1", person("Ann Example", "ann@example.org", "ann@work.example",
                                        groups=("contactGroups/abc",),
                                        birthday={"month": 3, "day": 14}))
    fake.add_person("people/c2", person("Bob", "bob@example.org",
                                        groups=("contactGroups/starred",)))
    fake.add_person("people/c3", person("Cy", "cy@example.org"))
    store = Store.in_memory()
    tiers = TierMap(frozenset({"close", "friends"}),
                    MappingProxyType({"Close friends": "close", "starred": "friends"}))
    engine = Engine(store, Rules(), lambda: datetime(2026, 3, 1, tzinfo=UTC), tier_map=tiers)
    connector = contacts(google, tmp_path)

    def people():
        return sorted(tuple(row) for row in store._db.execute(
            "SELECT a.address, p.name, p.tracked, p.tier FROM addresses a "
            "JOIN people p ON p.id = a.person_id"))

    assert engine.sync("gcontacts", connector).error is None
    assert people() == [("ann@example.org", "Ann Example", 1, "close"),
                        ("ann@work.example", "Ann Example", 1, "close"),
                        ("bob@example.org", "Bob", 1, "friends"),
                        ("cy@example.org", "Cy", 0, None)]
    assert list(store.birthdays().values()) == [Birthday(3, 14)]
    first_cursor = store.cursor("gcontacts")
    assert first_cursor and json.loads(first_cursor)["token"]

    fake.delete_person("people/c2")  # comes back in the delta with metadata.deleted
    assert engine.sync("gcontacts", connector).error is None
    assert ("bob@example.org", "Bob", 0, None) in people()  # untracked, still known
    assert store.cursor("gcontacts") != first_cursor
    assert store.card_count("gcontacts") == 2
