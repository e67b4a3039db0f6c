"""The vobject vCard reader of the address-book sources, on hand-written cards (3.0 and 4.0)."""

from __future__ import annotations

import base64

import pytest

from connectors.contacts._vcard import VcardUnreadable, birthday, parse_many, parse_one
from syncd.model import Address, Birthday, Card


def test_a_4_0_card_with_groups_and_escaped_categories():
    card = parse_one("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:1\r\nN:Doe;Jane;;;\r\n"
                     "item1.EMAIL;TYPE=work:Jane@Example.COM\r\nitem1.X-ABLABEL:Work\r\n"
                     "item2.EMAIL:jane@example.com\r\nCATEGORIES:Close friends,A\\, B\r\n"
                     "BDAY:--0229\r\nEND:VCARD\r\n", "/book/jane.vcf")
    assert card == Card(source_id="/book/jane.vcf", uid="urn:uuid:1", name="Jane Doe",
                        addresses=(Address("jane@example.com", "Jane Doe"),),
                        categories=("Close friends", "A, B"), birthday=Birthday(2, 29))


def test_a_3_0_card_with_an_embedded_photo_and_folded_lines():
    photo = base64.b64encode(bytes(range(256)) * 8).decode()
    folded = "\r\n ".join(photo[i:i + 74] for i in range(0, len(photo), 74))
    card = parse_one("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bo\r\n b Roe\r\nN:Roe;Bob;;;\r\n"
                     f"PHOTO;ENCODING=b;TYPE=JPEG:{folded}\r\n"
                     "EMAIL;TYPE=INTERNET,pref:bob@example.com\r\nBDAY:1970-01-02\r\n"
                     "END:VCARD\r\n", "bob")
    assert (card.name, card.addresses, card.birthday) == (
        "Bob Roe", (Address("bob@example.com", "Bob Roe"),), Birthday(1, 2, 1970))


def test_non_ascii_names_and_a_card_without_a_name_takes_its_address():
    card = parse_one("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Zoë Ångström\r\nEMAIL:z@example.se\r\n"
                     "END:VCARD\r\n", "z")
    assert card.name == "Zoë Ångström"
    nameless = parse_one("BEGIN:VCARD\r\nVERSION:4.0\r\nEMAIL:x@example.org\r\nEND:VCARD\r\n",
                         "x")
    assert nameless.name == "x@example.org"


@pytest.mark.parametrize(("data", "reason"), [
    ("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Cut\r\nEMAIL:cut@example.com\r\n", "never closed"),
    ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", "not a VCARD"),
    ("BEGIN:VCARD\r\nFN:A\r\nEND:VCARD\r\nBEGIN:VCARD\r\nFN:B\r\nEND:VCARD\r\n", "2 vCards"),
    ("", "0 vCards"),
])
def test_an_unreadable_resource_says_why(data, reason):
    with pytest.raises(VcardUnreadable, match=reason):
        parse_one(data, "bad")


def test_a_file_of_cards_reads_each_with_its_own_id_and_duplicate_uids_stay_apart():
    card = ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:same\r\nFN:{0}\r\nEMAIL:{0}@example.com\r\n"
            "END:VCARD\r\n")
    found = list(parse_many(card.format("a") + card.format("b"), "file.vcf"))
    assert [(c.source_id, c.uid, c.name) for c in found if isinstance(c, Card)] == [
        ("file.vcf#1", "same", "a"), ("file.vcf#2", "same", "b")]


@pytest.mark.parametrize(("value", "expected"), [
    ("19850412", Birthday(4, 12, 1985)), ("1985-04-12", Birthday(4, 12, 1985)),
    ("--0412", Birthday(4, 12)), ("--04-12", Birthday(4, 12)),
    ("1985-04-12T00:00:00Z", Birthday(4, 12, 1985)), ("circa 1800", None), ("1985-13-01", None),
])
def test_birthday_forms(value, expected):
    assert birthday(value) == expected
