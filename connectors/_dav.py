"""WebDAV client shared by the CalDAV and CardDAV sources (one DAV implementation, two uses).

It speaks WebDAV itself over ``requests`` because the request count of a poll is part of the
sources' contract. What it does, for one account:

- **Discovery**: the configured URL is either a collection itself or leads to one through
  RFC 5397 ``current-user-principal`` and a home set (RFC 4791 §6.2.1 ``calendar-home-set``,
  RFC 6352 §7.1.1 ``addressbook-home-set``); the server root may answer only at the RFC 6764
  well-known URL. The home is listed with ``PROPFIND Depth: 1`` and the collections of the
  wanted resource type whose display name or last path segment matches a pattern are kept.
- **Changes** (:meth:`DavClient.changes`): RFC 6578 ``sync-collection`` with the stored token
  (an empty token lists everything with its ETag). On any token failure - HTTP 403/409 with
  ``DAV:valid-sync-token``, 415, 418, any other refusal, or a 507 row saying the answer was
  truncated (RFC 6578 §3.6) - the token is dropped and the collection is listed with
  ``PROPFIND Depth: 1`` of ``DAV:getetag`` and compared with the stored ETags. A server that
  refuses even an empty-token sync is listed that way from then on (``nosync``).
- **Data**: a ``*-multiget`` REPORT (RFC 4791 §7.9, RFC 6352 §8.7), 100 hrefs per request.
- **Credentials**: HTTP 401 is :class:`AuthError` (the engine pauses the source until
  ``syncd auth NAME``); ``ca_file`` trusts a private CA.

A collection's cursor entry is a dict with ``name``, ``token``, ``nosync`` and ``items``
(href -> a list whose first element is the ETag; the rest belongs to the source).
"""

from __future__ import annotations

import fnmatch
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit
from xml.sax.saxutils import escape

from syncd.errors import AuthError, SourceEmpty, SourceError

DAV = "DAV:"
CALDAV = "urn:ietf:params:xml:ns:caldav"
CARDDAV = "urn:ietf:params:xml:ns:carddav"
#: Prefixes every request body declares: d (DAV), c (CalDAV), card (CardDAV).
_NAMESPACES = f'xmlns:d="{DAV}" xmlns:c="{CALDAV}" xmlns:card="{CARDDAV}"'
MULTIGET_BATCH = 100
_TIMEOUT_SECONDS = 60


def tag(namespace: str, name: str) -> str:
    """Return the ElementTree name of ``name`` in ``namespace``."""
    return f"{{{namespace}}}{name}"


@dataclass(slots=True)
class SyncResult:
    """One sync-collection answer: href -> ETag changed, hrefs removed, the next token."""

    changed: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    token: str | None = None
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class Changes:
    """What changed in one collection since its cursor entry: href -> new ETag, hrefs gone."""

    changed: dict[str, str]
    gone: list[str]


class TokenRefused(Exception):
    """The server would not run sync-collection with this token (RFC 6578 §3.2, §3.6)."""


@dataclass(frozen=True, slots=True)
class Kind:
    """What a DAV source looks for: its protocol, home set and collection resource type."""

    protocol: str          # "CalDAV", shown in errors
    namespace: str         # of the home-set property and the collection resource type
    home_set: str          # "calendar-home-set" / "addressbook-home-set"
    collection: str        # "calendar" / "addressbook" (a DAV:resourcetype child)
    well_known: str        # "/.well-known/caldav" (RFC 6764 §5)
    extra_props: str = ""  # more properties to ask of each collection
    label: str = ""        # the collection in words ("address book"); default: collection


class DavClient:
    """One WebDAV account: a ``requests`` session with the discovery and change helpers."""

    def __init__(self, source: str, options: Mapping[str, Any], kind: Kind) -> None:
        self.source = source
        self.options = options
        self.kind = kind
        self.label = kind.label or kind.collection
        self.url: str = str(options["url"])
        if not self.url.endswith("/"):
            self.url += "/"
        self.username: str = str(options["username"])
        #: HTTP requests sent (for tests and the benchmarks).
        self.requests_made = 0
        self._session: Any = None

    # --- HTTP ----------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """True once :meth:`open` gave the session a password."""
        return self._session is not None

    def open(self, password: str) -> None:
        """Start a session that logs in as ``username`` with ``password`` (HTTP Basic)."""
        import requests

        session = requests.Session()
        session.auth = (self.username, password)
        session.headers["User-Agent"] = f"syncd ({self.kind.protocol})"
        ca_file = self.options.get("ca_file")
        session.verify = str(ca_file) if ca_file else True
        self._session = session

    def request(self, method: str, url: str, body: str | None = None,
                depth: str | None = None) -> Any:
        """Send one request; raise AuthError on 401 and SourceError when unreachable."""
        import requests

        headers = {"Content-Type": "application/xml; charset=utf-8"}
        if depth is not None:
            headers["Depth"] = depth
        self.requests_made += 1
        try:
            response = self._session.request(method, url, data=body.encode() if body else None,
                                             headers=headers, timeout=_TIMEOUT_SECONDS)
        except requests.RequestException as error:
            raise SourceError(f"cannot reach the {self.kind.protocol} server of source "
                              f"{self.source!r} ({type(error).__name__}); check url and "
                              "network") from None
        if response.status_code == 401:
            raise AuthError(f"the {self.kind.protocol} server refused the password of source "
                            f"{self.source!r}; run: syncd auth {self.source}")
        return response

    def xml(self, response: Any) -> ElementTree.Element:
        """Parse a multistatus body; raise SourceError when it is not XML."""
        try:
            return ElementTree.fromstring(response.content)
        except ElementTree.ParseError:
            raise SourceError(f"the {self.kind.protocol} server answered with XML that cannot "
                              f"be parsed (HTTP {response.status_code})") from None

    def fail(self, response: Any, what: str) -> SourceError:
        """Return the error for an unexpected HTTP status to ``what``."""
        retry = response.headers.get("Retry-After")
        hint = f"; it asks to retry after {retry}" if retry else ""
        return SourceError(f"the {self.kind.protocol} server answered HTTP "
                           f"{response.status_code} to {what} for source {self.source!r}{hint}")

    def absolute(self, href: str) -> str:
        """Resolve ``href`` against the configured URL."""
        return urljoin(self.url, href)

    def propfind(self, url: str, props: str, depth: str) -> ElementTree.Element | None:
        """PROPFIND ``props`` (d:/c:/card: prefixed XML); None unless the answer is 207."""
        body = (f'<?xml version="1.0" encoding="utf-8"?><d:propfind {_NAMESPACES}>'
                f"<d:prop>{props}</d:prop></d:propfind>")
        response = self.request("PROPFIND", url, body, depth)
        if response.status_code != 207:
            return None
        return self.xml(response)

    # --- discovery -----------------------------------------------------------------------------

    @staticmethod
    def _first_href(root: ElementTree.Element, prop: str, namespace: str = DAV) -> str | None:
        for element in root.iter(tag(namespace, prop)):
            href = element.find(tag(DAV, "href"))
            if href is not None and href.text:
                return href.text.strip()
        return None

    @staticmethod
    def display_name(element: ElementTree.Element) -> str:
        """Return the DAV:displayname under ``element`` ("" if none)."""
        return (element.findtext(f".//{tag(DAV, 'displayname')}") or "").strip()

    @staticmethod
    def selected(path: str, name: str, patterns: Sequence[str]) -> bool:
        """True when the display name or last path segment matches a pattern (no case)."""
        slug = unquote(path.rstrip("/").rpartition("/")[2])
        return any(fnmatch.fnmatchcase(name.lower(), pattern.lower())
                   or fnmatch.fnmatchcase(slug.lower(), pattern.lower())
                   for pattern in patterns)

    def discover(self, patterns: Sequence[str], setting: str,
                 accept: Callable[[ElementTree.Element], bool] = lambda _: True,
                 ) -> dict[str, str]:
        """Return {collection path: display name} of the selected collections.

        ``setting`` names the option that selects them (for the error text); ``accept``
        filters collections further (CalDAV: calendars that hold events). Raise
        :class:`SourceError` when the URL leads to no home set.
        """
        kind = self.kind
        home_prop = f"<{'c' if kind.namespace == CALDAV else 'card'}:{kind.home_set}/>"
        props = (f"<d:resourcetype/><d:current-user-principal/>{home_prop}<d:displayname/>"
                 f"{kind.extra_props}")
        root = self.propfind(self.url, props, "0")
        if root is None:
            root = self.propfind(urljoin(self.url, kind.well_known), props, "0")
        if root is None:
            raise SourceError(f"{self.url} is not a {kind.protocol} server or "
                              f"{self.label}; fix [sources.{self.source}].url")
        if root.find(f".//{tag(kind.namespace, kind.collection)}") is not None:
            path = urlsplit(self.url).path
            return {path: self.display_name(root) or path.rstrip("/").rpartition("/")[2]}
        home = self._first_href(root, kind.home_set, kind.namespace)
        if home is None:
            principal = self._first_href(root, "current-user-principal")
            if principal is not None:
                found = self.propfind(self.absolute(principal), home_prop, "0")
                if found is not None:
                    home = self._first_href(found, kind.home_set, kind.namespace)
        if home is None:
            raise SourceError(f"the {kind.protocol} server of source {self.source!r} names no "
                              f"{self.label} home for {self.username}; set url to the "
                              f"{self.label} home")
        listing = self.propfind(self.absolute(home), props, "1")
        if listing is None:
            raise SourceError(f"cannot list the {setting} of source {self.source!r}")
        collections: dict[str, str] = {}
        for response in listing.iter(tag(DAV, "response")):
            href = response.findtext(tag(DAV, "href")) or ""
            if response.find(f".//{tag(kind.namespace, kind.collection)}") is None:
                continue
            if not accept(response):
                continue
            path = urlsplit(href).path
            name = self.display_name(response) or unquote(path.rstrip("/").rpartition("/")[2])
            if self.selected(path, name, patterns):
                collections[path] = name
        return collections

    # --- changes -------------------------------------------------------------------------------

    def sync_collection(self, path: str, token: str | None) -> SyncResult:
        """Run RFC 6578 sync-collection; raise TokenRefused for any refusal or truncation."""
        token_xml = f"<d:sync-token>{escape(token)}</d:sync-token>" if token else "<d:sync-token/>"
        body = ('<?xml version="1.0" encoding="utf-8"?><d:sync-collection xmlns:d="DAV:">'
                f"{token_xml}<d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop>"
                "</d:sync-collection>")
        # RFC 6578 §3.2: the report is defined for Depth: 0 only.
        response = self.request("REPORT", self.absolute(path), body, "0")
        if response.status_code != 207:
            # 403/409 + DAV:valid-sync-token (§3.2), 415, 418, 400, 405, 501: list instead.
            raise TokenRefused(f"HTTP {response.status_code}")
        root = self.xml(response)
        result = SyncResult(token=(root.findtext(tag(DAV, "sync-token")) or "").strip() or None)
        collection = path.rstrip("/")
        for item in root.iter(tag(DAV, "response")):
            href = urlsplit((item.findtext(tag(DAV, "href")) or "").strip()).path
            status = item.findtext(tag(DAV, "status")) or ""
            if href.rstrip("/") == collection:
                if " 507 " in status:
                    result.truncated = True  # §3.6: more changes than the server returned
                continue
            if " 404 " in status:
                result.removed.append(href)
                continue
            etag = item.findtext(f".//{tag(DAV, 'getetag')}")
            if etag is not None:
                result.changed[href] = etag.strip()
        if result.truncated:
            raise TokenRefused("HTTP 507 (truncated)")
        return result

    def etag_listing(self, path: str) -> dict[str, str]:
        """Return {member href: ETag} of the collection at ``path`` (PROPFIND Depth: 1)."""
        root = self.propfind(self.absolute(path), "<d:getetag/><d:resourcetype/>", "1")
        if root is None:
            raise SourceError(f"cannot list {self.label} {path} of source "
                              f"{self.source!r}")
        listing = {}
        collection = path.rstrip("/")
        for item in root.iter(tag(DAV, "response")):
            href = urlsplit((item.findtext(tag(DAV, "href")) or "").strip()).path
            etag = item.findtext(f".//{tag(DAV, 'getetag')}")
            if href.rstrip("/") != collection and etag is not None:
                listing[href] = etag.strip()
        return listing

    def changes(self, path: str, entry: dict[str, Any], noun: str,
                log_refusal: Callable[[str], None]) -> Changes:
        """Return what changed in the collection at ``path`` since its cursor ``entry``.

        Updates ``entry["token"]``/``["nosync"]`` (not ``items``: the caller applies the
        changes). Raise :class:`SourceEmpty` when a collection that held ``noun`` lists none.
        """
        items: dict[str, list[Any]] = entry["items"]
        token = entry.get("token")
        full_listing: dict[str, str] | None = None
        result: SyncResult | None = None
        if not entry.get("nosync"):
            try:
                result = self.sync_collection(path, token)
            except TokenRefused as refusal:
                log_refusal(str(refusal))
                if token is None:
                    entry["nosync"] = True
                entry["token"] = None
        if result is None:
            full_listing = self.etag_listing(path)
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
            # vdirsyncer's StorageEmpty rule: a glitch must not look like a mass deletion.
            raise SourceEmpty(
                f"{self.label} {entry['name']!r} of source {self.source!r} lists no "
                f"{noun} any more, though it had {len(items)}; if you emptied it on purpose, "
                f"run: syncd sync {self.source} --full")
        if result is not None:
            entry["token"] = result.token
        return Changes(changed, gone)

    def multiget(self, path: str, report: str, data: str,
                 hrefs: Sequence[str]) -> Iterator[tuple[str, str, str]]:
        """Yield (href, ETag, data) of ``hrefs`` with the ``report`` REPORT, 100 per request.

        ``report`` and ``data`` are names in the kind's namespace, e.g. "addressbook-multiget"
        and "address-data" (RFC 6352 §8.7).
        """
        prefix = "c" if self.kind.namespace == CALDAV else "card"
        for offset in range(0, len(hrefs), MULTIGET_BATCH):
            chunk = hrefs[offset:offset + MULTIGET_BATCH]
            refs = "".join(f"<d:href>{escape(href)}</d:href>" for href in chunk)
            body = (f'<?xml version="1.0" encoding="utf-8"?><{prefix}:{report} {_NAMESPACES}>'
                    f"<d:prop><d:getetag/><{prefix}:{data}/></d:prop>{refs}</{prefix}:{report}>")
            response = self.request("REPORT", self.absolute(path), body, "1")
            if response.status_code != 207:
                raise self.fail(response, f"{report} on {path}")
            for item in self.xml(response).iter(tag(DAV, "response")):
                href = urlsplit((item.findtext(tag(DAV, "href")) or "").strip()).path
                text = item.findtext(f".//{tag(self.kind.namespace, data)}")
                etag = item.findtext(f".//{tag(DAV, 'getetag')}") or ""
                if text is not None:
                    yield href, etag.strip(), text
