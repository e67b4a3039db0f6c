"""iCalendar data -> :class:`syncd.model.Meeting` occurrences, shared by the calendar connectors.

What one VEVENT becomes (RFC 5545):

- **Occurrences**: a recurring series (RRULE, RDATE, minus EXDATE) is expanded with
  ``recurring-ical-events`` within a window ``[now - history, now + lookahead]``; an override
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

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from syncd.addresses import normalize_address
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
    return Address(email, name)


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
    result = ParsedCalendar()
    for parsed in _parse(data):
        _expand_calendar(parsed, calendar, timezone, start, end, result)
    return result


def _expand_calendar(parsed: Any, calendar: str, timezone: ZoneInfo, start: datetime,
                     end: datetime, result: ParsedCalendar) -> None:
    groups: dict[str, list[Any]] = defaultdict(list)
    for component in parsed.walk("VEVENT"):
        groups[str(component.get("UID", ""))].append(component)
    if not groups:
        return
    recurring = {uid for uid, components in groups.items()
                 if any(c.get("RRULE") is not None or c.get("RDATE") is not None
                        or c.get("RECURRENCE-ID") is not None for c in components)}
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
        found = _expand(parsed, start, end, calendar, result)
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
    rules = rule if isinstance(rule, list) else [rule]
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
            result: ParsedCalendar) -> list[Any]:
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
        if steps >= MAX_OCCURRENCES:
            result.skipped.append(Skip(calendar_prefix(calendar), f"more than "
                                       f"{MAX_OCCURRENCES} occurrences in the window; the "
                                       "later ones were not read"))
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
