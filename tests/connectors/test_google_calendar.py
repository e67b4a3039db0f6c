"""Rules for the Google Calendar source: the real client against the fake server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from google_helpers import google_server, options, quick  # noqa: F401 - the "google" fixture

from connectors.google.calendar import GoogleCalendarConnector
from syncd.engine import Engine
from syncd.errors import SourceError
from syncd.rules import Rules
from syncd.store import Store

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
ME = "me@gmail.com"


def calendar(running, tmp_path, **extra):
    fake = running.fake
    fake.calendars.setdefault(ME, {"id": ME, "summary": ME, "primary": True})
    return quick(GoogleCalendarConnector(
        "gcal", options(running, tmp_path / "state", "google_calendar", **extra), BERLIN,
        clock=lambda: NOW))


def event(identifier, start, *, attendees=("bob@example.org",), **extra):
    body = {"id": identifier, "iCalUID": f"{identifier}@google.com", "status": "confirmed",
            "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
            "organizer": {"email": ME, "self": True},
            "attendees": [{"email": ME, "self": True, "responseStatus": "accepted"},
                          *({"email": a, "responseStatus": "accepted"} for a in attendees)]}
    body.update(extra)
    return body


def pull_all(connector, cursor=None):
    pages = list(connector.pull(cursor, set()))
    return pages, [record for page in pages for record in page.records], pages[-1].cursor


def test_occurrences_become_meetings_with_the_identity_of_the_ical_sources(google, tmp_path):
    fake = google.fake
    start = NOW - timedelta(days=3)
    fake.add_event(ME, event("single", start))
    fake.add_event(ME, event("weekly_20260520T100000Z", NOW - timedelta(days=12),
                             recurringEventId="weekly", iCalUID="weekly@google.com",
                             originalStartTime={"dateTime": "2026-05-20T12:00:00+02:00"}))
    fake.add_event(ME, {**event("holiday", start), "start": {"date": "2026-05-25"},
                        "end": {"date": "2026-05-26"}})
    pages, records, _ = pull_all(calendar(google, tmp_path))
    by_id = {record.source_id: record for record in records}
    assert set(by_id) == {f"{ME}|single|", f"{ME}|weekly|20260520T100000Z", f"{ME}|holiday|"}
    single = by_id[f"{ME}|single|"]
    assert single.uid == "single@google.com" and single.start == start
    assert single.organizer.email == ME
    assert [(a.address.email, a.partstat) for a in single.attendees] == [
        (ME, "ACCEPTED"), ("bob@example.org", "ACCEPTED")]
    holiday = by_id[f"{ME}|holiday|"]
    assert holiday.all_day and holiday.start == datetime(2026, 5, 25, 10, 0, tzinfo=UTC)
    assert holiday.end == holiday.start
    assert ME in pages[-2].my_addresses


def test_declined_resources_and_non_meeting_event_types_follow_the_meeting_rules(
        google, tmp_path):
    fake = google.fake
    start = NOW - timedelta(days=1)
    fake.add_event(ME, {**event("declined", start), "attendees": [
        {"email": ME, "self": True, "responseStatus": "declined"},
        {"email": "ann@example.org", "responseStatus": "accepted"}]})
    fake.add_event(ME, {**event("room", start), "attendees": [
        {"email": ME, "self": True, "responseStatus": "accepted"},
        {"email": "room1@resource.calendar.google.com", "resource": True},
        {"email": "cat@example.org", "responseStatus": "tentative"}]})
    for kind in ("focusTime", "outOfOffice", "workingLocation"):
        fake.add_event(ME, event(kind, start, eventType=kind))
    store = Store.in_memory()
    store.set_configured_addresses([ME])
    report = Engine(store, Rules(), lambda: NOW).sync("gcal", calendar(google, tmp_path))
    assert report.error is None
    assert report.records == 2
    assert report.rules == {"i_declined": 1, "meeting": 1}
    [cat] = [row for row in store.counted_people()]
    assert cat.addresses == ("cat@example.org",)


def test_sync_tokens_bring_changes_and_cancellations_remove_upcoming_rows(google, tmp_path):
    fake = google.fake
    fake.add_event(ME, event("past", NOW - timedelta(days=2)))
    fake.add_event(ME, event("soon", NOW + timedelta(days=2)))
    connector = calendar(google, tmp_path)
    _, records, cursor = pull_all(connector)
    assert len(records) == 2
    assert json.loads(cursor)["cals"][ME]["token"]
    fake.add_event(ME, event("new", NOW - timedelta(hours=5)))
    fake.delete_event(ME, "soon")
    pages, records, cursor = pull_all(connector, cursor)
    assert [record.source_id for record in records] == [f"{ME}|new|"]
    assert f"{ME}|soon|" in [removal for page in pages for removal in page.removals]
    _, records, _ = pull_all(connector, cursor)
    assert records == []


def test_empty_pages_with_a_next_page_token_and_a_sync_token_only_on_the_last_page(
        google, tmp_path):
    fake = google.fake
    fake.empty_pages = 3
    fake.add_event(ME, event("one", NOW - timedelta(days=1)))
    pages, records, cursor = pull_all(calendar(google, tmp_path))
    assert [record.source_id for record in records] == [f"{ME}|one|"]
    assert all(page.cursor is None for page in pages[:-1])
    assert fake.calls["events.list"] == 4
    assert json.loads(cursor)["cals"][ME]["token"]


def test_a_410_drops_that_calendars_upcoming_rows_and_lists_it_again(google, tmp_path):
    fake = google.fake
    fake.add_event(ME, event("past", NOW - timedelta(days=2)))
    fake.add_event(ME, event("soon", NOW + timedelta(days=2)))
    connector = calendar(google, tmp_path)
    store = Store.in_memory()
    store.set_configured_addresses([ME])
    engine = Engine(store, Rules(), lambda: NOW)
    engine.sync("gcal", connector)
    fake.expire_sync_tokens()
    pages = list(connector.pull(store.cursor("gcal"), set()))
    assert pages[0].removals == (f"{ME}|",)
    assert sorted(record.source_id for page in pages for record in page.records) == [
        f"{ME}|past|", f"{ME}|soon|"]
    report = engine.sync("gcal", connector)
    assert report.error is None
    [bob] = store.counted_people()
    assert bob.interactions == 1  # the past meeting, once


def test_calendars_are_chosen_by_id_name_or_glob(google, tmp_path):
    fake = google.fake
    fake.calendars.update({
        "team@group.calendar.google.com": {"id": "team@group.calendar.google.com",
                                           "summary": "Team Berlin"},
        "other@group.calendar.google.com": {"id": "other@group.calendar.google.com",
                                            "summary": "Holidays"}})
    fake.add_event("team@group.calendar.google.com", event("t", NOW - timedelta(days=1)))
    connector = calendar(google, tmp_path, calendars=["primary", "team *"])
    assert set(connector.calendars()) == {ME, "team@group.calendar.google.com"}
    _, records, _ = pull_all(connector)
    assert [record.source_id for record in records] == ["team@group.calendar.google.com|t|"]
    nothing = calendar(google, tmp_path, calendars=["Work"])
    with pytest.raises(SourceError, match=r"no calendar .* matches .*Holidays"):
        nothing.calendars()


def test_errors_mid_pagination_are_retried(google, tmp_path):
    fake = google.fake
    fake.empty_pages = 1
    fake.add_event(ME, event("one", NOW - timedelta(days=1)))
    fake.inject("events.list", 503, 429)
    _, records, _ = pull_all(calendar(google, tmp_path))
    assert len(records) == 1


def test_a_meeting_beyond_the_lookahead_is_read_once_the_window_reaches_it(google, tmp_path):
    fake = google.fake
    fake.add_event(ME, event("later", NOW + timedelta(days=40)))
    connector = calendar(google, tmp_path)
    _, records, cursor = pull_all(connector)
    assert records == []
    _, records, cursor = pull_all(connector, cursor)  # nothing changed, window unchanged
    assert records == []
    connector.clock = lambda: NOW + timedelta(days=15)
    _, records, cursor = pull_all(connector, cursor)
    assert [record.source_id for record in records] == [f"{ME}|later|"]
    assert json.loads(cursor)["cals"][ME]["revisit"] is None
