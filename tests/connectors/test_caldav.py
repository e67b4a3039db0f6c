"""The CalDAV source against real servers (Radicale with auth, Xandikos): changes, fallback."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from calendar_helpers import calendar, vevent
from servers.radicale import radicale, xandikos  # noqa: F401 - fixtures

from connectors.calendars.caldav import CaldavConnector
from syncd.engine import Engine
from syncd.errors import AuthError
from syncd.rules import Rules
from syncd.store import Store

NOW = datetime.now(UTC).replace(microsecond=0)
ME = "me@example.org"


def setup(server, **options):
    user = server.new_user()
    url = server.make_calendar(user)
    slug = url.rstrip("/").rpartition("/")[2]
    connector = CaldavConnector("cal", server.options(user, calendars=[slug], **options),
                                ZoneInfo("Europe/Berlin"), clock=lambda: NOW)
    store = Store.in_memory()
    store.set_configured_addresses([ME])
    return user, url, connector, store, Engine(store, Rules(), lambda: NOW)


@pytest.fixture
def server(request):
    """Radicale (with htpasswd auth): the server most tests run against."""
    return request.getfixturevalue("radicale")


def person(store, address):
    ids = store.find_people(address)
    return store.person(ids[0]) if ids else None


def meeting_with(uid, who, start, **extra):
    return calendar(vevent(uid, start, organizer=ME, attendees=(ME, who), **extra))


@pytest.mark.parametrize("server_name", ["radicale", "xandikos"])
def test_first_sync_counts_past_meetings_and_keeps_future_ones_upcoming(request, server_name):
    server = request.getfixturevalue(server_name)
    user, url, connector, store, engine = setup(server)
    server.put(url, user, "coffee.ics", meeting_with("coffee", "bob@example.com",
                                                     NOW - timedelta(days=1)))
    server.put(url, user, "lunch.ics", meeting_with("lunch", "carol@example.com",
                                                    NOW + timedelta(days=3)))
    report = engine.sync("cal", connector)
    assert report.error is None
    assert person(store, "bob@example.com").last_meeting == NOW - timedelta(days=1)
    carol = person(store, "carol@example.com")
    assert carol.last_meeting is None
    assert [start for start, _ in store.upcoming_for(carol.id, NOW)] == [NOW + timedelta(days=3)]


@pytest.mark.parametrize("server_name", ["radicale", "xandikos"])
def test_incremental_sync_sees_added_changed_and_deleted_events(request, server_name):
    server = request.getfixturevalue(server_name)
    user, url, connector, store, engine = setup(server)
    server.put(url, user, "a.ics", meeting_with("a", "alice@example.com", NOW + timedelta(days=2)))
    server.put(url, user, "b.ics", meeting_with("b", "bob@example.com", NOW + timedelta(days=4)))
    server.put(url, user, "old.ics", meeting_with("old", "dan@example.com",
                                                  NOW - timedelta(days=9)))
    engine.sync("cal", connector)
    # added, changed (moved a day later), deleted (one upcoming, one past)
    server.put(url, user, "c.ics", meeting_with("c", "carol@example.com", NOW + timedelta(days=1)))
    server.put(url, user, "a.ics", meeting_with("a", "alice@example.com", NOW + timedelta(days=5)))
    server.delete(url, user, "b.ics")
    server.delete(url, user, "old.ics")
    report = engine.sync("cal", connector)
    assert report.error is None
    alice, bob = person(store, "alice@example.com"), person(store, "bob@example.com")
    carol, dan = person(store, "carol@example.com"), person(store, "dan@example.com")
    assert [s for s, _ in store.upcoming_for(alice.id, NOW)] == [NOW + timedelta(days=5)]
    assert store.upcoming_for(bob.id, NOW) == []
    assert [s for s, _ in store.upcoming_for(carol.id, NOW)] == [NOW + timedelta(days=1)]
    assert dan.last_meeting == NOW - timedelta(days=9), "a past meeting stays proof of contact"


def test_a_recurring_series_with_one_moved_and_one_cancelled_occurrence(server):
    user, url, connector, store, engine = setup(server)
    first = NOW - timedelta(days=14, hours=1)
    weekly = vevent("weekly", first, organizer=ME, attendees=(ME, "bob@example.com"),
                    rrule="FREQ=WEEKLY;COUNT=5")
    moved = vevent("weekly", first + timedelta(days=8), organizer=ME,
                   attendees=(ME, "bob@example.com"), recurrence_id=first + timedelta(days=7))
    cancelled = vevent("weekly", first + timedelta(days=14), organizer=ME,
                       attendees=(ME, "bob@example.com"), recurrence_id=first + timedelta(days=14),
                       status="CANCELLED")
    server.put(url, user, "weekly.ics", calendar(weekly, moved, cancelled))
    report = engine.sync("cal", connector)
    bob = person(store, "bob@example.com")
    # counted: the first one and the moved second one; the third was cancelled; 4 and 5 ahead
    assert report.rules == {"meeting": 2, "cancelled": 1, "upcoming": 2}
    assert bob.last_meeting == first + timedelta(days=8)
    assert [s for s, _ in store.upcoming_for(bob.id, NOW)] == [first + timedelta(days=21),
                                                                first + timedelta(days=28)]


def test_a_rejected_sync_token_falls_back_to_an_etag_listing(server):
    user, url, connector, store, engine = setup(server)
    server.put(url, user, "a.ics", meeting_with("a", "alice@example.com",
                                                  NOW - timedelta(days=1)))
    engine.sync("cal", connector)
    state = json.loads(store.cursor("cal"))
    for entry in state["cals"].values():
        entry["token"] = "http://server.org/ns/sync/corrupt-token"
    with store.transaction() as db:
        db.execute("UPDATE sources SET cursor = ? WHERE name = 'cal'", (json.dumps(state),))
    server.put(url, user, "b.ics", meeting_with("b", "bob@example.com",
                                                  NOW - timedelta(hours=2)))
    report = engine.sync("cal", connector)
    assert report.error is None
    assert report.records == 1, "only the new event is read after the listing"
    assert person(store, "bob@example.com").last_meeting == NOW - timedelta(hours=2)
    assert all(entry["token"] is None for entry in json.loads(store.cursor("cal"))["cals"]
               .values())
    engine.sync("cal", connector)
    assert all(entry["token"] for entry in json.loads(store.cursor("cal"))["cals"].values())


def test_a_poll_with_no_change_costs_one_request_per_calendar(server):
    user, url, connector, _store, engine = setup(server)
    server.put(url, user, "a.ics", meeting_with("a", "alice@example.com",
                                                NOW - timedelta(days=1)))
    engine.sync("cal", connector)
    before = connector.requests_made
    report = engine.sync("cal", connector)
    assert report.error is None and report.records == 0
    assert connector.requests_made - before == 1


def test_a_calendar_that_suddenly_lists_empty_is_an_error_not_a_mass_removal(server):
    user, url, connector, store, engine = setup(server)
    server.put(url, user, "a.ics", meeting_with("a", "alice@example.com",
                                                  NOW + timedelta(days=1)))
    engine.sync("cal", connector)
    server.delete(url, user, "a.ics")
    report = engine.sync("cal", connector)
    assert report.error_kind == "empty"
    assert "syncd sync cal --full" in report.error
    alice = person(store, "alice@example.com")
    assert store.upcoming_for(alice.id, NOW), "nothing was removed"


def test_a_wrong_password_is_an_auth_error_that_names_the_fix(server):
    _user, _url, connector, _store, _engine = setup(server)
    with pytest.raises(AuthError, match="syncd auth cal"):
        connector.check_password("wrong")
    connector.check_password(server.password)
