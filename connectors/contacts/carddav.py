"""CardDAV source (RFC 6352): the people of one account's address books, as Cards.

The WebDAV side is :mod:`connectors._dav`, shared with the CalDAV source. A pass, per address
book:

1. **Changes**: RFC 6578 ``sync-collection`` with the stored token, or, when the server refuses
   it or the token, a ``PROPFIND Depth: 1`` ETag listing compared with the cursor.
2. **Data**: changed vCards are read with ``addressbook-multiget`` (RFC 6352 §8.7), 100 per
   request, and each becomes a :class:`~syncd.model.Card` whose ``source_id`` is its href
   (:mod:`connectors.contacts._vcard`). A vCard that cannot be read is skipped with its reason
   (and read again once it changes); the rest syncs.
3. **Removals**: a vCard that is gone is the removal of its href: the engine untracks that
   person and keeps their history. An address book that is no longer selected (or was deleted
   while the home still lists others) removes its cards the same way.
4. **Guard**: an address book that held cards and suddenly lists none raises
   :class:`SourceEmpty`, as the calendars do.

Address books are chosen with ``address_books = [...]`` (display names or last path segments,
shell globs, no case); the default ``["*"]`` reads them all. They are discovered
(``/.well-known/carddav``, ``current-user-principal``, ``addressbook-home-set``) on the first
pass and once a day. A poll with nothing new costs one request per address book.

The cursor is JSON: address books with their sync token and, per href, [ETag].
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Container, Iterator, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from connectors._dav import CARDDAV, DavClient, Kind
from connectors.base import load_json_cursor
from connectors.contacts._vcard import VcardUnreadable, parse_one
from syncd.credentials import read_password
from syncd.errors import SourceEmpty
from syncd.model import Card, Page, Skip

log = logging.getLogger(__name__)

_CURSOR_VERSION = 1
_PAGE_SIZE = 1000
_REDISCOVER_SECONDS = 86400
KIND = Kind(protocol="CardDAV", namespace=CARDDAV, home_set="addressbook-home-set",
            collection="addressbook", well_known="/.well-known/carddav", label="address book")


def _load(cursor: str | None) -> dict[str, Any]:
    return load_json_cursor(cursor, _CURSOR_VERSION, "the saved CardDAV position")


class CarddavConnector:
    """One CardDAV account; see the module docstring."""

    source_type = "carddav"

    def __init__(self, name: str, options: Mapping[str, Any], timezone: ZoneInfo) -> None:
        self.name = name
        self.options = options
        self.dav = DavClient(name, options, KIND)
        self.patterns: tuple[str, ...] = tuple(options.get("address_books") or ("*",))

    @property
    def requests_made(self) -> int:
        """HTTP requests sent by this connector (for tests and the benchmark)."""
        return self.dav.requests_made

    def discover(self) -> dict[str, str]:
        """Return {address book path: display name} of the selected address books.

        Raise :class:`SourceError` when the URL leads to no address-book home.
        """
        return self.dav.discover(self.patterns, "address books")

    def check_password(self, password: str) -> None:
        """Log in with ``password`` and find the address books; raise AuthError if refused."""
        self.dav.open(password)
        self.discover()

    def pull(self, cursor: str | None, known: Container[str]) -> Iterator[Page]:
        """Yield pages of Cards and removals changed since ``cursor``; see the module doc."""
        state = _load(cursor)
        if not self.dav.is_open:
            self.dav.open(read_password(self.name, self.options))
        books: dict[str, dict[str, Any]] = state.get("books", {})
        discovered = state.get("discovered", 0)
        removals: list[str] = []
        if not books or time.time() - discovered > _REDISCOVER_SECONDS:
            found = self.discover()
            if not found and any(book["items"] for book in books.values()):
                raise SourceEmpty(f"the CardDAV server of source {self.name!r} lists no "
                                  "address book any more; if you deleted them on purpose, "
                                  f"run: syncd sync {self.name} --full")
            for path, book in books.items():
                if path not in found:
                    removals.extend(book["items"])
            books = {path: books.get(path, {"name": name, "token": None, "items": {},
                                            "nosync": False})
                     for path, name in found.items()}
            discovered = int(time.time())
        for path in [p for p, book in books.items()
                     if not self.dav.selected(p, book["name"], self.patterns)]:
            removals.extend(books.pop(path)["items"])  # deselected in the configuration
        records: list[Card] = []
        skipped: list[Skip] = []
        for path, book in books.items():
            read = self._pull_book(path, book, records, skipped, removals)
            log.info("%s: address book %s: %d cards, %d read", self.name, book["name"],
                     len(book["items"]), read)
            if len(records) >= _PAGE_SIZE:
                yield Page(records=tuple(records), skipped=tuple(skipped),
                           removals=tuple(removals))
                records, skipped, removals = [], [], []
        new_state = {"v": _CURSOR_VERSION, "discovered": discovered, "books": books}
        yield Page(records=tuple(records), skipped=tuple(skipped), removals=tuple(removals),
                   cursor=json.dumps(new_state, separators=(",", ":")))

    def _pull_book(self, path: str, book: dict[str, Any], records: list[Card],
                   skipped: list[Skip], removals: list[str]) -> int:
        """Bring one address book up to date (mutating its cursor entry); return cards read."""
        items: dict[str, list[Any]] = book["items"]

        def refused(reason: str) -> None:
            log.info("%s: address book %s: sync token refused (%s); listing ETags", self.name,
                     book["name"], reason)

        found = self.dav.changes(path, book, "cards", refused)
        for href in found.gone:
            del items[href]
            removals.append(href)
        read = 0
        for href, etag, data in self.dav.multiget(path, "addressbook-multiget", "address-data",
                                                  list(found.changed)):
            read += 1
            items[href] = [etag or found.changed.get(href, "")]
            try:
                records.append(parse_one(data, href))
            except VcardUnreadable as reason:
                # The card stays as it was last read (if ever): nothing is lost for a typo.
                skipped.append(Skip(href, f"{href}: {reason}"))
        return read
