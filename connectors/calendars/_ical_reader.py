"""A small, strict reader for the few VEVENT properties syncd needs (RFC 5545 §3.1, §3.6.1).

Why: ``icalendar.Calendar.from_ical`` builds a full object tree and converts every property of
every component; on a 10,000-event calendar that alone takes over 3 s, far beyond the 2 s that
expanding *and* classifying may take (issue 3). Syncd reads a dozen properties per event.

Contract: :func:`read` either returns the calendars split into VEVENT blocks, each with the
content lines of the properties in :data:`WANTED`, or raises :class:`NotSimple` when the text
has any structure it does not understand (a line without ``:``, unbalanced BEGIN/END, a VEVENT
that is not a direct child of a VCALENDAR, a VTIMEZONE after the first VEVENT, a UID it cannot
read literally ...). The caller then reads the data with icalendar as before, so a strange file
costs time, never correctness. Value conversion here is equally strict: :func:`params` and
:func:`when` raise :class:`NotSimple` for anything but the plain forms, and the caller hands
that event to icalendar.

Unfolding and line splitting use the same rules as icalendar (§3.1: CRLF or LF followed by one
space or tab continues the line; empty lines are ignored).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo

#: The VEVENT properties syncd reads; all other properties are skipped without being parsed.
WANTED = frozenset({"UID", "DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE",
                    "RECURRENCE-ID", "STATUS", "ORGANIZER", "ATTENDEE"})

# The fold rule of icalendar (parser/content_line.py UFOLD), so both readers see the same lines.
_FOLD = re.compile(r"(?:(?<!\n)\r\n|(?<![\r\n])\n)(?:\r?\n)*[ \t]")
_NEWLINE = re.compile(r"\r?\n")
# name *(";" param) ":" value (§3.1). Parameter values are either quoted (no DQUOTE, no control
# character) or plain (no DQUOTE ; : , and no control character, §3.1 paramtext). A backslash or
# ^ (RFC 6868 escapes) or a comma (a value list) anywhere in the parameters is not "plain" and
# goes to icalendar, which unescapes them; so does whitespace around a plain value, which
# icalendar strips in its tolerant mode.
_PLAIN = r'[^"\x00-\x08\x0a-\x1f\x7f,:;\\^]*'
_QUOTED = r'"[^"\x00-\x08\x0a-\x1f\x7f\\^]*"'
_LINE = re.compile(rf"[A-Za-z0-9-]+((?:;[A-Za-z0-9-]+=(?:{_QUOTED}|{_PLAIN}))*):(.*)\Z", re.S)
_PARAM = re.compile(rf";([A-Za-z0-9-]+)=({_QUOTED}|{_PLAIN})")


class NotSimple(Exception):
    """The data (or one value) is outside the forms this reader handles; use icalendar."""


@dataclass(slots=True)
class RawEvent:
    """One VEVENT: its content lines (for icalendar) and the wanted properties by name."""

    first: int
    last: int
    props: dict[str, list[str]] = field(default_factory=dict)
    position: int = 0


@dataclass(slots=True)
class RawCalendar:
    """One VCALENDAR: its own property lines, its VTIMEZONE lines and its VEVENTs.

    ``others`` are the lines of its other components (VTODO, VJOURNAL ...): syncd does not
    read them, but icalendar refuses a whole file for a broken property in one of them, and the
    caller lets icalendar check them so that such a file is refused as before.
    """

    lines: list[str]
    header: list[str] = field(default_factory=list)
    timezones: list[str] = field(default_factory=list)
    others: list[str] = field(default_factory=list)
    events: list[RawEvent] = field(default_factory=list)
    x_wr_timezone: bool = False

    def event_lines(self, event: RawEvent) -> list[str]:
        """Return the content lines of ``event``, BEGIN:VEVENT to END:VEVENT."""
        return self.lines[event.first:event.last + 1]


def _name(line: str) -> str:
    cut = len(line)
    for delimiter in (";", ":"):
        found = line.find(delimiter, 0, cut)
        if found >= 0:
            cut = found
    name = line[:cut]
    if " " in name or "\t" in name:
        name = re.sub(r"[ \t]+", "", name.strip())  # icalendar's tolerant mode does the same
    return name.upper()


def read(text: str) -> list[RawCalendar]:
    """Split ``text`` into calendars and VEVENT blocks; raise :class:`NotSimple` on surprises."""
    lines = [line for line in _NEWLINE.split(_FOLD.sub("", text)) if line]
    calendars: list[RawCalendar] = []
    stack: list[str] = []
    current: RawCalendar | None = None
    event: RawEvent | None = None
    zone_start = 0
    for index, line in enumerate(lines):
        if ":" not in line:
            raise NotSimple("a line without a value")
        name = _name(line)
        if name == "BEGIN" or name == "END":
            value = line.partition(":")[2].strip().upper()
            if name == "BEGIN":
                if not stack:
                    if value != "VCALENDAR":
                        raise NotSimple("a component outside a VCALENDAR")
                    current = RawCalendar(lines)
                    calendars.append(current)
                elif value == "VEVENT":
                    if len(stack) != 1 or current is None:
                        raise NotSimple("a nested VEVENT")
                    event = RawEvent(index, index, position=len(current.events))
                    current.events.append(event)
                elif len(stack) == 1:
                    if value == "VTIMEZONE" and current is not None and current.events:
                        raise NotSimple("a VTIMEZONE after the events that may use it")
                    zone_start = index
                stack.append(value)
                continue
            if not stack or stack[-1] != value:
                raise NotSimple("unbalanced BEGIN/END")
            stack.pop()
            if len(stack) == 1 and current is not None:
                if value == "VEVENT" and event is not None:
                    event.last = index
                    event = None
                elif value == "VTIMEZONE":
                    current.timezones.extend(lines[zone_start:index + 1])
                else:
                    current.others.extend(lines[zone_start:index + 1])
            continue
        if not stack:
            if name == "X-COMMENT":  # icalendar ignores these after the calendar, so do we
                continue
            raise NotSimple("a property outside a component")
        if len(stack) == 1 and current is not None:
            current.header.append(line)
            if name == "X-WR-TIMEZONE":
                current.x_wr_timezone = True
        elif len(stack) == 2 and event is not None and name in WANTED:
            event.props.setdefault(name, []).append(line)
    if stack or not calendars:
        raise NotSimple("an unterminated or missing VCALENDAR")
    return calendars


def params(line: str) -> tuple[dict[str, str], str]:
    """Return the parameters (upper-case names, unquoted values) and the raw value of ``line``.

    Raise :class:`NotSimple` for anything but plain or quoted single parameter values, and for
    a backslash in the value (icalendar unescapes it; this reader does not).
    """
    match = _LINE.match(line)
    if match is None:
        raise NotSimple("parameters this reader does not handle")
    head, value = match.group(1), match.group(2)
    if "\\" in value:
        raise NotSimple("an escaped value")
    if not head:
        return {}, value
    found: dict[str, str] = {}
    for key, raw in _PARAM.findall(head):
        if raw.startswith('"'):
            raw = raw[1:-1]
        elif raw != raw.strip(" \t"):
            raise NotSimple("whitespace around a parameter value")
        found[key.upper()] = raw
    return found, value


def when(line: str, zone: ZoneLookup) -> date | datetime:
    """Return the DATE or DATE-TIME of a DTSTART/DTEND/RECURRENCE-ID line (§3.3.4, §3.3.5).

    ``zone`` resolves a TZID the way icalendar does (None when it cannot: the time is then
    floating). The conversions are those of icalendar's vDDDTypes: a DATE with a resolvable TZID
    is midnight in that zone.
    """
    found, value = params(line)
    values = _values(found, value, zone)
    if len(values) != 1:
        raise NotSimple("more than one value")
    return values[0]


def when_list(line: str, zone: ZoneLookup) -> list[date | datetime]:
    """Return the values of an EXDATE line (a comma-separated list, §3.8.5.1)."""
    found, value = params(line)
    return _values(found, value, zone)


class ZoneLookup:
    """TZID -> tzinfo through icalendar's resolver (IANA, Windows, VTIMEZONE), cached."""

    def __init__(self) -> None:
        from icalendar.timezone import tzp

        self._tzp = tzp
        self._cache: dict[str, tzinfo | None] = {}
        self.utc: tzinfo | None = tzp.localize_utc(datetime(2000, 1, 1)).tzinfo

    def __call__(self, tzid: str) -> tzinfo | None:
        try:
            return self._cache[tzid]
        except KeyError:
            zone = self._cache[tzid] = self._tzp.timezone(tzid)
            return zone


def _values(found: dict[str, str], value: str, zone: ZoneLookup) -> list[date | datetime]:
    kind = found.get("VALUE", "").upper()
    if kind not in ("", "DATE", "DATE-TIME") or (kind == "DATE" and "TZID" in found):
        raise NotSimple("a value type this reader does not handle")
    tz = zone(found["TZID"]) if "TZID" in found else None
    result: list[date | datetime] = []
    for part in value.split(","):
        if len(part) == 8 and part.isdigit() and kind != "DATE-TIME":
            day = date(int(part[:4]), int(part[4:6]), int(part[6:8]))
            result.append(datetime(day.year, day.month, day.day, tzinfo=tz) if tz else day)
        elif (len(part) in (15, 16) and part[8] == "T" and part[:8].isdigit()
              and part[9:15].isdigit() and kind != "DATE"):
            naive = datetime(int(part[:4]), int(part[4:6]), int(part[6:8]), int(part[9:11]),
                             int(part[11:13]), int(part[13:15]))
            if tz is not None:
                result.append(naive.replace(tzinfo=tz))
            elif len(part) == 15:
                result.append(naive)
            elif part[15] == "Z":
                result.append(naive.replace(tzinfo=zone.utc))
            else:
                raise NotSimple("a date-time this reader does not handle")
        else:
            raise NotSimple("a date this reader does not handle")
    return result
