"""The engine and store together: idempotent, crash-safe, never double-counting."""

from __future__ import annotations

import gc
import os
import sqlite3
import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from syncd.engine import Engine, refresh_rhythms
from syncd.errors import StoreTooNew
from syncd.model import Address, Attendee, Meeting, Role
from syncd.rules import Rules
from syncd.store import Store
from syncd.testing import FakeConnector, database_content, message

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def mail_year(count: int = 60):
    records = []
    for index in range(count):
        when = START + timedelta(days=index * 2)
        if index % 2:
            records.append(message(f"INBOX/{index}", f"friend{index % 5}@example.com",
                                   ["me@example.org"], date=when))
        else:
            records.append(message(f"Sent/{index}", "me@example.org",
                                   [f"friend{index % 5}@example.com"], date=when,
                                   role=Role.SENT))
    return records


def engine_for(store: Store) -> Engine:
    store.set_configured_addresses(["me@example.org"])
    return Engine(store, Rules(), lambda: NOW)


canonical = database_content


def test_resyncing_everything_never_double_counts():
    store = Store.in_memory()
    engine = engine_for(store)
    connector = FakeConnector(mail_year())
    first = engine.sync("mail", connector)
    before = canonical(store)
    again = engine.sync("mail", connector, full=True)
    assert first.new_contacts == 60
    assert again.new_contacts == 0
    assert canonical(store) == before


def test_the_same_message_id_in_two_folders_and_two_sources_counts_once():
    store = Store.in_memory()
    engine = engine_for(store)
    original = message("INBOX/1", "alice@example.com", ["me@example.org"], date=START,
                       message_id="one@example.com")
    archived = message("Archive/9", "alice@example.com", ["me@example.org"], date=START,
                       message_id="one@example.com")
    engine.sync("mail", FakeConnector([original, archived]))
    engine.sync("backup", FakeConnector([original]))
    alice = store.tracked_people() or store.counted_people()
    assert [p.interactions for p in alice if "alice@example.com" in p.addresses] == [1]


def test_a_copy_outside_junk_upgrades_a_message_first_seen_in_junk():
    store = Store.in_memory()
    engine = engine_for(store)
    junk = message("Junk/1", "alice@example.com", ["me@example.org"], date=START,
                   message_id="x@example.com", role=Role.JUNK)
    inbox = message("INBOX/1", "alice@example.com", ["me@example.org"], date=START,
                    message_id="x@example.com")
    engine.sync("mail", FakeConnector([junk, inbox]))
    [alice] = [p for p in store.counted_people() if "alice@example.com" in p.addresses]
    assert alice.interactions == 1 and alice.last_incoming == START


@pytest.mark.parametrize("crash_after", [0, 1, 2, 4])
def test_a_sync_killed_after_any_page_resumes_to_the_same_database(crash_after):
    records = mail_year()
    reference = Store.in_memory()
    engine_for(reference).sync("mail", FakeConnector(records, page_size=7))

    store = Store.in_memory()
    engine = engine_for(store)
    crashed = engine.sync("mail", FakeConnector(records, page_size=7,
                                                fail_after_pages=crash_after))
    assert crashed.error
    resumed = engine.sync("mail", FakeConnector(records, page_size=7))
    assert resumed.error is None
    assert canonical(store) == canonical(reference)


def test_pages_read_before_a_failure_are_kept_with_their_cursor():
    # Pages are committed together (fewer, larger transactions); a server dying mid-pass
    # must still leave what was read before it stored, as committing page by page did.
    store = Store.in_memory()
    report = engine_for(store).sync("mail", FakeConnector(mail_year(), page_size=7,
                                                          fail_after_pages=3))
    assert report.error == "the fake server went away"
    assert len(store.known_ids("mail")) == 21
    assert store.cursor("mail") == '{"served": 21}'


def test_a_batch_that_fails_to_store_keeps_nothing_of_it():
    store = Store.in_memory()
    engine = engine_for(store)
    engine.sync("mail", FakeConnector(mail_year(10)))
    before = canonical(store)
    decision = engine.classify(message("INBOX/new", "zoe@example.com", ["me@example.org"],
                                       date=START), store.my_addresses().__contains__)
    with pytest.raises(RuntimeError), store.batch():
        store.apply("mail", [("INBOX/new", decision)], (), '{"served": 99}')
        raise RuntimeError("the disk filled up")
    assert canonical(store) == before


def test_an_expired_cursor_runs_a_full_sync_without_double_counting():
    store = Store.in_memory()
    engine = engine_for(store)
    records = mail_year(20)
    engine.sync("mail", FakeConnector(records))
    report = engine.sync("mail", FakeConnector(records, expire_cursor=True))
    assert report.error is None and report.full
    assert report.new_contacts == 0
    assert sum(p.interactions for p in store.counted_people()) == 20


def test_a_failing_source_is_recorded_and_the_error_cleared_by_the_next_success():
    store = Store.in_memory()
    engine = engine_for(store)
    failed = engine.sync("mail", FakeConnector(mail_year(5), fail_after_pages=0))
    [row] = store.sources()
    assert failed.error == row.last_error == "the fake server went away"
    engine.sync("mail", FakeConnector(mail_year(5)))
    [row] = store.sources()
    assert row.last_error is None and row.last_success == NOW


def test_unexpected_connector_bugs_are_contained():
    class Broken:
        name = "broken"

        def pull(self, cursor, known):
            raise ZeroDivisionError("bug")
            yield  # pragma: no cover

    report = engine_for(Store.in_memory()).sync("broken", Broken())
    assert report.error and "ZeroDivisionError" in report.error


def test_from_addresses_in_sent_folders_become_mine():
    store = Store.in_memory()
    engine = engine_for(store)
    sent = message("Sent/1", "me@alias.example", ["alice@example.com"], date=START,
                   role=Role.SENT)
    reply = message("INBOX/2", "alice@example.com", ["me@alias.example"], date=START)
    engine.sync("mail", FakeConnector([sent, reply], my_addresses=frozenset({"me@alias.example"})))
    assert "me@alias.example" in store.my_addresses()
    [alice] = [p for p in store.counted_people() if "alice@example.com" in p.addresses]
    assert alice.last_outgoing == START and alice.last_incoming == START
    assert not [p for p in store.counted_people() if "me@alias.example" in p.addresses]


def test_merging_addresses_of_one_person_merges_their_history():
    store = Store.in_memory()
    engine = engine_for(store)
    engine.sync("mail", FakeConnector([
        message("1", "bob@home.example", ["me@example.org"], date=START),
        message("2", "bob@work.example", ["me@example.org"], date=START + timedelta(days=3)),
    ]))
    store.sync_configured_people([("Bob", ["bob@home.example", "bob@work.example"], None, 30)])
    [bob] = store.tracked_people()
    assert bob.name == "Bob" and bob.interactions == 2
    assert bob.last_contact == START + timedelta(days=3)
    assert set(bob.addresses) == {"bob@home.example", "bob@work.example"}


@pytest.mark.parametrize("page_size", [1, 10], ids=["page by page", "in one page"])
def test_a_person_is_named_after_the_first_display_name_seen(page_size):
    store = Store.in_memory()
    engine = engine_for(store)
    sent = [message(f"Sent/{i}", "me@example.org", ["erin@example.com"], role=Role.SENT,
                    date=START + timedelta(days=i)) for i in range(2)]
    named = [replace(message(f"INBOX/{i}", "erin@example.com", ["me@example.org"],
                             date=START + timedelta(days=5 + i)),
                     sender=Address("erin@example.com", name)) for i, name in
             enumerate(["Erin Example", "Erin E."])]
    engine.sync("mail", FakeConnector([*sent, *named], page_size=page_size))
    [erin] = store.counted_people()
    assert erin.name == "Erin Example" and erin.interactions == 4
    assert erin.first_contact == START and erin.last_contact == START + timedelta(days=6)
    assert erin.last_outgoing == START + timedelta(days=1)


def written_every_ten_days(times: int) -> Store:
    """A store after a sync of ``times`` mails to one friend, ten days apart."""
    store = Store.in_memory()
    records = [message(f"Sent/{i}", "me@example.org", ["dana@example.com"], role=Role.SENT,
                       date=START + timedelta(days=10 * i)) for i in range(times)]
    engine_for(store).sync("mail", FakeConnector(records))
    return store


def test_rhythm_is_inferred_from_a_persons_own_gaps():
    store = written_every_ten_days(8)
    [dana] = store.counted_people()
    assert dana.inferred_days == 10


def test_a_few_contacts_settle_as_no_rhythm_and_leave_nothing_stale():
    store = written_every_ten_days(3)
    [fay] = store.counted_people()
    assert fay.inferred_days is None and fay.interactions == 3
    assert store.dirty_rhythms() == []


def test_a_pass_collects_garbage_less_often_and_puts_the_thresholds_back():
    seen = []

    class Watching(FakeConnector):
        def pull(self, cursor, known):
            seen.append(gc.get_threshold())
            yield from super().pull(cursor, known)

    before = gc.get_threshold()
    engine_for(Store.in_memory()).sync("mail", Watching(mail_year(5)))
    assert seen[0][0] > before[0] and seen[0][1:] == before[1:]
    assert gc.get_threshold() == before


def test_the_database_is_private_to_the_user(tmp_path):
    store = Store.open(tmp_path / "state")
    store.close()
    assert stat.S_IMODE(os.stat(tmp_path / "state").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "state" / "syncd.sqlite3").st_mode) == 0o600


def test_a_database_from_a_newer_syncd_is_refused_and_left_untouched(tmp_path):
    Store.open(tmp_path).close()
    path = tmp_path / "syncd.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 999")
    before = path.read_bytes()
    with pytest.raises(StoreTooNew, match="newer syncd"):
        Store.open(tmp_path)
    assert path.read_bytes() == before


def test_reopening_keeps_everything(tmp_path):
    store = Store.open(tmp_path)
    engine_for(store).sync("mail", FakeConnector(mail_year(10)))
    before = canonical(store)
    store.close()
    reopened = Store.open(tmp_path)
    assert canonical(reopened) == before


def test_stats_written_as_contacts_arrive_equal_stats_rebuilt_from_the_contacts():
    # person_stats is summed page by page, and a first contact settles its person's history
    # at once (FIRST_CONTACT_SETTLES); rebuilt from contacts and refreshed, every row must come
    # out the same: one-off and repeated correspondents, a group mail, a logged call, a
    # meeting that started since it was listed.
    me = "me@example.org"
    store = Store.in_memory()
    engine = engine_for(store)
    week_ago = NOW - timedelta(days=7)
    mail = [message("INBOX/1", "once@example.org", [me], date=week_ago),
            message("Sent/1", me, ["group1@example.org", "group2@example.org",
                                  "group3@example.org"], role=Role.SENT, date=week_ago),
            # A newsletter: its sender becomes a person with no counted contact.
            message("INBOX/2", "called@example.org", [me], headers={"list-id": "<x.y>"},
                    date=week_ago),
            *[message(f"INBOX/r{day}", "often@example.org", [me],
                      date=NOW - timedelta(days=day)) for day in range(1, 9)]]
    engine.sync("mail", FakeConnector(mail))
    [called] = store.find_people("called@example.org")
    store.log_manual(called, NOW - timedelta(days=3), "a call")
    tomorrow = NOW + timedelta(days=1)
    people = ("met@example.org", "once@example.org")
    standup = Meeting(source_id="cal|uid-1|", uid="uid-1", start=tomorrow,
                      organizer=Address(me),
                      attendees=tuple(Attendee(Address(email), "ACCEPTED", "INDIVIDUAL")
                                      for email in (me, *people)))
    engine.sync("calendar", FakeConnector([standup]))
    store.promote_started_meetings(tomorrow + timedelta(hours=1))
    refresh_rhythms(store)

    def stats() -> list[tuple[object, ...]]:
        return store._db.execute("SELECT * FROM person_stats ORDER BY person_id").fetchall()

    written = stats()
    with store.transaction():
        store.rebuild_stats([row[0] for row in written])
    refresh_rhythms(store)
    assert stats() == written
    assert len(written) == 7  # everyone above but me has counted contacts


def test_the_config_check_every_command_makes_reads_an_index_not_every_person():
    # Each command checks that the store matches [[people]] (TrackingMixin): with 90,000
    # people a scan of the table was 10-17 ms of a no-change sync.
    store = Store.in_memory()
    [[*_, plan]] = store._db.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM people WHERE tracked_by = 'config'").fetchall()
    assert "USING INDEX people_tracked_by" in plan or "USING COVERING INDEX" in plan, plan
