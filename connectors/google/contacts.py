"""Google Contacts through the People API (``contacts.readonly`` scope).

``people.connections.list`` with ``requestSyncToken`` reads every contact once, then only the
changes (https://developers.google.com/people/api/rest/v1/people.connections/list): each
contact becomes a :class:`~syncd.model.Card` with its name, e-mail addresses, birthday and
contact groups (``memberships``) as categories, Google's "starred" included, so
``[tiers.map]`` maps them to tiers as it does vCard CATEGORIES. A contact deleted upstream comes
back with ``metadata.deleted`` and becomes a removal of its ``resourceName``. The sync token
comes only on the last page (earlier pages carry no cursor, so a stop replays the listing). An
expired token (``EXPIRED_SYNC_TOKEN``, 7 days) means a full listing again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Container, Iterator, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from connectors.base import load_json_cursor
from connectors.google._auth import CONTACTS_SCOPE, ApiRefused, GoogleSource
from syncd.addresses import normalize_address
from syncd.model import Address, Birthday, Card, Page

log = logging.getLogger(__name__)

CURSOR_VERSION = 1
PAGE_SIZE = 1000  # connections.list pageSize ceiling
PERSON_FIELDS = "names,emailAddresses,birthdays,memberships,metadata"
#: System groups that say nothing about a tie: every contact is in "myContacts"/"all".
IGNORED_SYSTEM_GROUPS = frozenset({"myContacts", "all", "chatBuddies", "blocked"})


def _load(cursor: str | None) -> dict[str, Any]:
    return load_json_cursor(cursor, CURSOR_VERSION, "the saved Google Contacts position")


def card(person: Mapping[str, Any], groups: Mapping[str, str]) -> Card:
    """Turn one People API Person into a Card (``groups``: resource name -> group name)."""
    names = person.get("names") or [{}]
    name = str(names[0].get("displayName") or names[0].get("unstructuredName") or "")
    addresses: list[Address] = []
    # The primary address first (People API FieldMetadata.primary; a stable sort keeps the
    # API's order otherwise): a card goes with its first address when a split keeps its
    # addresses apart (syncd/store/cards.py).
    for entry in sorted(person.get("emailAddresses", ()),
                        key=lambda entry: not (entry.get("metadata") or {}).get("primary")):
        email = normalize_address(str(entry.get("value") or ""))
        if email and all(address.email != email for address in addresses):
            addresses.append(Address(email, name))
    categories = []
    for membership in person.get("memberships", ()):
        group = str((membership.get("contactGroupMembership") or {}).get(
            "contactGroupResourceName") or "")
        if group in groups and groups[group] not in categories:
            categories.append(groups[group])
    birthday = None
    for entry in person.get("birthdays", ()):
        value = entry.get("date") or {}
        if value.get("month") and value.get("day"):
            birthday = Birthday(int(value["month"]), int(value["day"]),
                                int(value["year"]) if value.get("year") else None)
            break
    return Card(source_id=str(person["resourceName"]), uid=None, name=name or (
        addresses[0].email if addresses else ""), addresses=tuple(addresses),
        categories=tuple(categories), birthday=birthday)


class GoogleContactsConnector(GoogleSource):
    """The contacts of one Google account."""

    source_type = "google_contacts"
    scope = CONTACTS_SCOPE

    def __init__(self, name: str, options: Mapping[str, Any], timezone: ZoneInfo) -> None:
        super().__init__(name, options)

    def _people(self) -> Any:
        return self.session.service("people", "v1")

    def groups(self) -> dict[str, str]:
        """Return {contact group resource name: name}; "starred" is a group like the others."""
        found: dict[str, str] = {}
        token: str | None = None
        while True:
            response = self.session.execute(self._people().contactGroups().list(
                pageSize=1000, pageToken=token), "contactGroups.list")
            for group in response.get("contactGroups", ()):
                name = str(group.get("name") or "")
                if group.get("groupType") == "SYSTEM_CONTACT_GROUP" and (
                        name in IGNORED_SYSTEM_GROUPS):
                    continue
                # System groups: their stable English name ("starred", "family"); user groups:
                # the name the user gave.
                shown = name if group.get("groupType") == "SYSTEM_CONTACT_GROUP" else str(
                    group.get("formattedName") or name)
                if shown:
                    found[str(group["resourceName"])] = shown
            token = response.get("nextPageToken")
            if not token:
                return found

    def pull(self, cursor: str | None, known: Container[str]) -> Iterator[Page]:
        """Yield pages of cards (and removals) since ``cursor``; see the module docstring."""
        state = _load(cursor)
        sync_token: str | None = state.get("token")
        # Every contact's resourceName, kept so that a full listing (first sync, expired
        # token) can tell which contacts disappeared meanwhile: they are removals too.
        previous: set[str] = set(state.get("ids", ()))
        current: set[str] = set(previous) if sync_token else set()
        groups = self.groups()
        page_token: str | None = None
        while True:
            request = self._people().people().connections().list(
                resourceName="people/me", personFields=PERSON_FIELDS, pageSize=PAGE_SIZE,
                pageToken=page_token, syncToken=sync_token, requestSyncToken=True)
            try:
                response = self.session.execute(request, "people.connections.list")
            except ApiRefused as refused:
                if sync_token is None or refused.status not in (400, 410):
                    raise
                log.info("%s: the contacts sync token expired; listing them all again",
                         self.name)
                sync_token, page_token, current = None, None, set()
                continue
            cards: list[Card] = []
            removals: list[str] = []
            for person in response.get("connections", ()):
                resource = str(person["resourceName"])
                if (person.get("metadata") or {}).get("deleted"):
                    removals.append(resource)
                    current.discard(resource)
                else:
                    cards.append(card(person, groups))
                    current.add(resource)
            page_token = response.get("nextPageToken")
            final = None
            if not page_token:
                if sync_token is None:
                    removals.extend(sorted(previous - current))
                final = json.dumps({"v": CURSOR_VERSION, "token": response.get("nextSyncToken"),
                                    "ids": sorted(current)}, separators=(",", ":"))
            yield Page(records=tuple(cards), removals=tuple(removals), cursor=final)
            if not page_token:
                return
