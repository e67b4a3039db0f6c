"""iCalendar data -> :class:`syncd.model.Meeting` occurrences, shared by the calendar connectors.

What one VEVENT becomes (RFC 5545):

- **Reading**: plain data goes through a fast path (``connectors.calendars._ical_reader`` reads
  only the properties below; plain series - one VEVENT with one RRULE and maybe EXDATEs - are
  expanded here with ``dateutil.rrule``, step for step as recurring-ical-events does). Anything else
  (overrides, RDATE, DURATION, X-WR-TIMEZONE, custom time zones, odd values or structure) goes,
  per UID or for the whole file, through icalendar and recurring-ical-events, the reference;
  tests/unit/test_calendar_fast_path.py checks that both give the same on the ics corpus. The
  one intended difference: a broken property inside a VEVENT's VALARM no longer makes the
  whole file unreadable.
- **Occurrences**: a recurring series (RRULE, RDATE, minus EXDATE) is expanded
  within a window ``[now - history, now + lookahead]``; an override
  (a VEVENT with the same UID and a RECURRENCE-ID, §3.8.4.4) replaces the occurrence it names,
  wherever it moved; an override with ``STATUS:CANCELLED`` becomes a cancelled occurrence (the
  rules then do not count it, and an upcoming row for it is dropped).
- **Identity**: an occurrence's source id is ``<calendar>|<UID>|<RECURRENCE-ID>``; the
  RECURRENCE-ID part is the original start of the occurrence in UTC (``20260105T090000Z``, or
  ``20260105`` for an all-day series) and empty for an event that does not recur, so moving a
  single event keeps its identity. ``|`` and ``%`` in a UID are percent-escaped, so the prefix
  ``<calendar>|<UID>|`` names exactly one event with all its occurrences and ``<calendar>|`` names
  a whole calendar (see :func:`event_prefix`; removals use these prefixes).
- **Time policy**: every instant is stored in UTC. A *floating* time (no TZID, no ``Z``,
  §3.3.5 form #1) is read in the configured ``[general].timezone``. An *all-day* event
  (``VALUE=DATE``) counts at **12:00 local time (the configured timezone) of its first day**:
  midday is inside the day in every zone a user is likely to travel to, so the date shown back
  to the user is the date in the calendar. Its end is 12:00 of its last day.
- **Windows time zones**: Outlook and Exchange write TZIDs such as ``W. Europe Standard Time``,
  often without a VTIMEZONE; icalendar resolves them to IANA zones through the CLDR mapping
  (icalendar#242). A TZID that resolves to nothing is read as floating (the configured zone).

Library types (icalendar components, recurring-ical-events queries) never leave this module.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from syncd.addresses import normalize_address
from syncd.errors import CursorExpired
from syncd.model import Address, Attendee, Meeting, Skip

log = logging.getLogger(__name__)

#: How much further than the window end a recurring series is expanded before it is read again.
REVISIT_STEP = timedelta(days=1)
#: Series repeating more often than daily are not meetings (RFC 5545 §3.3.10 FREQ); an
#: unbounded FREQ=MINUTELY would otherwise yield 1.6 million occurrences over three years.
_SUB_DAILY = frozenset({"SECONDLY", "MINUTELY", "HOURLY"})
#: Bounds on the work one iCalendar object can cause: occurrences per event, and in all.
MAX_PER_EVENT = 2000
MAX_OCCURRENCES = 250_000
_STATUSES = frozenset({"confirmed", "tentative", "cancelled"})


class CalendarUnreadable(ValueError):
    """The data is not an iCalendar object at all; ``str()`` is the one-line reason."""


@dataclass(slots=True)
class ParsedCalendar:
    """What one iCalendar object (a file, a CalDAV resource) yields within a window.

    ``meetings`` are the occurrences; ``skipped`` are events that could not be read (the rest
    still count); ``uids`` are every UID seen; ``revisit_at`` is the moment from which the
    window end has moved far enough to reveal occurrences not yet yielded (a series that goes on,
    an event beyond the window), or None when the data holds nothing beyond the window.
    """

    meetings: list[Meeting] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    uids: list[str] = field(default_factory=list)
    revisit_at: datetime | None = None


def load_state(cursor: str | None, version: int, what: str) -> dict[str, Any]:
    """Return the JSON state a calendar connector keeps in its cursor (``{}`` without one).

    Raise :class:`~syncd.errors.CursorExpired` (the engine then runs a full pass) when the
    state is unreadable or was written by another ``version`` of the connector.
    """
    if cursor is None:
        return {}
    try:
        state = json.loads(cursor)
    except ValueError:
        raise CursorExpired(f"the saved state of {what} is unreadable") from None
    if not isinstance(state, dict) or state.get("v") != version:
        raise CursorExpired(f"the saved state of {what} is from another version")
    return state


def escape_uid(uid: str) -> str:
    """Return ``uid`` with ``%`` and ``|`` percent-escaped, so it is safe in a source id."""
    return uid.replace("%", "%25").replace("|", "%7C")


def event_prefix(calendar: str, uid: str) -> str:
    """Return the source-id prefix shared by every occurrence of ``uid`` in ``calendar``."""
    return f"{calendar}|{escape_uid(uid)}|"


UTC_ZONE = ZoneInfo("UTC")


def calendar_prefix(calendar: str) -> str:
    """Return the source-id prefix shared by every occurrence in ``calendar``."""
    return f"{calendar}|"


def window(now: datetime, history: timedelta, lookahead: timedelta) -> tuple[datetime, datetime]:
    """Return the expansion window ``(now - history, now + lookahead)``."""
    return now - history, now + lookahead


def _instant(value: date | datetime, timezone: ZoneInfo) -> datetime:
    """Return an aware UTC instant; floating -> ``timezone``; a date -> 12:00 local that day."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            value = value.replace(tzinfo=timezone)
        return value.astimezone(UTC)
    return datetime.combine(value, time(12, 0), tzinfo=timezone).astimezone(UTC)


def _recurrence_text(value: date | datetime, timezone: ZoneInfo) -> str:
    if isinstance(value, datetime):
        return _instant(value, timezone).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")


def _address(value: Any) -> Address | None:
    """Return the address of a CAL-ADDRESS (``mailto:bob@example.org``), None if it is none."""
    text = str(value).strip()
    if text[:7].lower() == "mailto:":
        text = text[7:]
    email = normalize_address(text)
    if email is None:
        return None
    params = getattr(value, "params", {})
    name = str(params.get("CN", "")).strip().strip('"')
    return Address(email, name, text.strip())


def _attendees(component: Any) -> tuple[Attendee, ...]:
    raw = component.get("ATTENDEE")
    if raw is None:
        return ()
    values = raw if isinstance(raw, list) else [raw]
    result = []
    for value in values:
        address = _address(value)
        if address is None:
            continue
        params = getattr(value, "params", {})
        result.append(Attendee(address, str(params.get("PARTSTAT", "NEEDS-ACTION")).upper(),
                               str(params.get("CUTYPE", "INDIVIDUAL")).upper()))
    return tuple(result)


def _date_value(component: Any, name: str) -> date | datetime | None:
    prop = component.get(name)
    if prop is None:
        return None
    value = getattr(prop, "dt", None)
    return value if isinstance(value, date) else None


def _meeting(component: Any, calendar: str, recurring: bool, timezone: ZoneInfo) -> Meeting:
    """Turn one occurrence (a VEVENT as recurring-ical-events yields it) into a Meeting."""
    uid = str(component.get("UID", ""))
    start_value = _date_value(component, "DTSTART")
    if start_value is None:
        raise ValueError("no DTSTART")
    all_day = not isinstance(start_value, datetime)
    start = _instant(start_value, timezone)
    end_value = _date_value(component, "DTEND")
    end = None
    if end_value is not None:
        end = _instant(end_value, timezone)
        if all_day:
            # DTEND of an all-day event is exclusive (RFC 5545 §3.6.1): end at noon of the last day.
            end = max(start, end - timedelta(days=1))
    recurrence = ""
    if recurring:
        recurrence_value = _date_value(component, "RECURRENCE-ID") or start_value
        recurrence = _recurrence_text(recurrence_value, timezone)
    status = str(component.get("STATUS", "CONFIRMED")).strip().lower()
    organizer = component.get("ORGANIZER")
    return Meeting(
        source_id=f"{calendar}|{escape_uid(uid)}|{recurrence}",
        uid=uid,
        start=start,
        end=end,
        all_day=all_day,
        status=status if status in _STATUSES else "confirmed",
        organizer=_address(organizer) if organizer is not None else None,
        attendees=_attendees(component),
    )


def _parse(data: bytes | str) -> list[Any]:
    import icalendar

    try:
        calendars = icalendar.Calendar.from_ical(data, multiple=True)
    except Exception as error:  # icalendar raises ValueError, KeyError, IndexError ... on junk
        raise CalendarUnreadable(f"not an iCalendar file ({type(error).__name__}: "
                                 f"{str(error)[:120]})") from None
    if not calendars:
        raise CalendarUnreadable("not an iCalendar file (no VCALENDAR in it)")
    return list(calendars)


def occurrences(data: bytes | str, calendar: str, timezone: ZoneInfo, start: datetime,
                end: datetime) -> ParsedCalendar:
    """Return every VEVENT occurrence of ``data`` that starts within ``[start, end)``.

    ``calendar`` is the first part of every source id (a file path, a calendar href).
    Events that cannot be read become skips naming their UID; raise :class:`CalendarUnreadable`
    only when ``data`` is not iCalendar at all.
    """
    from connectors.calendars import _ical_reader

    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
        raw_calendars = _ical_reader.read(text)
        result = ParsedCalendar()
        addresses = _Addresses()
        for raw in raw_calendars:
            _fast_calendar(raw, calendar, timezone, start, end, result, addresses)
        return result
    except (UnicodeDecodeError, _ical_reader.NotSimple) as surprise:
        log.debug("%s: read with icalendar (%s)", calendar, surprise)
    return _library_occurrences(data, calendar, timezone, start, end)


def _library_occurrences(data: bytes | str, calendar: str, timezone: ZoneInfo,
                         start: datetime, end: datetime) -> ParsedCalendar:
    """:func:`occurrences` through icalendar and recurring-ical-events only (the reference)."""
    result = ParsedCalendar()
    for parsed in _parse(data):
        _expand_calendar(parsed, calendar, timezone, start, end, result)
    return result


def _expand_calendar(parsed: Any, calendar: str, timezone: ZoneInfo, start: datetime,
                     end: datetime, result: ParsedCalendar, record_uids: bool = True,
                     counted: int = 0) -> None:
    """Add the occurrences of one icalendar VCALENDAR to ``result``.

    ``counted`` occurrences were already expanded from this calendar by the fast path (they
    count toward :data:`MAX_OCCURRENCES`); ``record_uids`` is False when the caller records them.
    """
    groups: dict[str, list[Any]] = defaultdict(list)
    for component in parsed.walk("VEVENT"):
        groups[str(component.get("UID", ""))].append(component)
    if not groups:
        return
    recurring = {uid for uid, components in groups.items()
                 if any(c.get("RRULE") is not None or c.get("RDATE") is not None
                        or c.get("RECURRENCE-ID") is not None for c in components)}
    if record_uids:
        result.uids.extend(groups)
    dropped: set[str] = set()
    for uid, components in groups.items():
        try:
            if any(_frequency(c) in _SUB_DAILY for c in components):
                result.skipped.append(Skip(event_prefix(calendar, uid), f"event {uid[:60]!r} "
                                           "repeats more often than daily: not a meeting "
                                           "series"))
                dropped.add(uid)
                continue
            revisit = _revisit(components, uid in recurring, timezone, end)
        except Exception as error:  # a broken RRULE or DTSTART (icalendar parses lazily)
            result.skipped.append(Skip(event_prefix(calendar, uid), f"event {uid[:60]!r} "
                                       f"cannot be read ({type(error).__name__}: "
                                       f"{str(error)[:100]})"))
            dropped.add(uid)
            continue
        if revisit is not None and (result.revisit_at is None or revisit < result.revisit_at):
            result.revisit_at = revisit
    if dropped:
        for uid in dropped:
            del groups[uid]
    # Single events need no expansion: converting them here is ~5x faster than letting
    # recurring-ical-events walk them; only series go through the library.
    single = [component for uid, components in groups.items() if uid not in recurring
              for component in components]
    _convert(single, calendar, recurring, timezone, result, start, end)
    parsed.subcomponents = [c for c in parsed.subcomponents
                            if c.name != "VEVENT" or (str(c.get("UID", "")) in recurring
                                                      and str(c.get("UID", "")) not in dropped)]
    groups = {uid: components for uid, components in groups.items() if uid in recurring}
    if not groups:
        return
    try:
        found = _expand(parsed, start, end, calendar, result, counted)
    except Exception:
        # One bad series must not hide the others: expand each UID on its own.
        log.debug("%s: expanding the calendar failed; expanding event by event", calendar,
                  exc_info=True)
        _expand_by_uid(parsed, groups, calendar, recurring, timezone, start, end, result)
        return
    _convert(found, calendar, recurring, timezone, result, start, end)


def _frequency(component: Any) -> str:
    rule = component.get("RRULE")
    if rule is None:
        return ""
    return _frequency_of(rule if isinstance(rule, list) else [rule])


def _frequency_of(rules: Sequence[Any]) -> str:
    """Return the FREQ of the rules, HOURLY for a daily rule with several times a day."""
    frequencies = [str(f).upper() for r in rules for f in (r.get("FREQ") or [])]
    for recurrence in rules:
        # BYHOUR=9,10,11;BYMINUTE=0,20,40 on a DAILY rule is nine times a day (§3.3.10).
        per_day = 1
        for part in ("BYHOUR", "BYMINUTE", "BYSECOND"):
            per_day *= max(1, len(recurrence.get(part) or []))
        if per_day > 1:
            return "HOURLY"
    return next((f for f in frequencies if f in _SUB_DAILY), frequencies[0] if frequencies else "")


def _expand(parsed: Any, start: datetime, end: datetime, calendar: str,
            result: ParsedCalendar, counted: int = 0) -> list[Any]:
    """Return the occurrences starting in ``[start, end)``, in start order, within the bounds."""
    import recurring_ical_events

    query = recurring_ical_events.of(parsed, components=["VEVENT"])
    found = []
    per_event: dict[str, int] = defaultdict(int)
    capped: set[str] = set()
    # Floating and all-day occurrences are placed in the configured zone only later: read a day
    # past the end, _convert() drops what falls outside the window.
    margin = end + timedelta(days=1)
    # One between() pass: after() re-expands every series from its DTSTART for each growing
    # span it tries, which costs minutes on a series with a custom VTIMEZONE.
    for steps, component in enumerate(query.between(start, margin)):
        if steps + counted >= MAX_OCCURRENCES:
            capped_all = Skip(calendar_prefix(calendar), f"more than {MAX_OCCURRENCES} "
                              "occurrences in the window; the later ones were not read")
            if capped_all not in result.skipped:  # the fast path may have hit the cap already
                result.skipped.append(capped_all)
            break
        uid = str(component.get("UID", ""))
        per_event[uid] += 1
        if per_event[uid] > MAX_PER_EVENT:
            if uid not in capped:
                capped.add(uid)
                result.skipped.append(Skip(event_prefix(calendar, uid), f"event {uid[:60]!r} "
                                           f"has more than {MAX_PER_EVENT} occurrences in the "
                                           "window; the later ones were not read"))
            continue
        found.append(component)
    return found


def _expand_by_uid(parsed: Any, groups: dict[str, list[Any]], calendar: str,
                   recurring: set[str], timezone: ZoneInfo, start: datetime, end: datetime,
                   result: ParsedCalendar) -> None:
    import icalendar

    timezones = list(parsed.walk("VTIMEZONE"))
    for uid, components in groups.items():
        single = icalendar.Calendar()
        for component in (*timezones, *components):
            single.add_component(component)
        try:
            found = _expand(single, start, end, calendar, result)
        except Exception as error:
            result.skipped.append(Skip(event_prefix(calendar, uid),
                                       f"event {uid[:60]!r} has a broken recurrence "
                                       f"({type(error).__name__}: {str(error)[:100]})"))
            continue
        _convert(found, calendar, recurring, timezone, result, start, end)


def _convert(found: Iterable[Any], calendar: str, recurring: set[str], timezone: ZoneInfo,
             result: ParsedCalendar, start: datetime, end: datetime) -> None:
    for component in found:
        uid = str(component.get("UID", ""))
        try:
            meeting = _meeting(component, calendar, uid in recurring, timezone)
            if meeting.start < end and (meeting.end or meeting.start) >= start:
                result.meetings.append(meeting)
        except Exception as error:
            result.skipped.append(Skip(event_prefix(calendar, uid),
                                       f"event {uid[:60]!r} cannot be read "
                                       f"({type(error).__name__}: {str(error)[:100]})"))


def _revisit(components: Sequence[Any], recurring: bool, timezone: ZoneInfo,
             end: datetime) -> datetime | None:
    """Return when this event must be expanded again for the window to see all of it."""
    if recurring and any(c.get("RRULE") is not None or c.get("RDATE") is not None
                         for c in components):
        return end + REVISIT_STEP
    later = None
    for component in components:
        value = _date_value(component, "DTSTART")
        if value is None:
            continue
        try:
            moment = _instant(value, timezone)
        except (OverflowError, ValueError):
            continue
        if moment >= end and (later is None or moment < later):
            later = moment
    return later


# --- the fast path --------------------------------------------------------------------------
#
# icalendar + recurring-ical-events convert every property of every event and copy the whole
# component for each occurrence: 11 s for a 10,000-event calendar with 500 weekly series
# (issue 3 asks for <= 2 s). The fast path reads only the properties above with
# connectors.calendars._ical_reader, parses attendees once per VEVENT (and each distinct
# ATTENDEE line once per call), and expands plain series itself with dateutil.rrule, following the
# semantics of recurring-ical-events step by step (the equivalence tests compare both on the
# corpus). Everything else - RECURRENCE-ID overrides, RDATE, DURATION, several RRULEs or cores
# for one UID, X-WR-TIMEZONE calendars, custom (non-zoneinfo) time zones, any value the reader
# does not take literally, any error - goes, per UID, to the icalendar path above, so the odd
# cases keep exactly the behaviour they had.


class _Addresses:
    """CAL-ADDRESS lines -> Address / Attendee, each distinct line converted once per read."""

    def __init__(self) -> None:
        self._attendees: dict[str, Attendee | None] = {}
        self._organizers: dict[str, Address | None] = {}

    def _address(self, line: str) -> tuple[Address | None, dict[str, str]]:
        from connectors.calendars._ical_reader import params

        found, value = params(line)
        text = value.strip()
        if text[:7].lower() == "mailto:":
            text = text[7:]
        email = normalize_address(text)
        if email is None:
            return None, found
        return Address(email, found.get("CN", "").strip().strip('"'), text.strip()), found

    def attendee(self, line: str) -> Attendee | None:
        try:
            return self._attendees[line]
        except KeyError:
            address, found = self._address(line)
            attendee = None if address is None else Attendee(
                address, found.get("PARTSTAT", "NEEDS-ACTION").upper(),
                found.get("CUTYPE", "INDIVIDUAL").upper())
            self._attendees[line] = attendee
            return attendee

    def organizer(self, line: str) -> Address | None:
        try:
            return self._organizers[line]
        except KeyError:
            address = self._organizers[line] = self._address(line)[0]
            return address


@dataclass(slots=True)
class _Event:
    """What the fast path needs of one VEVENT, read once and shared by all its occurrences."""

    start: date | datetime
    end: date | datetime | None
    status: str
    organizer: Address | None
    attendees: tuple[Attendee, ...]
    exdates: list[date | datetime]


def _one(props: dict[str, list[str]], name: str) -> str | None:
    lines = props.get(name)
    if not lines:
        return None
    if len(lines) > 1:  # icalendar turns a repeated property into a list: not our business
        from connectors.calendars._ical_reader import NotSimple

        raise NotSimple(f"{name} given twice")
    return lines[0]


def _read_event(props: dict[str, list[str]], zones: Any, addresses: _Addresses) -> _Event:
    from connectors.calendars._ical_reader import NotSimple, params, when, when_list

    start_line = _one(props, "DTSTART")
    if start_line is None:
        raise NotSimple("no DTSTART")
    end_line = _one(props, "DTEND")
    status_line = _one(props, "STATUS")
    organizer_line = _one(props, "ORGANIZER")
    status = "confirmed"
    if status_line is not None:
        status = params(status_line)[1].strip().lower()
        status = status if status in _STATUSES else "confirmed"
    attendees = []
    for line in props.get("ATTENDEE", ()):
        attendee = addresses.attendee(line)
        if attendee is not None:
            attendees.append(attendee)
    return _Event(
        start=when(start_line, zones),
        end=None if end_line is None else when(end_line, zones),
        status=status,
        organizer=None if organizer_line is None else addresses.organizer(organizer_line),
        attendees=tuple(attendees),
        exdates=[value for line in props.get("EXDATE", ()) for value in when_list(line, zones)],
    )


def _fast_calendar(raw: Any, calendar: str, timezone: ZoneInfo, start: datetime, end: datetime,
                   result: ParsedCalendar, addresses: _Addresses) -> None:
    """Add the occurrences of one VCALENDAR read by the fast reader to ``result``."""
    import icalendar

    from connectors.calendars._ical_reader import NotSimple, ZoneLookup

    def library_text(lines: Iterable[str]) -> str:
        return "\r\n".join(["BEGIN:VCALENDAR", *raw.header, *raw.timezones, *lines,
                            "END:VCALENDAR", ""])

    def library_calendar(lines: Iterable[str]) -> Any:
        try:
            [parsed] = icalendar.Calendar.from_ical(library_text(lines), multiple=True)
        except Exception as error:  # what icalendar refuses, the reference path reports
            raise NotSimple(f"icalendar refuses part of it ({type(error).__name__})") from None
        return parsed

    if raw.timezones or raw.header or raw.others:
        # Parsing the VTIMEZONEs registers custom ones with icalendar's resolver, as the full
        # parse would; it also refuses a broken calendar-level property, or a broken VTODO, as
        # the full parse does.
        library_calendar(raw.others)
    zones = ZoneLookup()
    groups: dict[str, list[Any]] = defaultdict(list)
    for event in raw.events:
        uid_line = _one(event.props, "UID")
        uid = "" if uid_line is None else _uid(uid_line)
        groups[uid].append(event)
    result.uids.extend(groups)
    library: list[Any] = []
    counted = 0
    margin = end + timedelta(days=1)
    for uid, events in groups.items():
        recurring = any(name in e.props for e in events
                        for name in ("RRULE", "RDATE", "RECURRENCE-ID"))
        try:
            if recurring:
                if counted >= MAX_OCCURRENCES:
                    continue  # the library path stops at the cap too, with one skip for all
                found, revisit, skip, yielded = _fast_series(
                    uid, events, raw, zones, addresses, calendar, timezone, start, end, margin,
                    counted)
                counted += yielded
            else:
                found, revisit, skip = _fast_single(uid, events, zones, addresses, calendar,
                                                    timezone, start, end)
        except Exception as surprise:  # NotSimple, or a value icalendar may read differently
            log.debug("%s: event %r goes to icalendar (%s)", calendar, uid[:60], surprise)
            library.extend(events)
            continue
        result.meetings.extend(found)
        if skip is not None:
            result.skipped.append(skip)
        if revisit is not None and (result.revisit_at is None or revisit < result.revisit_at):
            result.revisit_at = revisit
    if library:
        library.sort(key=lambda event: event.position)
        parsed = library_calendar(line for event in library for line in raw.event_lines(event))
        _expand_calendar(parsed, calendar, timezone, start, end, result, record_uids=False,
                         counted=counted)


def _uid(line: str) -> str:
    from connectors.calendars._ical_reader import params

    return params(line)[1]


def _fast_single(uid: str, events: list[Any], zones: Any, addresses: _Addresses,
                 calendar: str, timezone: ZoneInfo, start: datetime,
                 end: datetime) -> tuple[list[Meeting], datetime | None, Skip | None]:
    """Meetings of the VEVENTs of a UID that does not recur (what _meeting() makes of them)."""
    found = []
    later = None
    for raw in events:
        event = _read_event(raw.props, zones, addresses)
        meeting = _occurrence(event, uid, calendar, event.start, event.end, "", timezone)
        if meeting.start < end and (meeting.end or meeting.start) >= start:
            found.append(meeting)
        try:
            moment = _instant(event.start, timezone)
        except (OverflowError, ValueError):
            continue
        if moment >= end and (later is None or moment < later):
            later = moment
    return found, later, None


def _occurrence(event: _Event, uid: str, calendar: str, start_value: date | datetime,
                end_value: date | datetime | None, recurrence: str,
                timezone: ZoneInfo) -> Meeting:
    all_day = not isinstance(start_value, datetime)
    start = _instant(start_value, timezone)
    end = None
    if end_value is not None:
        end = _instant(end_value, timezone)
        if all_day:
            # DTEND of an all-day event is exclusive (RFC 5545 §3.6.1): end at noon of the last day.
            end = max(start, end - timedelta(days=1))
    return Meeting(source_id=f"{calendar}|{escape_uid(uid)}|{recurrence}", uid=uid, start=start,
                   end=end, all_day=all_day, status=event.status, organizer=event.organizer,
                   attendees=event.attendees)


def _kind(value: date | datetime) -> str:
    if not isinstance(value, datetime):
        return "date"
    return "floating" if value.tzinfo is None else "zoned"


def _as_datetime(value: date | datetime, zone: Any) -> datetime:
    """recurring-ical-events' convert_to_datetime: a date is midnight; zone None drops zones."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        return value if zone is None else value.replace(tzinfo=zone)
    return value if zone is not None else value.replace(tzinfo=None)


def _comparable(first: date | datetime, second: date | datetime) -> tuple[Any, Any]:
    """recurring-ical-events' make_comparable for two values."""
    if not isinstance(first, datetime) and not isinstance(second, datetime):
        return first, second
    zone = next((v.tzinfo for v in (first, second)
                 if isinstance(v, datetime) and v.tzinfo is not None), None)
    return _as_datetime(first, zone), _as_datetime(second, zone)


def _recurrence_ids(value: date | datetime) -> tuple[datetime, ...]:
    """recurring-ical-events' to_recurrence_ids: how an occurrence is matched to an EXDATE."""
    if not isinstance(value, datetime):
        return (_as_datetime(value, None),)
    if value.tzinfo is None:
        return (value,)
    return value.astimezone(UTC).replace(tzinfo=None), value.replace(tzinfo=None)


def _fast_series(uid: str, events: list[Any], raw: Any, zones: Any, addresses: _Addresses,
                 calendar: str, timezone: ZoneInfo, start: datetime, end: datetime,
                 margin: datetime, counted: int
                 ) -> tuple[list[Meeting], datetime | None, Skip | None, int]:
    """Expand one plain series (one VEVENT, one RRULE, maybe EXDATEs) like the library does.

    The steps mirror recurring-ical-events 3.x (series/rrule.py): DTSTART is always an
    occurrence unless it lies past UNTIL (RFC 5545 §3.8.5.3); the rule is expanded in the
    wall-clock time of DTSTART's zone; an occurrence is dropped when its date or its
    RECURRENCE-ID (UTC, or local) matches an EXDATE (§3.8.5.1); an occurrence lasts as long as
    DTSTART..DTEND and is kept when it overlaps ``[start, end + 1 day)``.
    """
    from dateutil.rrule import rrulestr  # type: ignore[import-untyped]
    from icalendar.prop import vDDDTypes, vRecur

    from connectors.calendars._ical_reader import NotSimple, params

    [raw_event] = events if len(events) == 1 else [None]
    props = raw_event.props if raw_event is not None else {}
    if (raw_event is None or not uid or raw.x_wr_timezone or "RDATE" in props
            or "RECURRENCE-ID" in props or "DURATION" in props or len(props["RRULE"]) != 1):
        raise NotSimple("not a plain series")
    rule_text = params(props["RRULE"][0])[1]
    recur = vRecur.from_ical(rule_text)
    if _frequency_of([recur]) in _SUB_DAILY:
        return [], None, Skip(event_prefix(calendar, uid), f"event {uid[:60]!r} repeats more "
                              "often than daily: not a meeting series"), 0
    event = _read_event(props, zones, addresses)
    for value in (event.start, event.end, *event.exdates):
        if isinstance(value, datetime) and value.tzinfo is not None \
                and not isinstance(value.tzinfo, ZoneInfo):
            raise NotSimple("a time zone that is not a zoneinfo zone")
    first = event.start
    last = event.end
    if last is None:  # the library's default end: one day for a date, none for a date-time
        last = first if isinstance(first, datetime) else first + timedelta(days=1)
    if _kind(first) != _kind(last):
        raise NotSimple("DTSTART and DTEND of different kinds")
    if first > last:  # same kind, so comparable
        first, last = last, first
    duration = last - first
    dates = [first, last, *event.exdates]
    zone = next((v.tzinfo for v in dates if isinstance(v, datetime) and v.tzinfo is not None),
                None)
    dtstart = _as_datetime(first, zone)
    excluded_dates = {v for v in event.exdates if not isinstance(v, datetime)}
    excluded: set[datetime] = set()
    for value in event.exdates:
        excluded.update(_recurrence_ids(value))
        excluded.add(_as_datetime(value, zone))
    rule_string = recur.to_ical().decode()
    if "COUNT=-" in rule_string or rule_string.count(";UNTIL=") > 1:
        raise NotSimple("a rule the library rewrites")
    rule = rrulestr(rule_string, dtstart=dtstart, cache=True)  # ValueError: library's UNTIL fix
    until: Any = None
    if ";UNTIL=" in rule_string:
        until = vDDDTypes.from_ical(  # type: ignore[no-untyped-call]
            rule_string.split(";UNTIL=")[1].split(";")[0])
    low = _as_datetime(start - duration, zone)
    high = _as_datetime(margin, zone)
    candidates: list[datetime] = []
    if (until is None or not _greater(dtstart, until)) and low <= dtstart <= high:
        candidates.append(dtstart)
    for moment in rule.between(low, high, inc=True):
        if until is None or not _greater(moment, until):
            candidates.append(moment)
    as_dates = not isinstance(event.start, datetime) and not isinstance(event.end, datetime)
    span_zone = start.tzinfo
    found: list[Meeting] = []
    seen: set[datetime] = set()
    yielded = 0
    skip = None
    for moment in candidates:
        if moment in seen or moment.date() in excluded_dates \
                or not excluded.isdisjoint(_recurrence_ids(moment)):
            continue
        seen.add(moment)
        occurrence_start: date | datetime = moment
        occurrence_end: date | datetime = moment + duration
        if as_dates:
            occurrence_start = moment.date()
            occurrence_end = occurrence_end.date()  # type: ignore[union-attr]
        low_at = _as_datetime(occurrence_start, span_zone)
        high_at = _as_datetime(occurrence_end, span_zone)
        inside = (start <= low_at < margin if low_at == high_at
                  else low_at < margin and start < high_at)
        if not inside:
            continue
        if counted + yielded >= MAX_OCCURRENCES:
            return found, end + REVISIT_STEP, Skip(
                calendar_prefix(calendar), f"more than {MAX_OCCURRENCES} occurrences in the "
                "window; the later ones were not read"), yielded
        yielded += 1
        if yielded > MAX_PER_EVENT:
            skip = Skip(event_prefix(calendar, uid), f"event {uid[:60]!r} has more than "
                        f"{MAX_PER_EVENT} occurrences in the window; the later ones were "
                        "not read")
            break
        meeting = _occurrence(event, uid, calendar, occurrence_start, occurrence_end,
                              _recurrence_text(occurrence_start, timezone), timezone)
        if meeting.start < end and (meeting.end or meeting.start) >= start:
            found.append(meeting)
    return found, end + REVISIT_STEP, skip, yielded


def _greater(first: date | datetime, second: date | datetime) -> bool:
    """recurring-ical-events' compare_greater."""
    left, right = _comparable(first, second)
    return bool(left > right)
