"""Merge suggestions (syncd.duplicates) on written cases: each reason, and what suggests
nothing."""

from __future__ import annotations

import pytest

from syncd.duplicates import Candidate, duplicates, name_key, organisation, related_domains


def people(*rows: tuple[int, str, str]) -> list[Candidate]:
    return [Candidate(person_id, name, (address,)) for person_id, name, address in rows]


@pytest.mark.parametrize(("rows", "expected"), [
    # 1. the same display name at different addresses
    ([(1, "Alice Smith", "alice@work.example"), (2, "Smith, Alice", "ally@home.example")],
     [((1, 2), "the same name, Alice Smith, at different addresses")]),
    ([(1, "Jöhn Doe", "jd@a.example"), (2, "John  Doe", "johnny@b.example"),
      (3, "JOHN DOE", "doe@c.example")],
     [((1, 2, 3), "the same name, John Doe, at different addresses")]),
    # 2. the same local part at related domains
    ([(1, "", "meher@acme.com"), (2, "", "meher@mail.acme.com")],
     [((1, 2), "the same local part, meher, at related domains acme.com and mail.acme.com")]),
    ([(1, "", "bo@acme.co.uk"), (2, "", "bo@acme.de")],
     [((1, 2), "the same local part, bo, at related domains acme.co.uk and acme.de")]),
    ([(1, "", "meher.t@example.org"), (2, "", "mehert@example.co.uk")],
     [((1, 2), "the same local part, mehert, at related domains example.co.uk and "
               "example.org")]),
    # 3. a name that matches the local part
    ([(1, "John Smith", "john@home.example"), (2, "", "j.smith@work.example")],
     [((1, 2), "the name John Smith matches the local part j.smith")]),
    ([(1, "John Smith", "john@home.example"), (2, "", "smithj2@work.example")],
     [((1, 2), "the name John Smith matches the local part smithj2")]),
    ([(1, "Ana Lima", "ana@home.example"), (2, "Ana Lima", "ana.lima@work.example")],
     [((1, 2), "the same name, Ana Lima, at different addresses")]),
])
def test_each_reason(rows, expected):
    found = duplicates(people(*rows))
    assert [(d.people, d.reason) for d in found] == expected


@pytest.mark.parametrize("rows", [
    [(1, "Alice", "alice@a.example"), (2, "Alice", "alice2@b.example")],     # a first name only
    [(1, "", "bob@acme.com"), (2, "", "bob@other.com")],                     # unrelated domains
    [(1, "John Smith", "john@a.example"), (2, "Jane Smith", "jsmith@b.example")],  # other name
    [(1, "", "x@a.example")],
    [(n, "", f"info@org{n}.example") for n in range(3)],
])
def test_what_suggests_nothing(rows):
    assert duplicates(people(*rows)) == []


def test_a_crowded_local_part_is_a_role_not_a_person():
    rows = [(n, "", f"info@acme{'.' + 'x' * n if n else ''}.com") for n in range(20)]
    assert duplicates(people(*rows)) == []


def test_suggestions_show_addresses_as_written_and_name_each_pair_once():
    found = duplicates([Candidate(1, "Meher T", ("mehert@gmail.com",), ("Meher.T@gmail.com",)),
                        Candidate(2, "Meher T", ("mehert@acme.com",))])
    assert [(d.people, d.addresses) for d in found] == [
        ((1, 2), ("Meher.T@gmail.com", "mehert@acme.com"))]


def test_helpers():
    assert name_key("Smith, Jöhn") == ("john", "smith")
    assert organisation("mail.acme.co.uk") == "acme"
    assert related_domains("gmail.com", "googlemail.com")
    assert not related_domains("acme.com", "acme.com")
