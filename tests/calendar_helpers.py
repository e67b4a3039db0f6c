"""Building iCalendar text for tests: one VEVENT per call, attendees as keyword arguments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def vevent(uid: str, start: datetime, *, minutes: int = 60, organizer: str | None = None,
           attendees: tuple[str, ...] = (), status: str | None = None, rrule: str | None = None,
           exdate: datetime | None = None, recurrence_id: datetime | None = None,
           extra: str = "") -> str:
    """Return one VEVENT; an attendee is "addr" or "addr;PARTSTAT=DECLINED" style params."""
    lines = ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z",
             f"DTSTART:{stamp(start)}",
             f"DTEND:{stamp(start + timedelta(minutes=minutes))}",
             "SUMMARY:test"]
    if recurrence_id is not None:
        lines.append(f"RECURRENCE-ID:{stamp(recurrence_id)}")
    if rrule:
        lines.append(f"RRULE:{rrule}")
    if exdate is not None:
        lines.append(f"EXDATE:{stamp(exdate)}")
    if status:
        lines.append(f"STATUS:{status}")
    if organizer:
        lines.append(f"ORGANIZER:mailto:{organizer}")
    for attendee in attendees:
        address, _, params = attendee.partition(";")
        lines.append(f"ATTENDEE{';' + params if params else ''}:mailto:{address}")
    if extra:
        lines.append(extra)
    lines.append("END:VEVENT")
    return "\r\n".join(lines)


def calendar(*events: str) -> str:
    return "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//syncd tests//EN",
                        *events, "END:VCALENDAR", ""])
