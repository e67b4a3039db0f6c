"""Identity: syncd merge and split move history exactly, refuse bad input, survive rebuilds."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syncd.app import App
from syncd.choices import Choice, ChoiceJournal
from syncd.config import parse_config
from syncd.engine import Engine, refresh_rhythms
from syncd.errors import PersonNotFound, UsageError
from syncd.model import Birthday, Card, Role
from syncd.rules import Rules
from syncd.store import Store
from syncd.testing import FakeConnector, address, message

START = datetime(2025, 1, 6, 9, tzinfo=UTC)
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
ME = "me@example.org"
ALICE_WORK, ALICE_HOME, BOB, CAROL = ("alice@work.example", "Alice.W@gmail.com",
                                      "bob@example.net", "carol@example.org")


def history() -> list[object]:
    """A year of mail where the interesting cases meet: both of Alice's addresses on one
    mail (To and Cc), each alone, both ways, group mail, a meeting, and a newsletter."""
    records: list[object] = []
    for week in range(52):
        when = START + timedelta(weeks=week)
        if week % 3 == 0:   # one mail to both of Alice's addresses, and Bob
            records.append(message(f"Sent/{week}", ME, [ALICE_WORK], cc=[ALICE_HOME, BOB],
                                   date=when, role=Role.SENT))
        if week % 4 == 1:   # Alice at home writes to me alone
            records.append(message(f"INBOX/h{week}", ALICE_HOME, [ME], date=when))
        if week % 5 == 2:   # Alice at work writes to me and Carol
            records.append(message(f"INBOX/w{week}", ALICE_WORK, [ME, CAROL], date=when))
        if week % 7 == 3:   # I write to Alice at work
            records.append(message(f"Sent/w{week}", ME, [ALICE_WORK], date=when,
                                   role=Role.SENT))
        if week % 2 == 0:   # Bob answers now and then
            records.append(message(f"INBOX/b{week}", BOB, [ME], date=when + timedelta(hours=3)))
        if week % 6 == 5:   # I write to Carol and Alice at home
            records.append(message(f"Sent/c{week}", ME, [CAROL, ALICE_HOME], date=when,
                                   role=Role.SENT))
    return records


def engine_for(store: Store) -> Engine:
    store.set_configured_addresses([ME])
    return Engine(store, Rules(), lambda: NOW)


def synced_store() -> Store:
    store = Store.in_memory()
    engine_for(store).sync("mail", FakeConnector(history(), page_size=7))  # type: ignore[arg-type]
    return store


def stats(store: Store) -> dict[tuple[str, ...], tuple[object, ...]]:
    """Every person's stats (every person_stats column, rhythm and strength included), by
    their addresses: ids change with a split, addresses do not."""
    db = store._db
    columns = [row[1] for row in db.execute("PRAGMA table_info(person_stats)")
               if row[1] not in ("person_id", "rhythm_dirty")]
    result = {}
    for person_id, *values in db.execute(
            f"SELECT person_id, {', '.join(columns)} FROM person_stats"):
        addresses = tuple(row[0] for row in db.execute(
            "SELECT address FROM addresses WHERE person_id = ? ORDER BY address", (person_id,)))
        result[addresses] = tuple(round(v, 9) if isinstance(v, float) else v for v in values)
    return result


def ids(store: Store, *emails: str) -> list[int]:
    found = []
    for email in emails:
        owner = store.owner_of(address(email).email)
        assert owner is not None
        found.append(owner)
    return found


def test_the_mail_to_both_addresses_of_one_person_is_one_contact_once_merged():
    store = synced_store()
    alice_work, alice_home = ids(store, ALICE_WORK, ALICE_HOME)
    before = {row.id: row.interactions for row in store.people_with_ids([alice_work,
                                                                         alice_home])}
    shared = 18  # weeks 0, 3, ..., 51: the mails to both
    store.merge([alice_work, alice_home])
    refresh_rhythms(store)
    merged = store.person(alice_work)
    assert merged is not None and store.person(alice_home) is None
    assert merged.interactions == before[alice_work] + before[alice_home] - shared


def test_a_merge_equals_having_been_one_person_from_the_start():
    """The merged stats are what a database where the config made them one person before the
    first sync holds: recomputed from contacts, no drift."""
    store = synced_store()
    store.merge(ids(store, ALICE_WORK, ALICE_HOME))
    refresh_rhythms(store)
    reference = Store.in_memory()
    with reference.transaction():
        reference.merge_addresses("Alice", [address(ALICE_WORK).email,
                                            address(ALICE_HOME).email])
    engine_for(reference).sync("mail", FakeConnector(history(), page_size=7))  # type: ignore[arg-type]
    assert stats(store) == stats(reference)


PEOPLE = (ALICE_WORK, ALICE_HOME, BOB, CAROL)


@pytest.mark.parametrize("group", [group for size in (2, 3, 4)
                                   for group in itertools.permutations(PEOPLE, size)
                                   if size < 4 or group == PEOPLE])
def test_merging_then_splitting_back_restores_every_number(group):
    store = synced_store()
    before = stats(store)
    totals = store._db.execute("SELECT count(*), sum(address_counts) FROM contacts").fetchone()
    store.merge(ids(store, *group))
    refresh_rhythms(store)
    kept = ids(store, group[0])[0]
    for email in group[1:]:
        store.split(kept, address(email).email, lambda _: False)
        refresh_rhythms(store)
    assert stats(store) == before
    assert store._db.execute(
        "SELECT count(*), sum(address_counts) FROM contacts").fetchone() == totals


def test_a_person_counts_once_per_mail_in_every_listing():
    store = synced_store()
    store.merge(ids(store, ALICE_WORK, ALICE_HOME))
    refresh_rhythms(store)
    alice = ids(store, ALICE_WORK)[0]
    timeline = store.timeline(alice, limit=1000, counted_only=False)
    assert len(timeline) == store._db.execute(
        "SELECT count(DISTINCT interaction_id) FROM contacts WHERE person_id = ?",
        (alice,)).fetchone()[0]
    person = store.person(alice)
    assert person is not None
    assert len(store.timeline(alice, limit=1000)) == person.interactions
    assert sum(store._db.execute(
        "SELECT count(*) FROM contacts WHERE person_id = ? AND counts = 1 GROUP BY "
        "interaction_id HAVING count(*) > 1", (alice,)).fetchall(), ()) == ()


# --- the App: choices, refusals, the journal -------------------------------------------------

def open_app(state: Path, **sections: object) -> App:
    config = parse_config({"general": {"state_dir": str(state)}, "me": {"addresses": [ME]},
                           **sections}, environ={"HOME": "/h"})
    app = App.open(config, lambda: NOW)
    app.apply_config()
    return app


def synced_app(state: Path, **sections: object) -> App:
    app = open_app(state, **sections)
    engine_for(app.store).sync("mail", FakeConnector(history(), page_size=7))  # type: ignore[arg-type]
    app.replay_choices()
    return app


def test_merge_keeps_the_tracked_ones_choices_and_the_first_ones_id(tmp_path):
    app = synced_app(tmp_path)
    work, home = app.find_person(ALICE_WORK), app.find_person(ALICE_HOME)
    app.track(home, every=timedelta(weeks=2))
    app.untrack(app.find_person(BOB))
    merged = app.merge([work, app.find_person(ALICE_HOME)])
    assert merged.id == work.id and merged.tracked and merged.every_days == 14
    assert app.store.tracked_by(merged.id) == "cli"
    # Both tracked: the first one named wins.
    bob = app.find_person(BOB)
    app.track(bob, every=timedelta(weeks=5))
    merged = app.merge([app.find_person(BOB), app.find_person(ALICE_WORK)])
    assert merged.every_days == 35
    app.close()


def test_untrack_for_good_survives_a_merge_with_an_untracked_person(tmp_path):
    app = synced_app(tmp_path)
    app.untrack(app.find_person(BOB))
    merged = app.merge([app.find_person(CAROL), app.find_person(BOB)])
    exported = {tie.person.id: choices for tie, choices in app.exported_people()}
    assert not merged.tracked and exported[merged.id].never_auto_track
    app.close()


def test_refusals_change_nothing(tmp_path):
    app = synced_app(tmp_path)
    before = stats(app.store), app.journal.size()
    work = app.find_person(ALICE_WORK)
    with pytest.raises(UsageError, match="cannot be merged with themself"):
        app.merge([work, app.find_person("#" + str(work.id))])
    with pytest.raises(PersonNotFound):
        app.find_person("nobody@nowhere.example")
    with pytest.raises(UsageError, match="only address"):
        app.split(work, ALICE_WORK)
    with pytest.raises(UsageError, match="is not an address of"):
        app.split(app.merge([work, app.find_person(BOB)]), CAROL)
    assert app.journal.size() > before[1]  # the merge in between was journaled
    app.close()
    app = synced_app(tmp_path / "again")
    before = stats(app.store), app.journal.size()
    work = app.find_person(ALICE_WORK)
    for attempt in (lambda: app.merge([work, work]), lambda: app.split(work, ALICE_WORK),
                    lambda: app.split(work, BOB), lambda: app.merge([work])):
        with pytest.raises(UsageError):
            attempt()
    assert (stats(app.store), app.journal.size()) == before
    app.close()


def test_merges_and_splits_come_back_in_a_rebuilt_database(tmp_path):
    app = synced_app(tmp_path)
    app.merge([app.find_person(ALICE_WORK), app.find_person(ALICE_HOME), app.find_person(BOB)])
    app.split(app.find_person(ALICE_WORK), BOB)
    expected = stats(app.store)
    app.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp_path / 'syncd.sqlite3'}{suffix}").unlink(missing_ok=True)
    app = synced_app(tmp_path)
    assert stats(app.store) == expected
    assert app.find_person(ALICE_HOME).id == app.find_person(ALICE_WORK).id
    assert app.find_person(BOB).id != app.find_person(ALICE_WORK).id
    app.close()


def test_addresses_are_shown_as_written_and_matched_canonically(tmp_path):
    app = synced_app(tmp_path)
    alice = app.find_person("alicew@gmail.com")
    assert alice.addresses == ("alicew@gmail.com",)
    assert alice.shown == ("Alice.W@gmail.com",)
    app.close()


def test_a_sender_s_own_spelling_wins_over_one_seen_in_a_cc():
    store = Store.in_memory()
    engine_for(store).sync("mail", FakeConnector([
        message("1", ME, ["meher.t@gmail.com"], date=NOW, role=Role.SENT),
        replace(message("2", "meher.t@gmail.com", [ME], date=NOW),
                sender=address("Meher.T@GMail.com"))]))
    person = store.person(ids(store, "mehert@gmail.com")[0])
    assert person is not None and person.shown == ("Meher.T@GMail.com",)


def test_a_logged_contact_follows_its_address_through_a_merge_and_a_split(tmp_path):
    app = synced_app(tmp_path)
    app.log_contact(app.find_person(ALICE_HOME), NOW - timedelta(days=2), "coffee")
    refresh_rhythms(app.store)  # what the next sync does after syncd done
    before = stats(app.store)
    merged = app.merge([app.find_person(ALICE_WORK), app.find_person(ALICE_HOME)])
    assert merged.last_manual == NOW - timedelta(days=2)
    app.split(merged, ALICE_HOME)
    assert stats(app.store) == before
    assert app.find_person(ALICE_HOME).last_manual == NOW - timedelta(days=2)
    app.close()


# --- a split against an address book that lists both addresses --------------------------------

def alices_card(*emails: str) -> Card:
    """The address book's card for Alice: both of her addresses, tier "close" by category."""
    return Card(source_id="alice.vcf", uid="alice-1", name="Alice Wonder",
                addresses=tuple(address(email) for email in emails or (ALICE_WORK, ALICE_HOME)),
                categories=("close",), birthday=Birthday(4, 15, 1990))


def sync_book(app: App, *cards: Card) -> None:
    """A full sync of the address book, as `syncd sync --full` does."""
    engine = Engine(app.store, Rules(), lambda: NOW, tier_map=app.tier_map())
    report = engine.sync("book", FakeConnector(list(cards or (alices_card(),)), name="book"),
                         full=True)
    assert report.error is None
    app.replay_choices()


def people_of(app: App) -> dict[str, tuple[object, ...]]:
    """Per address: the addresses, name, tier and birthday of the person holding it."""
    result = {}
    for email in PEOPLE:
        person = app.find_person(email)
        birthday = app.store.birthdays([person.id]).get(person.id)
        result[email] = (person.addresses, person.name, person.tier, birthday)
    return result


def test_a_split_stays_split_however_often_a_card_lists_both_addresses(tmp_path):
    app = synced_app(tmp_path, tiers={"close": "14d"})
    sync_book(app)
    alice = app.find_person(ALICE_WORK)
    assert alice.id == app.find_person(ALICE_HOME).id, "the card made them one person"
    app.split(alice, ALICE_HOME)
    refresh_rhythms(app.store)
    split = people_of(app), stats(app.store)
    for _ in range(2):
        sync_book(app)
        assert (people_of(app), stats(app.store)) == split
    # The card stays with its first address: her work self keeps its name, tier and birthday.
    assert people_of(app)[ALICE_WORK][1:] == ("Alice Wonder", "close", Birthday(4, 15, 1990))
    assert people_of(app)[ALICE_HOME][2:] == (None, None)
    app.close()


def test_a_card_listing_the_split_address_first_goes_with_it_and_leaves_the_other_alone(
        tmp_path):
    app = synced_app(tmp_path, tiers={"close": "14d"})
    sync_book(app)
    app.split(app.find_person(ALICE_WORK), ALICE_HOME)
    sync_book(app, alices_card(ALICE_HOME, ALICE_WORK))
    home, work = app.find_person(ALICE_HOME), app.find_person(ALICE_WORK)
    assert home.id != work.id
    assert (home.addresses, home.tier) == ((address(ALICE_HOME).email,), "close")
    app.close()


@pytest.mark.parametrize("book_first", [True, False])
def test_a_rebuilt_database_keeps_the_split_that_the_card_would_undo(tmp_path, book_first):
    app = synced_app(tmp_path, tiers={"close": "14d"})
    sync_book(app)
    app.split(app.find_person(ALICE_WORK), ALICE_HOME)
    sync_book(app)
    refresh_rhythms(app.store)
    expected = people_of(app), stats(app.store)
    app.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp_path / 'syncd.sqlite3'}{suffix}").unlink(missing_ok=True)
    # The journal is replayed into an empty database, before any source is read again.
    app = open_app(tmp_path, tiers={"close": "14d"})
    if book_first:
        sync_book(app)
    engine_for(app.store).sync("mail", FakeConnector(history(), page_size=7))  # type: ignore[arg-type]
    if not book_first:
        sync_book(app)
    refresh_rhythms(app.store)
    assert (people_of(app), stats(app.store)) == expected
    assert app.find_person(ALICE_HOME).id != app.find_person(ALICE_WORK).id
    app.close()


def test_a_merge_after_the_split_is_the_latest_choice_and_the_card_keeps_them_one(tmp_path):
    app = synced_app(tmp_path, tiers={"close": "14d"})
    sync_book(app)
    app.split(app.find_person(ALICE_WORK), ALICE_HOME)
    sync_book(app)
    app.merge([app.find_person(ALICE_WORK), app.find_person(ALICE_HOME)])
    assert app.store.kept_apart_pairs() == []
    sync_book(app)
    assert app.find_person(ALICE_HOME).id == app.find_person(ALICE_WORK).id
    app.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp_path / 'syncd.sqlite3'}{suffix}").unlink(missing_ok=True)
    app = open_app(tmp_path, tiers={"close": "14d"})
    sync_book(app)
    assert app.find_person(ALICE_HOME).id == app.find_person(ALICE_WORK).id
    app.close()


def test_a_card_joining_people_keeps_a_tracked_one_s_choice(tmp_path):
    """A card that makes two people one settles their tracking as syncd merge does: a
    `syncd track --every` of the second is not lost to the first's lack of one."""
    app = synced_app(tmp_path)
    app.track(app.find_person(ALICE_HOME), every=timedelta(weeks=3))
    sync_book(app, replace(alices_card(), categories=()))
    alice = app.find_person(ALICE_WORK)
    assert alice.id == app.find_person(ALICE_HOME).id
    assert (alice.tracked, alice.every_days, app.store.tracked_by(alice.id)) == (True, 21, "cli")
    app.close()


def test_people_split_apart_are_not_suggested_as_duplicates_again(tmp_path):
    app = open_app(tmp_path)
    engine_for(app.store).sync("mail", FakeConnector([
        replace(message(f"INBOX/{n}", sender, [ME], date=NOW - timedelta(days=n)),
                sender=address(sender, "Meher Tandon"))
        for n, sender in enumerate(("meher@work.example", "mehert@gmail.com"), start=1)]))
    meher = [app.find_person("meher@work.example").id, app.find_person("mehert@gmail.com").id]
    assert [duplicate.people for duplicate in app.duplicates()] == [tuple(sorted(meher))]
    merged = app.merge([app.find_person("meher@work.example"),
                        app.find_person("mehert@gmail.com")])
    app.split(merged, "mehert@gmail.com")
    assert app.duplicates() == []
    app.merge([app.find_person("meher@work.example"), app.find_person("mehert@gmail.com")])
    app.split(app.find_person("meher@work.example"), "mehert@gmail.com")
    assert app.duplicates() == []
    app.close()


def test_a_split_line_written_before_splits_were_kept_apart_still_keeps_them_apart(tmp_path):
    """Older journals name only the address split off: replayed after the merge it undoes, the
    addresses left to the person are those it is kept apart from."""
    work, home = address(ALICE_WORK).email, address(ALICE_HOME).email
    ChoiceJournal(tmp_path).append(Choice(kind="merge", name="Alice", addresses=(work, home)),
                                   Choice(kind="split", name="Alice", addresses=(home,)))
    app = open_app(tmp_path, tiers={"close": "14d"})
    assert app.store.kept_apart_pairs() == [(work, home)]  # "alice@" sorts before "alicew"
    engine_for(app.store).sync("mail", FakeConnector(history(), page_size=7))  # type: ignore[arg-type]
    sync_book(app)
    assert app.find_person(ALICE_HOME).id != app.find_person(ALICE_WORK).id
    app.close()
