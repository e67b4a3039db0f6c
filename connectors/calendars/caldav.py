"""CalDAV source (RFC 4791): meetings from the calendars of one account.

It speaks WebDAV itself over ``requests`` (no ``caldav`` library) because the request count
of a poll is part of its contract.

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

import fnmatch
import json
import logging
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from connectors.calendars._calendar import (
    CalendarUnreadable,
    event_prefix,
    load_state,
    occurrences,
    window,
)
from syncd.credentials import read_password
from syncd.errors import AuthError, SourceEmpty, SourceError
from syncd.model import Meeting, Page, Skip

log = logging.getLogger(__name__)

_DAV = "DAV:"
_CALDAV = "urn:ietf:params:xml:ns:caldav"
_CURSOR_VERSION = 1
_MULTIGET_BATCH = 100
_PAGE_SIZE = 2000
_REDISCOVER_SECONDS = 86400
_TIMEOUT_SECONDS = 60


def _tag(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


@dataclass(slots=True)
class _SyncResult:
    """One sync-collection answer: href -> ETag changed, hrefs removed, the next token."""

    changed: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    token: str | None = None
    truncated: bool = False


class _TokenRefused(Exception):
    """The server would not run sync-collection with this token (RFC 6578 §3.2, §3.6)."""


class CaldavConnector:
    """One CalDAV account; see the module docstring."""

    source_type = "caldav"

    def __init__(self, name: str, options: Mapping[str, Any], timezone: ZoneInfo, *,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.name = name
        self.options = options
        self.url: str = str(options["url"])
        if not self.url.endswith("/"):
            self.url += "/"
        self.username: str = str(options["username"])
        self.patterns: tuple[str, ...] = tuple(options.get("calendars") or ("*",))
        self.history: timedelta = options.get("history") or timedelta(days=3 * 365)
        self.lookahead: timedelta = options.get("lookahead") or timedelta(days=30)
        self.timezone = timezone
        self.clock = clock or (lambda: datetime.now(UTC))
        #: HTTP requests sent by this connector (for tests and the benchmark).
        self.requests_made = 0
        self._session: Any = None

    # --- HTTP ----------------------------------------------------------------------------------

    def _open(self, password: str) -> None:
        import requests

        session = requests.Session()
        session.auth = (self.username, password)
        session.headers["User-Agent"] = "syncd (CalDAV)"
        ca_file = self.options.get("ca_file")
        session.verify = str(ca_file) if ca_file else True
        self._session = session

    def _request(self, method: str, url: str, body: str | None = None, depth: str | None = None,
                 ok: Sequence[int] = (200, 207)) -> Any:
        import requests

        headers = {"Content-Type": "application/xml; charset=utf-8"}
        if depth is not None:
            headers["Depth"] = depth
        self.requests_made += 1
        try:
            response = self._session.request(method, url, data=body.encode() if body else None,
                                             headers=headers, timeout=_TIMEOUT_SECONDS)
        except requests.RequestException as error:
            raise SourceError(f"cannot reach the CalDAV server of source {self.name!r} "
                              f"({type(error).__name__}); check url and network") from None
        if response.status_code == 401:
            raise AuthError(f"the CalDAV server refused the password of source {self.name!r}; "
                            f"run: syncd auth {self.name}")
        if response.status_code not in ok:
            return response
        return response

    @staticmethod
    def _xml(response: Any) -> ElementTree.Element:
        try:
            return ElementTree.fromstring(response.content)
        except ElementTree.ParseError:
            raise SourceError("the CalDAV server answered with XML that cannot be parsed "
                              f"(HTTP {response.status_code})") from None

    def _fail(self, response: Any, what: str) -> SourceError:
        retry = response.headers.get("Retry-After")
        hint = f"; it asks to retry after {retry}" if retry else ""
        return SourceError(f"the CalDAV server answered HTTP {response.status_code} to {what} "
                           f"for source {self.name!r}{hint}")

    def _absolute(self, href: str) -> str:
        return urljoin(self.url, href)

    # --- discovery -----------------------------------------------------------------------------

    def _propfind(self, url: str, props: str, depth: str) -> ElementTree.Element | None:
        body = (f'<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:" '
                f'xmlns:c="{_CALDAV}"><d:prop>{props}</d:prop></d:propfind>')
        response = self._request("PROPFIND", url, body, depth)
        if response.status_code != 207:
            return None
        return self._xml(response)

    @staticmethod
    def _first_href(root: ElementTree.Element, prop: str, namespace: str = _DAV) -> str | None:
        for element in root.iter(_tag(namespace, prop)):
            href = element.find(_tag(_DAV, "href"))
            if href is not None and href.text:
                return href.text.strip()
        return None

    def discover(self) -> dict[str, str]:
        """Return {calendar path: display name} of the selected calendars that hold events.

        Raise :class:`SourceError` when the URL leads to no calendar home.
        """
        props = ("<d:resourcetype/><d:current-user-principal/><c:calendar-home-set/>"
                 "<d:displayname/><c:supported-calendar-component-set/>")
        root = self._propfind(self.url, props, "0")
        if root is None:
            # RFC 6764 §5: the server root may only answer at /.well-known/caldav.
            root = self._propfind(urljoin(self.url, "/.well-known/caldav"), props, "0")
        if root is None:
            raise SourceError(f"{self.url} is not a CalDAV server or calendar; fix "
                              f"[sources.{self.name}].url")
        if root.find(f".//{_tag(_CALDAV, 'calendar')}") is not None:
            path = urlsplit(self.url).path
            return {path: self._display_name(root) or path.rstrip("/").rpartition("/")[2]}
        home = self._first_href(root, "calendar-home-set", _CALDAV)
        if home is None:
            principal = self._first_href(root, "current-user-principal")
            if principal is not None:
                found = self._propfind(self._absolute(principal), "<c:calendar-home-set/>", "0")
                if found is not None:
                    home = self._first_href(found, "calendar-home-set", _CALDAV)
        if home is None:
            raise SourceError(f"the CalDAV server of source {self.name!r} names no calendar "
                              f"home for {self.username}; set url to the calendar home")
        listing = self._propfind(self._absolute(home), props, "1")
        if listing is None:
            raise SourceError(f"cannot list the calendars of source {self.name!r}")
        calendars: dict[str, str] = {}
        for response in listing.iter(_tag(_DAV, "response")):
            href = response.findtext(_tag(_DAV, "href")) or ""
            if response.find(f".//{_tag(_CALDAV, 'calendar')}") is None:
                continue
            components = [c.get("name", "").upper()
                          for c in response.iter(_tag(_CALDAV, "comp"))]
            if components and "VEVENT" not in components:
                continue  # a task list or journal (RFC 4791 §5.2.3)
            path = urlsplit(href).path
            name = self._display_name(response) or unquote(path.rstrip("/").rpartition("/")[2])
            if self._selected(path, name):
                calendars[path] = name
        return calendars

    @staticmethod
    def _display_name(element: ElementTree.Element) -> str:
        return (element.findtext(f".//{_tag(_DAV, 'displayname')}") or "").strip()

    def _selected(self, path: str, name: str) -> bool:
        slug = unquote(path.rstrip("/").rpartition("/")[2])
        return any(fnmatch.fnmatchcase(name.lower(), pattern.lower())
                   or fnmatch.fnmatchcase(slug.lower(), pattern.lower())
                   for pattern in self.patterns)

    def check_password(self, password: str) -> None:
        """Log in with ``password`` and find the calendars; raise AuthError if refused."""
        self._open(password)
        self.discover()

    # --- changes -------------------------------------------------------------------------------

    def _sync_collection(self, path: str, token: str | None) -> _SyncResult:
        """Run RFC 6578 sync-collection; raise _TokenRefused for any refusal or truncation."""
        token_xml = f"<d:sync-token>{escape(token)}</d:sync-token>" if token else "<d:sync-token/>"
        body = ('<?xml version="1.0" encoding="utf-8"?><d:sync-collection xmlns:d="DAV:">'
                f"{token_xml}<d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop>"
                "</d:sync-collection>")
        # RFC 6578 §3.2: the report is defined for Depth: 0 only.
        response = self._request("REPORT", self._absolute(path), body, "0")
        if response.status_code != 207:
            # 403/409 + DAV:valid-sync-token (§3.2), 415, 418, 400, 405, 501: list instead.
            raise _TokenRefused(f"HTTP {response.status_code}")
        root = self._xml(response)
        result = _SyncResult(token=(root.findtext(_tag(_DAV, "sync-token")) or "").strip()
                             or None)
        collection = path.rstrip("/")
        for item in root.iter(_tag(_DAV, "response")):
            href = urlsplit((item.findtext(_tag(_DAV, "href")) or "").strip()).path
            status = item.findtext(_tag(_DAV, "status")) or ""
            if href.rstrip("/") == collection:
                if " 507 " in status:
                    result.truncated = True  # §3.6: more changes than the server returned
                continue
            if " 404 " in status:
                result.removed.append(href)
                continue
            etag = item.findtext(f".//{_tag(_DAV, 'getetag')}")
            if etag is not None:
                result.changed[href] = etag.strip()
        if result.truncated:
            raise _TokenRefused("HTTP 507 (truncated)")
        return result

    def _etag_listing(self, path: str) -> dict[str, str]:
        root = self._propfind(self._absolute(path), "<d:getetag/><d:resourcetype/>", "1")
        if root is None:
            raise SourceError(f"cannot list calendar {path} of source {self.name!r}")
        listing = {}
        collection = path.rstrip("/")
        for item in root.iter(_tag(_DAV, "response")):
            href = urlsplit((item.findtext(_tag(_DAV, "href")) or "").strip()).path
            etag = item.findtext(f".//{_tag(_DAV, 'getetag')}")
            if href.rstrip("/") != collection and etag is not None:
                listing[href] = etag.strip()
        return listing

    def _multiget(self, path: str, hrefs: Sequence[str]) -> Iterator[tuple[str, str, str]]:
        """Yield (href, ETag, calendar data) of ``hrefs``, 100 per REPORT."""
        for offset in range(0, len(hrefs), _MULTIGET_BATCH):
            chunk = hrefs[offset:offset + _MULTIGET_BATCH]
            refs = "".join(f"<d:href>{escape(href)}</d:href>" for href in chunk)
            body = ('<?xml version="1.0" encoding="utf-8"?><c:calendar-multiget xmlns:d="DAV:" '
                    f'xmlns:c="{_CALDAV}"><d:prop><d:getetag/><c:calendar-data/></d:prop>'
                    f"{refs}</c:calendar-multiget>")
            response = self._request("REPORT", self._absolute(path), body, "1")
            if response.status_code != 207:
                raise self._fail(response, f"calendar-multiget on {path}")
            for item in self._xml(response).iter(_tag(_DAV, "response")):
                href = urlsplit((item.findtext(_tag(_DAV, "href")) or "").strip()).path
                data = item.findtext(f".//{_tag(_CALDAV, 'calendar-data')}")
                etag = item.findtext(f".//{_tag(_DAV, 'getetag')}") or ""
                if data is not None:
                    yield href, etag.strip(), data

    # --- pulling ------------------------------------------------------------------------------

    def _load(self, cursor: str | None) -> dict[str, Any]:
        return load_state(cursor, _CURSOR_VERSION, "this CalDAV source")

    def pull(self, cursor: str | None, known: Container[str]) -> Iterator[Page]:
        """Yield pages of meeting occurrences changed since ``cursor``; see the module doc."""
        state = self._load(cursor)
        if self._session is None:
            self._open(read_password(self.name, self.options))
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
        token = calendar.get("token")
        full_listing: dict[str, str] | None = None
        result: _SyncResult | None = None
        if not calendar.get("nosync"):
            try:
                result = self._sync_collection(path, token)
            except _TokenRefused as refusal:
                log.info("%s: calendar %s: sync token refused (%s); listing ETags", self.name,
                         calendar["name"], refusal)
                if token is None:
                    calendar["nosync"] = True
                calendar["token"] = None
        if result is None:
            full_listing = self._etag_listing(path)
        elif token is None:
            full_listing = result.changed  # an empty-token sync lists every resource
        if full_listing is not None:
            changed = {href: etag for href, etag in full_listing.items()
                       if href not in items or items[href][0] != etag}
            gone = [href for href in items if href not in full_listing]
            remaining = len(full_listing)
        else:
            assert result is not None
            changed = {href: etag for href, etag in result.changed.items()
                       if href not in items or items[href][0] != etag}
            gone = [href for href in result.removed if href in items]
            remaining = len(items) - len(gone) + len([h for h in changed if h not in items])
        if items and remaining == 0:
            raise SourceEmpty(
                f"calendar {calendar['name']!r} of source {self.name!r} lists no events any "
                f"more, though it had {len(items)}; if you emptied it on purpose, run: "
                f"syncd sync {self.name} --full")
        if result is not None:
            calendar["token"] = result.token
        horizon = int(end.timestamp())
        due = [href for href, item in items.items()
               if href not in changed and href not in gone and item[2] is not None
               and item[2] <= horizon]
        for href in gone:
            removals.append(event_prefix(path, items.pop(href)[1]))
        wanted = [*changed, *due]
        read = 0
        for href, etag, data in self._multiget(path, wanted):
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
