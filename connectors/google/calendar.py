"""Google Calendar through the Calendar API v3 (``calendar.readonly`` scope).

- **Which calendars**: ``calendars = ["primary"]`` by default; each entry is matched, case-
  insensitively, against the ids, names and your own names of ``calendarList.list``, with
  globs (``"Team *"``); ``primary`` is your main calendar.
- **Sync** (https://developers.google.com/calendar/api/guides/sync): ``events.list`` with
  ``singleEvents=true`` (recurring events arrive as their occurrences) and a ``syncToken``. A
  first listing uses no ``timeMin`` (a sync token cannot be combined with one; events outside
  the window are dropped here). ``nextSyncToken`` comes only on the last page, and a page may
  be empty while ``nextPageToken`` says more follow: pages before the last carry no cursor, so a
  stop replays the listing (the upserts dedupe it). A 410 means the token expired: that
  calendar's *upcoming* rows are dropped (a removal of the calendar prefix; past meetings stay
  proof of contact) and it is listed again from scratch.
- **Records**: the same :class:`~syncd.model.Meeting` and identity as the CalDAV and .ics
  sources (:mod:`connectors.calendars._calendar`): source id
  ``<calendar>|<event>|<RECURRENCE-ID>``, the
  iCalendar UID (``iCalUID``) as ``uid``, so the same meeting seen through CalDAV, an .ics
  export and here counts once; all-day events count at 12:00 local time of their first day.
  ``attendees[].responseStatus`` becomes PARTSTAT, ``resource`` a RESOURCE CUTYPE, and
  ``self`` marks my own address. Focus time, out-of-office and working-location entries
  (``eventType``) are not meetings and are skipped. A cancelled event or occurrence is a
  removal of its upcoming rows.
- **The window**: meetings older than ``history`` are not kept; upcoming ones up to
  ``lookahead``. The earliest start seen beyond the window is remembered; once the window
  reaches it, that calendar is listed again from scratch (a sync token never re-sends an
  unchanged event).
"""

from __future__ import annotations

import fnmatch
import json
import logging
from collections.abc import Container, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from connectors.calendars._calendar import (
    _instant,
    _recurrence_text,
    calendar_prefix,
    escape_uid,
    event_prefix,
    load_state,
    window,
)
from connectors.google._auth import CALENDAR_SCOPE, ApiRefused, GoogleSource
from syncd.addresses import normalize_address
from syncd.errors import SourceError
from syncd.model import Address, Attendee, Meeting, Page, Skip

log = logging.getLogger(__name__)

CURSOR_VERSION = 1
PAGE_SIZE = 2500  # events.list maxResults ceiling
#: Calendar entries that are not meetings with people (Event resource, ``eventType``).
SKIPPED_EVENT_TYPES = frozenset({"focusTime", "outOfOffice", "workingLocation"})
_PARTSTAT = {"needsAction": "NEEDS-ACTION", "declined": "DECLINED", "tentative": "TENTATIVE",
             "accepted": "ACCEPTED"}
_STATUSES = frozenset({"confirmed", "tentative", "cancelled"})


def _person(value: Mapping[str, Any] | None) -> Address | None:
    if not value:
        return None
    email = normalize_address(str(value.get("email") or ""))
    return Address(email, str(value.get("displayName") or "")) if email else None


def _moment(value: Mapping[str, Any], timezone: ZoneInfo) -> tuple[datetime, bool]:
    """Return (UTC instant, all day?) of an event's ``start``/``end``/``originalStartTime``."""
    if "dateTime" in value:
        moment = datetime.fromisoformat(str(value["dateTime"]))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(value.get("timeZone") or str(timezone)))
        return moment.astimezone(UTC), False
    return _instant(date.fromisoformat(str(value["date"])), timezone), True


def _original(value: Mapping[str, Any], timezone: ZoneInfo) -> str:
    """The RECURRENCE-ID part of a source id, in the form the iCalendar sources use."""
    if "dateTime" in value:
        return _recurrence_text(_moment(value, timezone)[0], timezone)
    return _recurrence_text(date.fromisoformat(str(value["date"])), timezone)


class GoogleCalendarConnector(GoogleSource):
    """Calendars of one Google account."""

    source_type = "google_calendar"
    scope = CALENDAR_SCOPE

    def __init__(self, name: str, options: Mapping[str, Any], timezone: ZoneInfo,
                 clock: Any = None) -> None:
        super().__init__(name, options)
        self.timezone = timezone
        self.patterns = tuple(options.get("calendars") or ("primary",))
        self.history: timedelta = options.get("history") or timedelta(days=3 * 365)
        self.lookahead: timedelta = options.get("lookahead") or timedelta(days=30)
        self.clock = clock or (lambda: datetime.now(UTC))

    def _api(self) -> Any:
        # Calendar's resource paths are relative to calendar/v3/ (a bare api_endpoint would
        # lose that prefix, PROTOCOL-NOTES).
        return self.session.service("calendar", "v3", "calendar/v3/")

    def calendars(self) -> dict[str, str]:
        """Return {calendar id: name} of the calendars the ``calendars`` option selects."""
        entries: list[Mapping[str, Any]] = []
        token: str | None = None
        while True:
            response = self.session.execute(self._api().calendarList().list(
                pageToken=token, maxResults=250), "calendarList.list")
            entries.extend(response.get("items", ()))
            token = response.get("nextPageToken")
            if not token:
                break
        chosen: dict[str, str] = {}
        for pattern in self.patterns:
            lowered = pattern.casefold()
            for entry in entries:
                names = [str(entry.get(key) or "") for key in ("id", "summary",
                                                               "summaryOverride")]
                if (lowered == "primary" and entry.get("primary")) or any(
                        fnmatch.fnmatchcase(name.casefold(), lowered) for name in names if name):
                    chosen[str(entry["id"])] = str(entry.get("summaryOverride")
                                                   or entry.get("summary") or entry["id"])
        if not chosen:
            listed = ", ".join(str(entry.get("summary") or entry.get("id")) for entry in entries)
            raise SourceError(f"no calendar of source {self.name!r} matches calendars = "
                              f"{list(self.patterns)}; the account has: {listed or 'none'}")
        return chosen

    def pull(self, cursor: str | None, known: Container[str]) -> Iterator[Page]:
        """Yield pages of meeting occurrences changed since ``cursor``; see the module doc."""
        state = load_state(cursor, CURSOR_VERSION, f"Google Calendar source {self.name!r}")
        previous: dict[str, dict[str, Any]] = state.get("cals", {})
        now = self.clock()
        start, end = window(now, self.history, self.lookahead)
        calendars = {calendar: dict(previous.get(calendar, {}))
                     for calendar in self.calendars()}
        for calendar, entry in calendars.items():
            yield from self._calendar(calendar, entry, start, end)
            log.info("%s: calendar %s synced", self.name, calendar)
        # Calendars no longer selected: their upcoming rows go.
        gone = tuple(calendar_prefix(calendar) for calendar in previous
                     if calendar not in calendars)
        yield Page(removals=gone, cursor=json.dumps({"v": CURSOR_VERSION, "cals": calendars},
                                                    separators=(",", ":")))

    def _calendar(self, calendar: str, entry: dict[str, Any], start: datetime,
                  end: datetime) -> Iterator[Page]:
        """Bring one calendar up to date, mutating its cursor ``entry``."""
        removals: list[str] = []
        revisit = entry.get("revisit")
        if revisit is not None and revisit <= end.timestamp():
            entry["token"] = None  # the window reached events never yielded: list again
        token: str | None = entry.get("token")
        page_token: str | None = None
        beyond: float | None = None
        while True:
            request = self._api().events().list(
                calendarId=calendar, singleEvents=True, maxResults=PAGE_SIZE,
                pageToken=page_token, syncToken=token, showDeleted=bool(token))
            try:
                response = self.session.execute(request, "events.list")
            except ApiRefused as refused:
                if refused.status != 410 or token is None:
                    raise
                # Calendar sync guide: 410 Gone = the token is invalid; wipe and full sync.
                log.info("%s: calendar %s: sync token expired; listing it again", self.name,
                         calendar)
                removals.append(calendar_prefix(calendar))
                token, page_token, beyond = None, None, None
                continue
            meetings: list[Meeting] = []
            skipped: list[Skip] = []
            mine: set[str] = set()
            for event in response.get("items", ()):
                try:
                    meeting = self._meeting(calendar, event, removals, mine)
                except (KeyError, ValueError, TypeError) as error:
                    skipped.append(Skip(f"{calendar}|{escape_uid(str(event.get('id')))}|",
                                        f"unreadable event ({type(error).__name__})"))
                    continue
                if meeting is None or meeting.start < start:
                    continue
                if meeting.start > end:
                    beyond = min(beyond or float("inf"), meeting.start.timestamp())
                    continue
                meetings.append(meeting)
            page_token = response.get("nextPageToken")
            if not page_token:
                if token is not None and revisit is not None:
                    # An incremental listing holds only changes: the events still beyond the
                    # window from earlier listings are still there.
                    beyond = min(beyond or revisit, revisit)
                entry["token"] = response.get("nextSyncToken")
                entry["revisit"] = beyond
            # No cursor until the last page (nextSyncToken comes only there): a stop replays.
            yield Page(records=tuple(meetings), skipped=tuple(skipped),
                       removals=tuple(removals), my_addresses=frozenset(mine))
            removals = []
            if not page_token:
                return

    def _meeting(self, calendar: str, event: Mapping[str, Any], removals: list[str],
                 mine: set[str]) -> Meeting | None:
        """Turn one Event resource into a Meeting (None when it is not one)."""
        series = str(event.get("recurringEventId") or event["id"])
        original = event.get("originalStartTime")
        recurrence = _original(original, self.timezone) if original else ""
        status = str(event.get("status") or "confirmed")
        if status == "cancelled":
            # A deleted event or occurrence (sync responses keep them, status "cancelled").
            removals.append(f"{event_prefix(calendar, series)}{recurrence}" if original
                            else event_prefix(calendar, series))
            return None
        if event.get("eventType") in SKIPPED_EVENT_TYPES:
            return None
        begin, all_day = _moment(event["start"], self.timezone)
        finish: datetime | None = None
        if "end" in event:
            finish, _ = _moment(event["end"], self.timezone)
            if all_day:
                # An all-day end date is exclusive: end at noon of the last day, like .ics.
                finish = max(begin, finish - timedelta(days=1))
        organizer = _person(event.get("organizer"))
        if organizer and event.get("organizer", {}).get("self"):
            mine.add(organizer.email)
        attendees = []
        for raw in event.get("attendees", ()):
            address = _person(raw)
            if address is None:
                continue
            if raw.get("self"):
                mine.add(address.email)
            if raw.get("organizer") and organizer is None:
                organizer = address
            attendees.append(Attendee(
                address, _PARTSTAT.get(str(raw.get("responseStatus")), "NEEDS-ACTION"),
                "RESOURCE" if raw.get("resource") else "INDIVIDUAL"))
        return Meeting(source_id=f"{calendar}|{escape_uid(series)}|{recurrence}",
                       uid=str(event.get("iCalUID") or series), start=begin, end=finish,
                       all_day=all_day, status=status if status in _STATUSES else "confirmed",
                       organizer=organizer, attendees=tuple(attendees))
