"""A CardDAV resource read as one Card by syncd's vCard reader, on hand-written cards."""

from __future__ import annotations

import base64

import pytest

from connectors.contacts._vcard import VcardUnreadable, parse_one
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


def test_non_ascii_names_and_a_card_without_a_name():
    card = parse_one("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Zoë Ångström\r\nEMAIL:z@example.se\r\n"
                     "END:VCARD\r\n", "z")
    assert card.name == "Zoë Ångström"
    nameless = parse_one("BEGIN:VCARD\r\nVERSION:4.0\r\nEMAIL:x@example.org\r\nEND:VCARD\r\n",
                         "x")
    assert nameless.addresses == (Address("x@example.org", ""),)


@pytest.mark.parametrize(("data", "reason"), [
    ("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Cut\r\nEMAIL:cut@example.com\r\n", "no END:VCARD"),
    ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", "0 vCards"),
    ("BEGIN:VCARD\r\nFN:A\r\nEND:VCARD\r\nBEGIN:VCARD\r\nFN:B\r\nEND:VCARD\r\n", "2 vCards"),
    ("", "0 vCards"),
])
def test_an_unreadable_resource_says_why(data, reason):
    with pytest.raises(VcardUnreadable, match=reason):
        parse_one(data, "bad")


@pytest.mark.parametrize("emails", [
    "VERSION:4.0\r\nEMAIL;PREF=20:a@example.org\r\nEMAIL:c@example.org\r\n"
    "EMAIL;TYPE=home;PREF=1:b@example.org\r\n",
    "VERSION:3.0\r\nEMAIL;TYPE=INTERNET:a@example.org\r\nEMAIL;TYPE=INTERNET,pref:b@example.org"
    "\r\nEMAIL:c@example.org\r\n",
    "VERSION:3.0\r\nEMAIL;TYPE=INTERNET:a@example.org\r\nEMAIL;TYPE=INTERNET;TYPE=PREF:"
    "b@example.org\r\nEMAIL:c@example.org\r\n",
    "VERSION:2.1\r\nEMAIL;INTERNET:a@example.org\r\nEMAIL;PREF;INTERNET:b@example.org\r\n"
    "EMAIL:c@example.org\r\n",
])
def test_the_preferred_address_comes_first_then_the_card_s_order(emails):
    card = parse_one(f"BEGIN:VCARD\r\n{emails}FN:Bea\r\nEND:VCARD\r\n", "bea")
    assert tuple(address.email for address in card.addresses) == (
        "b@example.org", "a@example.org", "c@example.org")
