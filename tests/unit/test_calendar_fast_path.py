"""The fast reader and expander give exactly what icalendar + recurring-ical-events give.

connectors.calendars._calendar reads plain events and series itself (for speed, issue 3) and hands
everything else to the libraries; these tests compare both paths on calendars made to hit the
edges of the fast path (time zones, DST, UNTIL forms, EXDATE forms, all-day, floating, window
edges, caps) and on the whole ics corpus.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import CORPUS

import connectors.calendars._calendar as cal
from connectors.calendars._calendar import CalendarUnreadable, occurrences

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
WINDOW = (NOW - timedelta(days=3 * 365), NOW + timedelta(days=30))
PEOPLE = ("ORGANIZER;CN=Me:mailto:me@example.org\r\n"
          'ATTENDEE;CN="Smith, Bob";PARTSTAT=ACCEPTED:mailto:Bob@Example.com\r\n'
          "ATTENDEE;CUTYPE=ROOM;PARTSTAT=ACCEPTED:mailto:room@example.com\r\n"
          "ATTENDEE;PARTSTAT=DECLINED:mailto:carol@example.com\r\n")
EVENTS = {
    "utc weekly": "DTSTART:20240105T090000Z\r\nDTEND:20240105T100000Z\r\nRRULE:FREQ=WEEKLY",
    "berlin across DST": "DTSTART;TZID=Europe/Berlin:20240105T090000\r\n"
                         "DTEND;TZID=Europe/Berlin:20240105T093000\r\nRRULE:FREQ=WEEKLY",
    "windows zone": "DTSTART;TZID=W. Europe Standard Time:20240105T090000\r\n"
                    "DTEND;TZID=W. Europe Standard Time:20240105T100000\r\n"
                    "RRULE:FREQ=MONTHLY;BYMONTHDAY=31",
    "floating daily count": "DTSTART:20260501T080000\r\nDTEND:20260501T083000\r\n"
                            "RRULE:FREQ=DAILY;COUNT=40",
    "all-day yearly": "DTSTART;VALUE=DATE:20230301\r\nDTEND;VALUE=DATE:20230302\r\n"
                      "RRULE:FREQ=YEARLY",
    "all-day without end": "DTSTART;VALUE=DATE:20260520\r\nRRULE:FREQ=DAILY;COUNT=20\r\n"
                           "EXDATE;VALUE=DATE:20260522,20260523",
    "no end": "DTSTART:20260520T120000Z\r\nRRULE:FREQ=DAILY;COUNT=30",
    "end before start": "DTSTART:20260520T120000Z\r\nDTEND:20260520T110000Z\r\n"
                        "RRULE:FREQ=WEEKLY;COUNT=5",
    "until utc, zoned start": "DTSTART;TZID=America/New_York:20250101T170000\r\n"
                              "DTEND;TZID=America/New_York:20250101T180000\r\n"
                              "RRULE:FREQ=WEEKLY;UNTIL=20250301T220000Z;BYDAY=WE,FR",
    "until date, all-day": "DTSTART;VALUE=DATE:20260101\r\nRRULE:FREQ=WEEKLY;UNTIL=20260301",
    "dtstart off the rule": "DTSTART:20260106T090000Z\r\nDTEND:20260106T100000Z\r\n"
                            "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6",
    "exdates of all kinds": "DTSTART;TZID=Europe/Berlin:20260105T090000\r\n"
                            "DTEND;TZID=Europe/Berlin:20260105T100000\r\nRRULE:FREQ=DAILY\r\n"
                            "EXDATE:20260106T080000Z\r\n"
                            "EXDATE;TZID=Europe/Berlin:20260107T090000,20260108T090000\r\n"
                            "EXDATE;VALUE=DATE:20260110\r\nEXDATE:20260111T090000",
    "overlaps window start": "DTSTART:20230601T000000Z\r\nDTEND:20230605T000000Z\r\n"
                             "RRULE:FREQ=WEEKLY;INTERVAL=3",
    "beyond the window": "DTSTART:20280101T090000Z\r\nRRULE:FREQ=WEEKLY",
    "every hour": "DTSTART:20260101T090000Z\r\nRRULE:FREQ=DAILY;BYHOUR=9,10",
    "single zoned": "DTSTART;TZID=Europe/Berlin:20260105T090000\r\n"
                    "DTEND;TZID=Europe/Berlin:20260105T100000\r\nSTATUS:CANCELLED",
    "single all-day": "DTSTART;VALUE=DATE:20260105\r\nDTEND;VALUE=DATE:20260108",
    "single floating, no end": "DTSTART:20260105T090000\r\nSTATUS:TENTATIVE",
    "single date with tzid": "DTSTART;TZID=Europe/Berlin:20260105",
    "single upcoming": "DTSTART:20260615T090000Z\r\nDTEND:20260615T100000Z",
    "single far ahead": "DTSTART:20270615T090000Z",
    "broken date": "DTSTART:2026-01-05\r\nRRULE:FREQ=WEEKLY",
    "moved occurrence": "DTSTART:20260105T090000Z\r\nRRULE:FREQ=WEEKLY;COUNT=3",
}
OVERRIDE = ("BEGIN:VEVENT\r\nUID:moved occurrence\r\nRECURRENCE-ID:20260112T090000Z\r\n"
            "DTSTART:20260113T090000Z\r\nEND:VEVENT\r\n")


def calendar_of(events: dict[str, str]) -> str:
    body = "".join(f"BEGIN:VEVENT\r\nUID:{uid}\r\n{text}\r\n{PEOPLE}END:VEVENT\r\n"
                   for uid, text in events.items())
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:test\r\n{body}{OVERRIDE}END:VCALENDAR\r\n"


def both(data: bytes | str, zone: ZoneInfo = BERLIN,
         window: tuple[datetime, datetime] = WINDOW) -> tuple[object, object]:
    def outcome(function):  # type: ignore[no-untyped-def]
        try:
            parsed = function(data, "c", zone, *window)
        except CalendarUnreadable as error:
            return str(error)
        return (sorted(map(repr, parsed.meetings)), sorted(map(repr, parsed.skipped)),
                parsed.uids, parsed.revisit_at)

    return outcome(occurrences), outcome(cal._library_occurrences)


@pytest.mark.parametrize("uid", sorted(EVENTS))
def test_each_kind_of_event_gives_what_the_libraries_give(uid):
    fast, reference = both(calendar_of({uid: EVENTS[uid]}))
    assert fast == reference


@pytest.mark.parametrize("zone", [BERLIN, ZoneInfo("America/Los_Angeles"), ZoneInfo("UTC")])
def test_a_calendar_of_all_of_them_gives_what_the_libraries_give(zone):
    fast, reference = both(calendar_of(EVENTS), zone)
    assert fast == reference
    assert fast[0], "the comparison compared meetings"


def test_the_per_event_cap_is_the_same_on_both_paths(monkeypatch):
    monkeypatch.setattr(cal, "MAX_PER_EVENT", 7)
    fast, reference = both(calendar_of({"utc weekly": EVENTS["utc weekly"]}))
    assert fast == reference
    assert any("more than 7 occurrences" in skip for skip in fast[1])


def test_the_plain_series_do_not_go_through_the_libraries(monkeypatch):
    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the library path was used")

    monkeypatch.setattr(cal, "_expand_calendar", refuse)
    plain = {uid: EVENTS[uid] for uid in ("utc weekly", "berlin across DST", "single all-day")}
    data = calendar_of(plain).replace(OVERRIDE, "")
    assert len(occurrences(data, "c", BERLIN, *WINDOW).meetings) > 100


@pytest.mark.corpus
def test_every_corpus_calendar_gives_what_the_libraries_give():
    root = CORPUS / "ics"
    if not root.is_dir():
        pytest.skip(f"no corpus at {root}")
    files = [p for p in sorted(root.rglob("*")) if p.is_file() and "_upstream" not in p.parts]
    # A VALARM (or other part of a VEVENT syncd does not read) with a broken property makes
    # icalendar refuse the whole file; the fast reader does not look there and reads the events.
    lenient = {"non_dst_error.ics"}
    for file in files:
        if file.name in lenient:
            continue
        fast, reference = both(file.read_bytes())
        assert fast == reference, file
