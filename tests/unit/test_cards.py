"""Address-book cards through the engine and store: owners of addresses, tiers, birthdays,
idempotent re-syncs, and untracking (never erasing) a card deleted upstream."""

from __future__ import annotations

from collections.abc import Container, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import MappingProxyType

from syncd.cards import TierMap, birthdays_within, next_birthday
from syncd.engine import Engine
from syncd.model import Address, Birthday, Card, Page
from syncd.rules import Rules
from syncd.store import Store
from syncd.testing import FakeConnector, database_content, message

NOW = datetime(2026, 6, 1, tzinfo=UTC)
TIERS = TierMap(frozenset({"close", "friends"}),
                MappingProxyType({"Close friends": "close", "starred": "friends"}))


@dataclass
class PagesConnector:
    """Serves the given pages once each pull, in order; the cursor is the page number."""

    pages: list[Page] = field(default_factory=list)
    name: str = "book"
    cursors: list[str | None] = field(default_factory=list)

    def pull(self, cursor: str | None, known: Container[str]) -> Iterator[Page]:
        self.cursors.append(cursor)
        yield from self.pages


def card(source_id: str, name: str, *emails: str, categories: tuple[str, ...] = (),
         birthday: Birthday | None = None) -> Card:
    return Card(source_id=source_id, uid=source_id, name=name,
                addresses=tuple(Address(email) for email in emails),
                categories=categories, birthday=birthday)


def engine_for(store: Store) -> Engine:
    store.set_configured_addresses(["me@example.org"])
    return Engine(store, Rules(), lambda: NOW, tier_map=TIERS)


def person(store: Store, address: str) -> tuple[object, ...]:
    return tuple(store._db.execute(
        "SELECT p.name, p.tracked, p.tracked_by, p.tier FROM people p JOIN addresses a ON "
        "a.person_id = p.id WHERE a.address = ?", (address,)).fetchone())


def test_a_card_makes_one_person_of_its_addresses_and_maps_categories_to_tiers():
    store = Store.in_memory()
    book = PagesConnector([Page(records=(
        card("c1", "Ann Lee", "ann@home.example", "ann@work.example",
             categories=("Close Friends",), birthday=Birthday(4, 15)),
        card("c2", "Bob Roe", "bob@example.com", categories=("starred", "Family")),
        card("c3", "Cy", "cy@example.com", categories=("Friends",)),
        card("c4", "Dee", "dee@example.com", categories=("Colleagues",)),
        card("c5", "No Mail"),
    ), cursor="1")])
    report = engine_for(store).sync("book", book)
    assert report.error is None
    assert person(store, "ann@work.example") == ("Ann Lee", 1, "vcard", "close")
    assert person(store, "ann@home.example") == person(store, "ann@work.example")
    assert person(store, "bob@example.com") == ("Bob Roe", 1, "vcard", "friends")
    # A category spelled like a tier maps to it without [tiers.map].
    assert person(store, "cy@example.com") == ("Cy", 1, "vcard", "friends")
    assert person(store, "dee@example.com") == ("Dee", 0, None, None)
    assert store.cursor("book") == "1"
    assert store.card_count("book") == 4  # the card without e-mail names nobody
    assert list(store.birthdays().values()) == [Birthday(4, 15)]


def test_re_syncing_the_same_cards_changes_nothing():
    store = Store.in_memory()
    pages = [Page(records=(card("c1", "Ann", "ann@example.com", categories=("close",)),),
                  cursor="1")]
    engine = engine_for(store)
    engine.sync("book", PagesConnector(pages))
    before = database_content(store)
    engine.sync("book", PagesConnector(pages), full=True)
    assert database_content(store) == before


def test_a_card_deleted_upstream_untracks_but_keeps_the_history():
    store = Store.in_memory()
    engine = engine_for(store)
    engine.sync("mail", FakeConnector([message("INBOX/1", "ann@example.com",
                                               ["me@example.org"])]))
    book = PagesConnector([Page(records=(card("c1", "Ann", "ann@example.com",
                                              categories=("close",)),), cursor="1")])
    engine.sync("book", book)
    assert person(store, "ann@example.com")[1:] == (1, "vcard", "close")
    book.pages = [Page(removals=("c1",), cursor="2")]
    engine.sync("book", book)
    assert book.cursors == [None, "1"]
    assert person(store, "ann@example.com") == ("Ann", 0, None, None)
    assert store._db.execute("SELECT count(*) FROM contacts").fetchone()[0] == 1
    assert store.card_count() == 0 and store.cursor("book") == "2"


def test_removing_a_card_never_untracks_the_users_own_choice():
    store = Store.in_memory()
    engine = engine_for(store)
    book = PagesConnector([Page(records=(
        card("c1", "Ann", "ann@example.com", categories=("close",)),
        card("c2", "Bob", "bob@example.com", categories=("close",))), cursor="1")])
    engine.sync("book", book)
    ann = store._db.execute("SELECT person_id FROM addresses WHERE address = ?",
                            ("ann@example.com",)).fetchone()[0]
    store.track(ann, "friends")  # syncd track: the user's own
    book.pages = [Page(removals=("c1", "c2"), cursor="2")]
    engine.sync("book", book)
    assert person(store, "ann@example.com")[1:] == (1, "cli", "friends")
    assert person(store, "bob@example.com")[1:] == (0, None, None)


def test_an_untracked_person_is_not_tracked_again_by_their_card():
    store = Store.in_memory()
    engine = engine_for(store)
    pages = [Page(records=(card("c1", "Ann", "ann@example.com", categories=("close",)),),
                  cursor="1")]
    engine.sync("book", PagesConnector(pages))
    ann = store._db.execute("SELECT person_id FROM addresses WHERE address = ?",
                            ("ann@example.com",)).fetchone()[0]
    store.untrack(ann)
    engine.sync("book", PagesConnector(pages), full=True)
    assert person(store, "ann@example.com")[1:] == (0, None, None)


def test_a_card_whose_category_no_longer_maps_untracks_and_another_card_keeps_tracking():
    store = Store.in_memory()
    engine = engine_for(store)
    engine.sync("book", PagesConnector([Page(records=(
        card("c1", "Ann", "ann@example.com", categories=("close",)),
        card("c2", "Ann", "ann@example.com", categories=("friends",))), cursor="1")]))
    engine.sync("book", PagesConnector([Page(records=(
        card("c1", "Ann", "ann@example.com"),), cursor="2")]))
    assert person(store, "ann@example.com")[1:] == (1, "vcard", "friends")
    engine.sync("book", PagesConnector([Page(records=(
        card("c2", "Ann", "ann@example.com", categories=("Colleagues",)),), cursor="3")]))
    assert person(store, "ann@example.com")[1:] == (0, None, None)


def test_next_birthday_wraps_the_year_and_keeps_29_february():
    assert next_birthday(Birthday(4, 15), date(2026, 4, 15)) == date(2026, 4, 15)
    assert next_birthday(Birthday(1, 2), date(2026, 12, 30)) == date(2027, 1, 2)
    assert next_birthday(Birthday(2, 29, 2000), date(2026, 1, 1)) == date(2026, 2, 28)
    assert next_birthday(Birthday(2, 29), date(2027, 12, 1)) == date(2028, 2, 29)


def test_birthdays_within_a_window_soonest_first_with_the_age_when_known():
    from datetime import timedelta
    found = birthdays_within({1: Birthday(4, 20, 1980), 2: Birthday(4, 16), 3: Birthday(5, 30)},
                             date(2026, 4, 15), timedelta(days=14))
    assert found == [(2, date(2026, 4, 16), None), (1, date(2026, 4, 20), 46)]


def test_a_name_set_in_people_wins_over_the_card_s_name_sync_after_sync(tmp_path):
    """The config is the user's word: a [[people]] name stays, sync after sync, whatever the
    card calls them; a card names only the people the config does not."""
    from syncd.app import App
    from syncd.config import parse_config

    config = parse_config({"general": {"state_dir": str(tmp_path)},
                           "me": {"addresses": ["me@example.org"]}, "tiers": {"close": "14d"},
                           "people": [{"name": "Annie", "addresses": ["ann@example.com"]},
                                      {"name": "Cyd", "addresses": ["cy@example.com"]}]},
                          environ={"HOME": "/h"})
    app = App.open(config, lambda: NOW)
    # Cy's card lists first an address mail made a person of: merged into it, Cyd stays.
    engine_for(app.store).sync("mail", FakeConnector([message("1", "cy@home.example",
                                                              ["me@example.org"])]))
    book = PagesConnector([Page(records=(
        card("c1", "Ann Lee", "ann@example.com", "ann@work.example", categories=("close",)),
        card("c2", "Bob Roe", "bob@example.com"),
        card("c3", "Cy Young", "cy@home.example", "cy@example.com")), cursor="1")])
    names = []
    for _ in range(2):
        engine_for(app.store).sync("book", book, full=True)
        names.append(tuple(person(app.store, email) for email in (
            "ann@example.com", "ann@work.example", "bob@example.com", "cy@home.example",
            "cy@example.com")))
        app.apply_config()  # what the next command does first: it finds nothing to change
        assert tuple(person(app.store, email) for email in (
            "ann@example.com", "ann@work.example", "bob@example.com", "cy@home.example",
            "cy@example.com")) == names[-1]
    assert names[0] == names[1] == (("Annie", 1, "config", None), ("Annie", 1, "config", None),
                                    ("Bob Roe", 0, None, None), ("Cyd", 1, "config", None),
                                    ("Cyd", 1, "config", None))
    assert sorted(tie.person.name for tie in app.people()) == ["Annie", "Cyd"]
    app.close()
