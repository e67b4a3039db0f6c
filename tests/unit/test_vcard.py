"""vCard import on hand-written fixtures (tests/fixtures/vcard): 3.0, 4.0 with groups, 2.1
quoted-printable, Latin-1, photos, and broken cards skipped with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.cards import TierMap
from syncd.model import Birthday
from syncd.store import Store
from syncd.testing import database_content
from syncd.vcard import import_cards, parse_birthday, parse_cards, vcard_files

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "vcard"
TIERS = TierMap(frozenset({"close", "friends"}), {"Close friends": "close"})


def test_readable_cards_are_read_and_broken_ones_skipped_with_a_reason():
    cards, skipped = parse_cards((FIXTURES / "friends.vcf").read_bytes(), "friends.vcf")
    by_name = {card.name: card for card in cards}
    assert list(by_name) == ["Ann Lee", "Bob Roe", "Dee No-Year", "No Mail"]
    ann = by_name["Ann Lee"]
    assert [a.email for a in ann.addresses] == ["ann@home.example", "ann@work.example"]
    assert ann.categories == ("Close friends", "Work")
    assert ann.birthday == Birthday(4, 15, 1980) and ann.source_id == "uid:ann-1"
    bob = by_name["Bob Roe"]  # 4.0 with groups (item1.EMAIL)
    assert [a.email for a in bob.addresses] == ["bob@example.com", "bob@roe.example"]
    assert bob.birthday == Birthday(4, 18)
    assert by_name["Dee No-Year"].birthday == Birthday(4, 20)
    assert by_name["No Mail"].addresses == ()
    reasons = [skip.reason for skip in skipped]
    assert len(reasons) == 2
    assert "UID ann-1 is the one of the card at line 1" in reasons[0]
    assert "friends.vcf:" in reasons[1] and "no END:VCARD" in reasons[1]


def test_vcard_2_1_quoted_printable_latin_1_and_base64_photos():
    cards, skipped = parse_cards((FIXTURES / "old-phone.vcf").read_bytes())
    assert skipped == []
    assert [(card.name, card.addresses[0].email) for card in cards] == [
        ("Jürgen Müller", "juergen@example.de"), ("Renée François", "renee@example.fr")]
    assert cards[0].birthday == Birthday(3, 2, 1975) and cards[0].categories == ("close",)


@pytest.mark.parametrize(("value", "birthday"), [
    ("1980-04-15", Birthday(4, 15, 1980)), ("19800415", Birthday(4, 15, 1980)),
    ("--0415", Birthday(4, 15)), ("--04-15", Birthday(4, 15)), ("--0229", Birthday(2, 29)),
    ("1980-04-15T00:00:00Z", Birthday(4, 15, 1980)), ("circa 1800", None), ("--1345", None)])
def test_birthdays_with_and_without_a_year(value, birthday):
    assert parse_birthday(value) == birthday


def test_importing_a_directory_twice_is_idempotent_and_tracks_by_mapped_category():
    store = Store.in_memory()
    files = [(str(p), p.read_bytes()) for p in vcard_files(FIXTURES)]
    first = import_cards(store, files, TIERS)
    assert (first.people, first.tracked, first.without_email) == (5, 3, 1)
    assert len(first.skipped) == 2
    before = database_content(store)
    again = import_cards(store, files, TIERS)
    assert (again.people, again.tracked) == (5, 0)
    assert database_content(store) == before
    tiers = {row.name: row.tier for row in store.tracked_people()}
    assert tiers == {"Ann Lee": "close", "Bob Roe": "friends", "Jürgen Müller": "close"}
    assert sorted(store.birthdays().values(), key=lambda b: (b.month, b.day)) == [
        Birthday(3, 2, 1975), Birthday(4, 15, 1980), Birthday(4, 18)]
