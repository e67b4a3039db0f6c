"""The .ics source and the occurrence expansion: files, subscriptions, time policy, corpus."""

from __future__ import annotations

import http.server
import threading
import typing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from calendar_helpers import calendar, vevent
from conftest import CORPUS

from connectors.calendars._calendar import CalendarUnreadable, occurrences
from connectors.calendars.ics import IcsConnector
from syncd.engine import Engine
from syncd.rules import Rules
from syncd.store import Store

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
ME = "me@example.org"
WINDOW = (NOW - timedelta(days=365), NOW + timedelta(days=30))


def setup(options):
    connector = IcsConnector("feed", options, BERLIN, clock=lambda: NOW)
    store = Store.in_memory()
    store.set_configured_addresses([ME])
    return connector, store, Engine(store, Rules(), lambda: NOW)


def person(store, address):
    return store.person(store.find_people(address)[0])


def with_bob(uid, start, **extra):
    return vevent(uid, start, organizer=ME, attendees=(ME, "bob@example.com"), **extra)


# --- time policy -----------------------------------------------------------------------------


def test_a_floating_time_is_read_in_the_configured_timezone():
    data = calendar("BEGIN:VEVENT\r\nUID:f\r\nDTSTART:20260105T100000\r\nEND:VEVENT")
    [found] = occurrences(data, "c", BERLIN, *WINDOW).meetings
    assert found.start == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_an_all_day_event_counts_at_noon_local_time_of_its_day():
    data = calendar("BEGIN:VEVENT\r\nUID:d\r\nDTSTART;VALUE=DATE:20260105\r\n"
                    "DTEND;VALUE=DATE:20260106\r\nEND:VEVENT")
    [found] = occurrences(data, "c", BERLIN, *WINDOW).meetings
    assert found.all_day and found.start == datetime(2026, 1, 5, 11, 0, tzinfo=UTC)


def test_a_windows_timezone_name_from_outlook_is_resolved():
    data = calendar("BEGIN:VEVENT\r\nUID:w\r\n"
                    "DTSTART;TZID=W. Europe Standard Time:20260105T100000\r\nEND:VEVENT")
    [found] = occurrences(data, "c", ZoneInfo("UTC"), *WINDOW).meetings
    assert found.start == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_exdate_rdate_and_a_moved_override_shape_the_series():
    first = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    series = vevent("s", first, rrule="FREQ=WEEKLY;COUNT=4", exdate=first + timedelta(days=7),
                    extra=f"RDATE:{(first + timedelta(days=2)).strftime('%Y%m%dT%H%M%SZ')}")
    moved = vevent("s", first + timedelta(days=15), recurrence_id=first + timedelta(days=14))
    found = occurrences(calendar(series, moved), "c", BERLIN, *WINDOW).meetings
    assert sorted(m.start for m in found) == [first, first + timedelta(days=2),
                                              first + timedelta(days=15),
                                              first + timedelta(days=21)]
    ids = {m.source_id for m in found}
    assert "c|s|20260119T090000Z" in ids, "a moved occurrence keeps its RECURRENCE-ID"


def test_a_series_repeating_every_minute_is_skipped_with_a_reason_and_the_rest_is_read():
    data = calendar(vevent("m", NOW - timedelta(days=3), rrule="FREQ=MINUTELY"),
                    vevent("ok", NOW - timedelta(days=2)))
    parsed = occurrences(data, "c", BERLIN, *WINDOW)
    assert [m.uid for m in parsed.meetings] == ["ok"]
    assert "more often than daily" in parsed.skipped[0].reason


def test_text_that_is_not_icalendar_is_refused_with_a_reason():
    with pytest.raises(CalendarUnreadable, match="not an iCalendar file"):
        occurrences(b"hello", "c", BERLIN, *WINDOW)


# --- files -------------------------------------------------------------------------------------


def test_a_directory_of_files_counts_and_an_unparseable_file_is_skipped_with_its_reason(tmp_path):
    (tmp_path / "good.ics").write_text(calendar(with_bob("a", NOW - timedelta(days=2))))
    (tmp_path / "broken.ics").write_text("BEGIN:VCALENDAR\nthis is not a calendar\n")
    connector, store, engine = setup({"path": str(tmp_path)})
    report = engine.sync("feed", connector)
    assert report.error is None and report.counted == 1
    [row] = store.sources()
    [reason] = row.skipped
    assert reason.startswith("broken.ics: ")


def test_an_unchanged_file_is_not_read_again_and_a_changed_one_replaces_its_upcoming(tmp_path):
    file = tmp_path / "cal.ics"
    file.write_text(calendar(with_bob("a", NOW + timedelta(days=2))))
    connector, store, engine = setup({"path": str(file)})
    engine.sync("feed", connector)
    assert engine.sync("feed", connector).records == 0
    file.write_text(calendar(with_bob("a", NOW + timedelta(days=5))))
    assert engine.sync("feed", connector).records == 1
    bob = person(store, "bob@example.com")
    assert [start for start, _ in store.upcoming_for(bob.id, NOW)] == [NOW + timedelta(days=5)]


def test_an_upcoming_meeting_becomes_contact_once_it_starts_without_a_resync(tmp_path):
    (tmp_path / "cal.ics").write_text(calendar(with_bob("a", NOW + timedelta(hours=2))))
    connector, store, engine = setup({"path": str(tmp_path)})
    engine.sync("feed", connector)
    bob = person(store, "bob@example.com")
    assert bob.last_meeting is None
    assert store.promote_started_meetings(NOW + timedelta(hours=3)) == 1
    assert person(store, "bob@example.com").last_meeting == NOW + timedelta(hours=2)
    assert store.promote_started_meetings(NOW + timedelta(hours=4)) == 0, "idempotent"


def test_the_same_meeting_in_two_calendars_counts_once(tmp_path):
    (tmp_path / "work.ics").write_text(calendar(with_bob("shared", NOW + timedelta(hours=1))))
    (tmp_path / "home.ics").write_text(calendar(with_bob("shared", NOW + timedelta(hours=1))))
    connector, store, engine = setup({"path": str(tmp_path)})
    engine.sync("feed", connector)
    bob = person(store, "bob@example.com")
    assert len(store.upcoming_for(bob.id, NOW)) == 1
    store.promote_started_meetings(NOW + timedelta(hours=2))
    assert person(store, "bob@example.com").interactions == 1


def test_a_removed_file_drops_upcoming_meetings_but_past_ones_stay_proof(tmp_path):
    (tmp_path / "a.ics").write_text(calendar(with_bob("past", NOW - timedelta(days=3))))
    (tmp_path / "b.ics").write_text(calendar(vevent("soon", NOW + timedelta(days=3),
                                                    organizer=ME,
                                                    attendees=("carol@example.com",))))
    connector, store, engine = setup({"path": str(tmp_path)})
    engine.sync("feed", connector)
    (tmp_path / "a.ics").unlink()
    (tmp_path / "b.ics").unlink()
    (tmp_path / "c.ics").write_text(calendar(vevent("x", NOW - timedelta(days=40))))
    assert engine.sync("feed", connector).error is None
    assert person(store, "bob@example.com").last_meeting == NOW - timedelta(days=3)
    assert store.upcoming_for(person(store, "carol@example.com").id, NOW) == []


def test_a_source_whose_files_all_vanish_is_an_error_not_a_deletion(tmp_path):
    (tmp_path / "a.ics").write_text(calendar(with_bob("a", NOW + timedelta(days=3))))
    connector, store, engine = setup({"path": str(tmp_path / "*.ics")})
    engine.sync("feed", connector)
    (tmp_path / "a.ics").unlink()
    report = engine.sync("feed", connector)
    assert report.error_kind == "empty" and "--full" in report.error
    assert store.upcoming_for(person(store, "bob@example.com").id, NOW)


def test_a_path_that_does_not_exist_says_how_to_fix_it(tmp_path):
    connector, _store, engine = setup({"path": str(tmp_path / "nope.ics")})
    report = engine.sync("feed", connector)
    assert "fix [sources.feed].path" in report.error


# --- URL subscription ---------------------------------------------------------------------------


class _Feed(http.server.BaseHTTPRequestHandler):
    body = b""
    requests: typing.ClassVar[list[dict[str, str]]] = []

    def do_GET(self):
        type(self).requests.append(dict(self.headers))
        if self.headers.get("If-None-Match") == '"v1"' and self.body.startswith(b"BEGIN"):
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", '"v1"')
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


def test_a_subscription_is_fetched_with_its_etag_and_a_304_reads_nothing():
    _Feed.body = calendar(with_bob("a", NOW - timedelta(days=1))).encode()
    server = http.server.HTTPServer(("127.0.0.1", 0), _Feed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/basic.ics"
        connector, _store, engine = setup({"url": url})
        assert engine.sync("feed", connector).counted == 1
        again = engine.sync("feed", connector)
        assert again.error is None and again.records == 0
        assert _Feed.requests[-1].get("If-None-Match") == '"v1"'
    finally:
        server.shutdown()


# --- corpus --------------------------------------------------------------------------------------


@pytest.mark.corpus
def test_every_corpus_calendar_is_read_without_an_exception_escaping():
    root = CORPUS / "ics"
    if not root.is_dir():
        pytest.skip(f"no corpus at {root}")
    files = [p for p in sorted(root.rglob("*")) if p.is_file() and "_upstream" not in p.parts]
    unreadable: list[Path] = []
    meetings = 0
    for file in files:
        try:
            meetings += len(occurrences(file.read_bytes(), str(file), BERLIN, NOW -
                                        timedelta(days=3 * 365), NOW + timedelta(days=30))
                            .meetings)
        except CalendarUnreadable:
            unreadable.append(file)
    assert len(files) > 500
    assert meetings > 1000
    # the deliberately invalid files are reported, not fatal; most files are real calendars
    assert 0 < len(unreadable) < len(files) // 5
