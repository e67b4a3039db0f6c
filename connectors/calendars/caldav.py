"""CalDAV source (RFC 4791): meetings from the calendars of one account.

The WebDAV side (discovery, sync-collection with its ETag fallback, multiget, 401) is
:mod:`connectors._dav`, shared with the CardDAV source; this module adds what is CalDAV's.

A pass, per calendar:

1. **Changes**: RFC 6578 ``sync-collection`` with the stored sync token (an empty token on the
   first pass lists everything with its ETag). On any token failure - HTTP 403/409 with the
   ``DAV:valid-sync-token`` precondition, 415, 418, any other refusal of the REPORT, or a 507
   row that says the result was truncated (RFC 6578 §3.6) - the token is dropped and the
   calendar is listed with ``PROPFIND Depth: 1`` of ``DAV:getetag``, compared with the ETags
   stored in the cursor. A server that refuses even an empty-token sync is listed that way
   from then on.
2. **Data**: changed resources are read with ``calendar-multiget`` (RFC 4791 §7.9), 100 per
   request, and expanded by :mod:`connectors.calendars._calendar`.
3. **Removals**: a resource that is gone (a 404 row, or missing from a listing) is reported as
   the removal of ``<calendar>|<UID>|``: the store drops its *upcoming* meetings only; a past
   meeting seen stays proof of contact. A changed resource is removed and re-listed the same
   way in one page.
4. **Guard**: a calendar that held events and suddenly lists none raises :class:`SourceEmpty`
   (vdirsyncer's StorageEmpty rule): a server glitch must not look like a mass deletion.

When nothing changed, a pass costs exactly one request per calendar (the sync REPORT, or the
PROPFIND listing). Calendars are discovered (RFC 6764 well-known URL, RFC 5397
current-user-principal, RFC 4791 §6.2.1 calendar-home-set) on the first pass and again once a
day, so a new calendar shows up without costing every poll. Series and far events are read again
when the moving window reaches them (``revisit`` in the cursor).

The cursor is JSON: calendars with their sync token and, per resource href, [ETag, UID, revisit].
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Container, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree.ElementTree import Element
from zoneinfo import ZoneInfo

from connectors._dav import CALDAV, DavClient, Kind, tag
from connectors.calendars._calendar import (
    CalendarUnreadable,
    event_prefix,
    load_state,
    occurrences,
    window,
)
from syncd.credentials import read_password
from syncd.model import Meeting, Page, Skip

log = logging.getLogger(__name__)

_CURSOR_VERSION = 1
_PAGE_SIZE = 2000
_REDISCOVER_SECONDS = 86400
KIND = Kind(protocol="CalDAV", namespace=CALDAV, home_set="calendar-home-set",
            collection="calendar", well_known="/.well-known/caldav",
            extra_props="<c:supported-calendar-component-set/>")


def _holds_events(response: Element) -> bool:
    components = [c.get("name", "").upper() for c in response.iter(tag(CALDAV, "comp"))]
    return not components or "VEVENT" in components  # else a task list (RFC 4791 §5.2.3)


class CaldavConnector:
    """One CalDAV account; see the module docstring."""

    source_type = "caldav"

    def __init__(self, name: str, options: Mapping[str, Any], timezone: ZoneInfo, *,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.name = name
        self.options = options
        self.dav = DavClient(name, options, KIND)
        self.url = self.dav.url
        self.username = self.dav.username
        self.patterns: tuple[str, ...] = tuple(options.get("calendars") or ("*",))
        self.history: timedelta = options.get("history") or timedelta(days=3 * 365)
        self.lookahead: timedelta = options.get("lookahead") or timedelta(days=30)
        self.timezone = timezone
        self.clock = clock or (lambda: datetime.now(UTC))

    @property
    def requests_made(self) -> int:
        """HTTP requests sent by this connector (for tests and the benchmark)."""
        return self.dav.requests_made

    def discover(self) -> dict[str, str]:
        """Return {calendar path: display name} of the selected calendars that hold events.

        Raise :class:`SourceError` when the URL leads to no calendar home.
        """
        return self.dav.discover(self.patterns, "calendars", _holds_events)

    def check_password(self, password: str) -> None:
        """Log in with ``password`` and find the calendars; raise AuthError if refused."""
        self.dav.open(password)
        self.discover()

    # --- pulling ------------------------------------------------------------------------------

    def _load(self, cursor: str | None) -> dict[str, Any]:
        return load_state(cursor, _CURSOR_VERSION, "this CalDAV source")

    def pull(self, cursor: str | None, known: Container[str]) -> Iterator[Page]:
        """Yield pages of meeting occurrences changed since ``cursor``; see the module doc."""
        state = self._load(cursor)
        if not self.dav.is_open:
            self.dav.open(read_password(self.name, self.options))
        now = self.clock()
        start, end = window(now, self.history, self.lookahead)
        calendars: dict[str, dict[str, Any]] = state.get("cals", {})
        discovered = state.get("discovered", 0)
        if not calendars or time.time() - discovered > _REDISCOVER_SECONDS:
            found = self.discover()
            calendars = {path: calendars.get(path, {"name": name, "token": None, "items": {},
                                                    "nosync": False})
                         for path, name in found.items()}
            discovered = int(time.time())
        records: list[Meeting] = []
        skipped: list[Skip] = []
        removals: list[str] = []
        for path, calendar in calendars.items():
            changed = self._pull_calendar(path, calendar, start, end, records, skipped, removals)
            log.info("%s: calendar %s: %d resources, %d read", self.name, calendar["name"],
                     len(calendar["items"]), changed)
            if len(records) >= _PAGE_SIZE:
                yield Page(records=tuple(records), skipped=tuple(skipped),
                           removals=tuple(removals))
                records, skipped, removals = [], [], []
        new_state = {"v": _CURSOR_VERSION, "discovered": discovered, "cals": calendars}
        yield Page(records=tuple(records), skipped=tuple(skipped), removals=tuple(removals),
                   cursor=json.dumps(new_state, separators=(",", ":")))

    def _pull_calendar(self, path: str, calendar: dict[str, Any], start: datetime,
                       end: datetime, records: list[Meeting], skipped: list[Skip],
                       removals: list[str]) -> int:
        """Bring one calendar up to date (mutating its cursor entry); return resources read."""
        items: dict[str, list[Any]] = calendar["items"]

        def refused(reason: str) -> None:
            log.info("%s: calendar %s: sync token refused (%s); listing ETags", self.name,
                     calendar["name"], reason)

        found = self.dav.changes(path, calendar, "events", refused)
        changed, gone = found.changed, found.gone
        horizon = int(end.timestamp())
        due = [href for href, item in items.items()
               if href not in changed and href not in gone and item[2] is not None
               and item[2] <= horizon]
        for href in gone:
            removals.append(event_prefix(path, items.pop(href)[1]))
        wanted = [*changed, *due]
        read = 0
        for href, etag, data in self.dav.multiget(path, "calendar-multiget", "calendar-data",
                                                  wanted):
            read += 1
            old = items.get(href)
            if old is not None and href in changed:
                removals.append(event_prefix(path, old[1]))
            try:
                parsed = occurrences(data, path, self.timezone, start, end)
            except CalendarUnreadable as reason:
                skipped.append(Skip(f"{path}|{href}|", f"{href}: {reason}"))
                items[href] = [etag or changed.get(href, ""), "", None]
                continue
            records.extend(parsed.meetings)
            skipped.extend(parsed.skipped)
            uid = parsed.uids[0] if parsed.uids else ""
            revisit = int(parsed.revisit_at.timestamp()) if parsed.revisit_at else None
            items[href] = [etag or changed.get(href, ""), uid, revisit]
        return read
