"""The contact strip and the gap bars of `syncd show`, read through their plain-text rendering,
and the monthly numbers behind them (one query over the contacts index)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from syncd.activity import MonthActivity, fill_months, month_window, short_span
from syncd.model import Address, Decision, Direction
from syncd.store import Store
from syncd.strip import contact_strip, gap_picture, rhythm_text

NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)


def strip_lines(found: dict[str, MonthActivity], now: datetime = NOW) -> list[str]:
    window = month_window(now, UTC)
    return contact_strip(fill_months(window, found)).plain().splitlines()


def test_the_window_is_the_24_months_ending_with_this_one_in_the_users_zone():
    window = month_window(datetime(2026, 11, 30, 23, 30, tzinfo=UTC), ZoneInfo("Europe/Berlin"))
    assert window.months[0] == "2025-01" and window.months[-1] == "2026-12"  # Berlin: Dec 1st
    assert len(window.months) == 24
    assert window.since == datetime(2024, 12, 31, 23, 0, tzinfo=UTC)
    assert window.utc_offset == 3600


def test_one_cell_per_month_shaded_by_contact_days_with_direction_and_meeting_marks():
    found = {
        "2026-11": MonthActivity("2026-11", contact_days=9, outgoing=5, incoming=6),
        "2026-10": MonthActivity("2026-10", contact_days=4, outgoing=4),
        "2026-09": MonthActivity("2026-09", contact_days=2, incoming=2, meetings=1),
        "2026-08": MonthActivity("2026-08", contact_days=1, manual=1),
    }
    caption, years, shades, marks, initials, legend = strip_lines(found)
    assert caption == "  contact, last 24 months: in touch in 4 of 24 months, 16 contact days"
    assert shades == "  " + "··" * 20 + "░░▒▒▓▓██"
    assert marks == "  " + "  " * 20 + " ●↓●↑ ↕"
    assert initials == "  D J F M A M J J A S O N D J F M A M J J A S O N"
    assert years == "    2025                    2026"  # above each January
    assert "░ 1 day ▒ 2-3 ▓ 4-7 █ 8+" in legend


def test_a_first_month_far_enough_from_january_gets_its_year_too():
    years = strip_lines({}, now=datetime(2026, 2, 10, tzinfo=UTC))[1]
    assert years == "  2024                2025                    2026"


def test_a_month_without_contact_is_an_empty_cell_not_a_gap():
    shades = strip_lines({})[2]
    assert shades == "  " + "··" * 24


def test_the_gap_bars_are_drawn_to_scale_and_say_usual_against_now():
    lines = gap_picture(timedelta(days=21), None, timedelta(days=49)).plain().splitlines()
    assert lines[0] == "  usual gap  " + "█" * 13 + " " * 18 + "3w"
    assert lines[1] == "  now quiet  " + "█" * 30 + " 7w"
    assert lines[2] == "  usually every 3w · now 7w quiet"


def test_the_rhythm_line_says_what_is_known():
    assert rhythm_text(None, timedelta(days=14), None) == (
        "no usual rhythm yet · you want every 2w · no contact on record")
    assert rhythm_text(timedelta(days=10), None, timedelta(hours=3)) == (
        "usually every 10d · in touch today")
    assert [short_span(timedelta(days=d)) for d in (3, 20, 100, 800)] == [
        "3d", "3w", "3mo", "2y"]


def contact(store: Store, key: str, address: str, direction: Direction, at: datetime,
            counts: bool = True) -> None:
    who = Address(address)
    decision = Decision(counts, direction.value, "test", direction, at,
                        counted=(who,) if counts else (), participants=(who,), dedupe_key=key)
    store.apply("test", [(key, decision)], [], None)


def test_monthly_activity_counts_local_days_and_directions_of_counted_contacts_only():
    store = Store.in_memory()
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)  # 00:30 on November 1st in Berlin
    contact(store, "a", "ann@example.com", Direction.OUTGOING, start)
    contact(store, "b", "ann@example.com", Direction.INCOMING, start + timedelta(hours=2))
    contact(store, "c", "ann@example.com", Direction.MEETING, start + timedelta(days=3))
    contact(store, "d", "ann@example.com", Direction.INCOMING, start + timedelta(days=4),
            counts=False)
    contact(store, "e", "ann@example.com", Direction.OUTGOING, datetime(2020, 1, 1, tzinfo=UTC))
    contact(store, "f", "bob@example.com", Direction.OUTGOING, datetime(2026, 5, 5, tzinfo=UTC))
    ann = store.person_for_address(Address("ann@example.com"))
    bob = store.person_for_address(Address("bob@example.com"))
    store.log_manual(ann, start + timedelta(days=3, hours=1), "call")  # a day already counted
    window = month_window(NOW, berlin)
    found = store.monthly_activity([ann, bob, 999], window)
    assert found == {
        ann: {"2026-11": MonthActivity("2026-11", contact_days=2, outgoing=1, incoming=1,
                                       meetings=1, manual=1)},
        bob: {"2026-05": MonthActivity("2026-05", contact_days=1, outgoing=1)},
    }


def test_a_database_from_before_the_index_widening_keeps_its_contacts_and_reads_months_from_it(
        tmp_path):
    import sqlite3

    from syncd.store.schema import _MIGRATIONS

    widening = next(number for number, text in enumerate(_MIGRATIONS)
                    if "DROP INDEX contacts_person" in text)
    path = tmp_path / "syncd.sqlite3"
    old = sqlite3.connect(path)
    for migration in _MIGRATIONS[:widening]:
        old.executescript(migration)
    old.execute(f"PRAGMA user_version = {widening}")
    old.execute("INSERT INTO people(id, name) VALUES (1, 'Ann')")
    old.execute("INSERT INTO contacts(interaction_id, person_id, at, direction, counts) "
                "VALUES (7, 1, ?, 'outgoing', 1)",
                (int(datetime(2026, 10, 2, tzinfo=UTC).timestamp()),))
    old.commit()
    old.close()
    store = Store.open(tmp_path)
    try:
        window = month_window(NOW, UTC)
        assert store.monthly_activity([1], window) == {
            1: {"2026-10": MonthActivity("2026-10", contact_days=1, outgoing=1)}}
        plan = " ".join(row[3] for row in store._db.execute(
            "EXPLAIN QUERY PLAN SELECT count(*) FROM contacts WHERE person_id = 1 AND at >= 0 "
            "AND counts = 1 AND direction = 'outgoing'"))
        assert "COVERING INDEX contacts_person" in plan
    finally:
        store.close()
