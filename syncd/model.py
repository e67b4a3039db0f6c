"""Records that flow from connectors into the core, and the decisions the core makes.

Vocabulary, defined once here and used by every connector:

- **record**: a :class:`Message` or a :class:`Meeting` occurrence, normalised, timezone-aware UTC.
  Address books yield :class:`Card` entries instead.
- **source id**: a record's identity inside one source, stable across syncs (Maildir folder +
  unique name, mbox file + offset, IMAP folder/UIDVALIDITY/UID, calendar + UID + RECURRENCE-ID).
- **dedupe key**: a record's identity across folders and sources (Message-ID + sender, or a hash
  of the headers when Message-ID is missing). The same key is counted once, wherever seen.
- **cursor**: an opaque string a connector gives with each page and gets back next time; it
  moves in the same transaction as the page's rows.
- **page**: a batch of records plus the cursor valid once they are stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    """What a mail folder is for; decides whether its messages can count."""

    INBOX = "inbox"
    SENT = "sent"
    ARCHIVE = "archive"
    JUNK = "junk"
    TRASH = "trash"
    DRAFTS = "drafts"
    OTHER = "other"


#: Folder roles whose messages never count as contact (DESIGN §3).
NEVER_COUNTED_ROLES = frozenset({Role.JUNK, Role.TRASH, Role.DRAFTS})


class Direction(StrEnum):
    """Which way an interaction went, seen from me."""

    OUTGOING = "outgoing"
    INCOMING = "incoming"
    MEETING = "meeting"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class Address:
    """A normalised e-mail address with the display name it came with (may be empty).

    ``written`` is the spelling it came in (``Meher.T@gmail.com``; empty when unknown): shown
    to the user, never compared (``email`` is for matching).
    """

    email: str
    name: str = ""
    written: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """The metadata of one e-mail as a mail connector saw it. Never a body."""

    source_id: str
    message_id: str | None
    date: datetime | None
    received: datetime | None
    sender: Address | None
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    folder_role: Role = Role.OTHER
    #: Only the classification headers, lower-case names (see connectors.mail._mail.RULE_HEADERS).
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Stable hash of the identifying headers, the dedupe key when Message-ID is missing
    #: (connectors may leave it empty when there is a Message-ID).
    fingerprint: str = ""


@dataclass(frozen=True, slots=True)
class Attendee:
    """One ATTENDEE of a meeting (RFC 5545 §3.8.4.1)."""

    address: Address
    partstat: str = "NEEDS-ACTION"
    cutype: str = "INDIVIDUAL"


@dataclass(frozen=True, slots=True, kw_only=True)
class Meeting:
    """One occurrence of a calendar event."""

    source_id: str
    uid: str
    start: datetime
    end: datetime | None = None
    all_day: bool = False
    status: str = "confirmed"
    organizer: Address | None = None
    attendees: tuple[Attendee, ...] = ()


@dataclass(frozen=True, slots=True)
class Birthday:
    """A birthday from an address book: month and day, the year when known (vCard BDAY
    ``--MMDD`` has none, RFC 6350 §6.2.5; Google's ``birthdays[].date`` may omit it)."""

    month: int
    day: int
    year: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Card:
    """One address-book entry (a vCard from a file or CardDAV, a Google contact).

    ``source_id`` is stable inside its source (CardDAV href, Google ``resourceName``, vCard
    UID or file + index). ``categories`` are vCard CATEGORIES or Google contact-group names
    (Google's "starred" included); ``[tiers.map]`` turns them into tiers. A card removed
    upstream arrives as a page removal: the person is untracked, never erased.
    """

    source_id: str
    uid: str | None
    name: str
    addresses: tuple[Address, ...]
    categories: tuple[str, ...] = ()
    birthday: Birthday | None = None


Record = Message | Meeting | Card


@dataclass(frozen=True, slots=True)
class Skip:
    """A source item that could not be read, with a one-line reason for ``syncd status``."""

    source_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Page:
    """A batch from a connector: records to upsert, items to skip, and the cursor after them.

    ``removals`` are source ids that disappeared; the engine decides what (if anything) they
    retract. Every page's cursor is valid if the pass stops right after that page.
    """

    records: tuple[Record, ...] = ()
    skipped: tuple[Skip, ...] = ()
    removals: tuple[str, ...] = ()
    cursor: str | None = None
    #: Addresses this page proves are mine (From of mail in a Sent-role folder).
    my_addresses: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Decision:
    """What the rules concluded about one record.

    ``counted`` addresses are the people contacted; ``rule`` is a short stable code used for
    summaries (``list``, ``bulk``, ``outgoing`` ...); ``reason`` is the sentence ``--why`` shows.
    ``participants`` are all counterparts considered, so a non-counting decision can still be
    explained on the person's page.
    """

    counts: bool
    rule: str
    reason: str
    direction: Direction | None
    at: datetime | None
    counted: tuple[Address, ...] = ()
    participants: tuple[Address, ...] = ()
    dedupe_key: str = ""
    #: The sender when it is one of ``participants`` (their own spelling is the one shown).
    sender: Address | None = None


@dataclass(frozen=True, slots=True)
class PersonRow:
    """A person with their stats, as listings and the pure policy (ties, alerts) need them."""

    id: int
    name: str
    addresses: tuple[str, ...]
    tracked: bool
    tier: str | None
    every_days: float | None
    snoozed_until: datetime | None
    last_outgoing: datetime | None
    last_incoming: datetime | None
    last_meeting: datetime | None
    last_manual: datetime | None
    last_contact: datetime | None
    first_contact: datetime | None
    interactions: int
    inferred_days: float | None
    #: The addresses as the person wrote them, in the order of ``addresses`` (shown to the
    #: user; ``addresses`` are canonical, for matching). Empty: show ``addresses``.
    written: tuple[str, ...] = ()

    @property
    def shown(self) -> tuple[str, ...]:
        """The addresses to show: as written, else canonical."""
        return self.written or self.addresses


@dataclass(frozen=True, slots=True)
class History:
    """What a person's counted contacts add up to, as the strength policy reads it.

    Summed from ``contacts`` by the store (one SQL pass over the people whose contacts changed):
    distinct contact days, days with a contact from my side (mail I wrote, a meeting, a logged
    call), distinct 30-day months with contact, contacts per direction, and ``personal``: the
    sum over counted contacts of 1 / participants (1.0 for a 1:1 message, 1/15 for a message
    to fifteen people). Times are epoch seconds (None without any counted contact).
    """

    contact_days: int
    two_way_days: int
    active_months: int
    outgoing: int
    incoming: int
    meetings: int
    personal: float
    interactions: int
    first_contact: int | None
    last_contact: int | None
    inferred_days: float | None = None
