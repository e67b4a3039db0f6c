"""Connector registry: source type -> "module:factory", imported only when used.

Importing the core must never import every SDK (googleapiclient alone costs ~0.3 s), so this
table names modules as strings and :func:`load` imports one on demand.
"""

from __future__ import annotations

import importlib
from types import MappingProxyType
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from connectors.base import ConnectorFactory

REGISTRY: MappingProxyType[str, str] = MappingProxyType(
    {
        "maildir": "connectors.mail.maildir:MaildirConnector",
        "mbox": "connectors.mail.mbox:MboxConnector",
        "imap": "connectors.mail.imap:ImapConnector",
        "caldav": "connectors.calendars.caldav:CaldavConnector",
        "ics": "connectors.calendars.ics:IcsConnector",
        "carddav": "connectors.contacts.carddav:CarddavConnector",
        "gmail": "connectors.google.gmail:GmailConnector",
        "google_calendar": "connectors.google.calendar:GoogleCalendarConnector",
        "google_contacts": "connectors.google.contacts:GoogleContactsConnector",
    }
)

#: Source types whose factory has ``describe_cursor(cursor, options)``: where an unfinished
#: first sync stands, for ``syncd status`` (only these are imported by it).
DESCRIBES_PROGRESS = frozenset({"gmail"})
#: Source types authorized with OAuth (``token_key()``, ``authorize()``), whose sources may
#: share one token.
OAUTH_TYPES = frozenset({"gmail", "google_calendar", "google_contacts"})


def load(source_type: str) -> ConnectorFactory:
    """Return the factory for ``source_type``; raise KeyError for an unknown type."""
    module_name, _, attribute = REGISTRY[source_type].partition(":")
    module = importlib.import_module(module_name)
    factory = getattr(module, attribute)
    assert getattr(factory, "source_type", source_type) == source_type, (
        f"{REGISTRY[source_type]} declares another source type"
    )
    return cast("ConnectorFactory", factory)
