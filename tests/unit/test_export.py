"""`syncd export`: people, addresses, tiers, cadences, dates and the user's choices."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from syncd.app import App
from syncd.config import parse_config
from syncd.engine import Engine
from syncd.export import CSV_COLUMNS, to_csv, to_json, to_vcard
from syncd.model import Birthday, Role
from syncd.store import Store
from syncd.testing import FakeConnector, message
from syncd.vcard import import_cards

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
ME = "me@example.org"


def exported_app() -> App:
    config = parse_config({"me": {"addresses": [ME]}, "tiers": {"close": "14d"},
                           "people": [{"name": "Alice; \"A\", Adams",
                                       "addresses": ["alice@example.com", "a@work.example"],
                                       "tier": "close"}]},
                          environ={"HOME": "/h"})
    app = App(config, Store.in_memory(), lambda: NOW)
    app.apply_config()
    Engine(app.store, app.rules(), app.clock).sync("mail", FakeConnector([
        message("1", ME, ["alice@example.com"], date=NOW - timedelta(days=3), role=Role.SENT),
        message("2", "bob@example.com", [ME], date=NOW - timedelta(days=40)),
        message("3", ME, ["carol@example.com"], date=NOW - timedelta(days=9), role=Role.SENT),
    ]))
    [bob] = app.store.find_people("bob@example.com")
    [carol] = app.store.find_people("carol@example.com")
    app.store.set_tracking(bob, True, every_days=30)
    app.store.snooze(bob, NOW + timedelta(days=7))
    app.store.set_tracking(carol, False)  # untracked for good
    app.store.add_ignore_pattern("@shop.example")
    return app


def test_json_holds_people_their_dates_and_every_choice_a_rebuilt_database_needs():
    app = exported_app()
    document = json.loads(to_json(app.exported_people(), tiers=app.config.tiers,
                                  ignore_patterns=app.store.ignore_patterns(), now=NOW))
    assert document["syncd_export"] == 1 and document["tiers"] == {"close": "2w"}
    assert document["ignore_patterns"] == ["@shop.example"]
    people = {person["addresses"][0]: person for person in document["people"]}
    alice = people["a@work.example"]
    assert alice["addresses"] == ["a@work.example", "alice@example.com"]
    assert (alice["tracked_by"], alice["tier"], alice["cadence_days"]) == ("config", "close", 14.0)
    assert alice["last_outgoing"] == "2026-05-29T12:00:00Z"
    bob = people["bob@example.com"]
    assert (bob["tracked_by"], bob["every_days"]) == ("cli", 30.0)
    assert bob["snoozed_until"] == "2026-06-08T12:00:00Z"
    carol = people["carol@example.com"]
    assert carol["tracked"] is False and carol["never_auto_track"] is True


def test_csv_has_one_row_per_person_with_the_same_fields():
    app = exported_app()
    rows = list(csv.DictReader(io.StringIO(to_csv(app.exported_people()))))
    assert tuple(rows[0]) == CSV_COLUMNS
    by_name = {row["name"]: row for row in rows}
    assert by_name['Alice; "A", Adams']["addresses"] == "a@work.example alice@example.com"
    assert by_name['Alice; "A", Adams']["tracked"] == "true"


def test_vcard_escapes_text_and_imports_back_with_the_tier():
    app = exported_app()
    text = to_vcard(app.exported_people())
    assert "FN:Alice\\; \"A\"\\, Adams\r\n" in text
    assert "X-SYNCD-EVERY:30d\r\n" in text and "X-SYNCD-NEVER-AUTO-TRACK:true\r\n" in text
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    rebuilt = Store.in_memory()
    result = import_cards(rebuilt, text.encode(), {"close"})
    assert (result.people, result.tracked) == (3, 1)
    [alice] = rebuilt.tracked_people()
    assert (alice.tier, alice.addresses) == ("close", ("a@work.example", "alice@example.com"))


def test_a_long_name_is_folded_at_75_octets_and_unfolds_to_itself():
    app = exported_app()
    [(tie, choices)] = [item for item in app.exported_people()
                        if item[0].person.addresses == ("bob@example.com",)]
    long_name = "Zoë Ångström-Ørsted " * 6
    person = replace(tie.person, name=long_name)
    text = to_vcard([(replace(tie, person=person), choices)])
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    unfolded = text.replace("\r\n ", "")
    assert f"FN:{long_name}\r\n" in unfolded


BOOK = (b"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:a1\r\nFN:Alice\r\nEMAIL:alice@example.com\r\n"
        b"BDAY:19900415\r\nEND:VCARD\r\n"
        b"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:a2\r\nFN:Alice\r\nEMAIL:a@work.example\r\n"
        b"BDAY:--0415\r\nEND:VCARD\r\n"
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:b1\r\nFN:Bob Roe\r\nEMAIL:bob@example.com\r\n"
        b"BDAY:--02-29\r\nEND:VCARD\r\n")


def test_every_format_holds_the_birthday_an_address_book_gave_and_nothing_for_the_others():
    """Alice's cards give one with a year (it wins over her other card's), Bob's one without
    (like a Google birthday without one), Carol has no card."""
    app = exported_app()
    import_cards(app.store, BOOK, app.tier_map())
    document = json.loads(to_json(app.exported_people(), tiers=app.config.tiers,
                                  ignore_patterns=[], now=NOW))
    birthdays = {person["addresses"][0]: person["birthday"] for person in document["people"]}
    assert birthdays == {"a@work.example": "1990-04-15", "bob@example.com": "--02-29",
                         "carol@example.com": None}
    rows = list(csv.DictReader(io.StringIO(to_csv(app.exported_people()))))
    assert {row["addresses"].split()[0]: row["birthday"] for row in rows} == {
        "a@work.example": "1990-04-15", "bob@example.com": "--02-29", "carol@example.com": ""}
    cards = {card.split("EMAIL:")[1].split("\r\n")[0]: card
             for card in to_vcard(app.exported_people()).split("END:VCARD\r\n")[:-1]}
    assert "\r\nBDAY:19900415\r\n" in cards["a@work.example"]
    assert "\r\nBDAY:--0229\r\n" in cards["bob@example.com"]
    assert "BDAY" not in cards["carol@example.com"]
    # Imported back, the birthdays are the same.
    rebuilt = Store.in_memory()
    import_cards(rebuilt, to_vcard(app.exported_people()).encode(), {"close"})
    assert sorted(rebuilt.birthdays(range(1, 10)).values(), key=str) == sorted(
        [Birthday(4, 15, 1990), Birthday(2, 29)], key=str)
