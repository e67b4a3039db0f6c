"""What counts as contact (DESIGN §3). Pure: a function of a record, my addresses and the rules.

Order of precedence, strongest first:

1. ``[rules].ignore`` beats everything: an ignored address is never contacted.
2. Folder role: nothing in a junk, trash or drafts folder counts (drafts were never sent).
3. ``[rules].always`` beats every heuristic below: a family mailing list can be real.
4. Heuristics: delivery reports, automatic mail, bulk and list mail, noreply-style senders,
   too many participants, incoming mail where I am not in To/Cc.

Every decision carries a stable ``rule`` code (for summaries) and a ``reason`` sentence (for
``syncd show PERSON --why``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from syncd.addresses import local_part, normalize_address
from syncd.config import RulesConfig
from syncd.model import (
    NEVER_COUNTED_ROLES,
    Address,
    Decision,
    Direction,
    Meeting,
    Message,
    Role,
)

#: Local parts of addresses that machines send from; nobody converses with them.
_AUTOMATED_LOCAL_PART = re.compile(
    r"^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|mailer[-_.]?daemon|postmaster|"
    r"notifications?|bounces?|auto[-_.]?reply)(?:[-+_].*)?$"
    r"|no[-_.]?reply|do[-_.]?not[-_.]?reply"
)
_BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})


class AddressPatterns:
    """A compiled ``ignore``/``always`` list: exact addresses, ``@domain`` (and subdomains), globs.

    Patterns are lower-case, as the config checker leaves them.
    """

    def __init__(self, patterns: Iterable[str]) -> None:
        self.exact: set[str] = set()
        self.domains: set[str] = set()
        self.globs: list[str] = []
        for pattern in patterns:
            if pattern.startswith("@"):
                self.domains.add(pattern[1:])
            elif any(character in pattern for character in "*?["):
                self.globs.append(pattern)
            else:
                self.exact.add(normalize_address(pattern) or pattern)

    def __bool__(self) -> bool:
        return bool(self.exact or self.domains or self.globs)

    def matches(self, address: str) -> bool:
        """Return True when the normalised ``address`` matches one of the patterns."""
        if address in self.exact:
            return True
        if self.domains:
            domain = address.rpartition("@")[2]
            while domain:
                if domain in self.domains:
                    return True
                domain = domain.partition(".")[2]
        return any(fnmatch.fnmatchcase(address, glob) for glob in self.globs)


@dataclass(frozen=True, slots=True)
class Rules:
    """The rule settings in the form :func:`classify_message` needs them."""

    max_recipients: int = 20
    max_attendees: int = 10
    count_incoming: bool = True
    ignore: AddressPatterns = field(default_factory=lambda: AddressPatterns(()))
    always: AddressPatterns = field(default_factory=lambda: AddressPatterns(()))

    @classmethod
    def from_config(cls, config: RulesConfig, extra_ignore: Iterable[str] = ()) -> Rules:
        """Compile ``[rules]`` once, so classifying a message does no pattern parsing.

        ``extra_ignore`` adds the patterns given with ``syncd ignore`` (kept in the store).
        """
        return cls(config.max_recipients, config.max_attendees, config.count_incoming,
                   AddressPatterns([*config.ignore, *extra_ignore]),
                   AddressPatterns(config.always))


def is_automated_address(address: str) -> bool:
    """Return True for noreply-, mailer-daemon-, notifications-style addresses."""
    return bool(_AUTOMATED_LOCAL_PART.search(local_part(address)))


def dedupe_key(message: Message) -> str:
    """Return the key under which a message counts once across folders and sources.

    Message-ID is a hint, not a key (RFC 5322 §3.6.4 makes it optional and lists reuse it), so
    it is paired with the sender; without one, a hash of the identifying headers stands in.
    """
    sender = message.sender.email if message.sender else ""
    if message.message_id:
        return "mid:" + message.message_id.lower() + "|" + sender
    if message.fingerprint:
        return "fp:" + message.fingerprint
    digest = hashlib.sha1(repr(message).encode("utf-8", "replace")).hexdigest()
    return "fp:" + digest


#: Headers one of which must be present for any header rule but the delivery report's to fire.
_MARKER_HEADERS = frozenset({"auto-submitted", "x-auto-response-suppress", "x-autoreply",
                             "x-autorespond", "list-id", "precedence", "list-unsubscribe",
                             "feedback-id"})


def _heuristic_verdict(message: Message) -> tuple[str, str] | None:
    """Return (rule, reason) when a header marks the message as machine or bulk mail."""
    headers = message.headers
    if headers:
        content_type = headers.get("content-type")
        if (content_type is not None
                and content_type.split(";", 1)[0].strip().lower() == "multipart/report"):
            return "report", "a delivery report (Content-Type: multipart/report)"
        if not _MARKER_HEADERS.isdisjoint(headers):  # most personal mail has none of them
            marked = _marked_verdict(headers)
            if marked is not None:
                return marked
    if message.sender and is_automated_address(message.sender.email):
        return "automated_sender", f"sent from an automated address ({message.sender.email})"
    return None


def _marked_verdict(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """The header rules, in order, for a message with one of :data:`_MARKER_HEADERS`."""
    auto_submitted = headers.get("auto-submitted", "").split(";", 1)[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        # RFC 3834 §5: anything but "no" marks a message no human wrote.
        return "auto", f"an automatic message (Auto-Submitted: {auto_submitted})"
    if "x-auto-response-suppress" in headers:
        return "auto", "an automatic message (X-Auto-Response-Suppress)"
    if "x-autoreply" in headers or "x-autorespond" in headers:
        return "auto", "an auto-reply (X-Autoreply)"
    if "list-id" in headers:
        return "list", f"mailing-list mail (List-Id: {headers['list-id'][:80]})"
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in _BULK_PRECEDENCE:
        return "bulk", f"bulk mail (Precedence: {precedence})"
    if "list-unsubscribe" in headers:
        return "bulk", "bulk mail (List-Unsubscribe: a newsletter or marketing)"
    if "feedback-id" in headers:
        return "bulk", "bulk mail (Feedback-ID: sent by a mass-mailing service)"
    return None


def classify_message(message: Message, mine: Callable[[str], bool], rules: Rules) -> Decision:
    """Decide whether ``message`` is contact, with whom, when, and why.

    ``mine`` answers whether a normalised address is one of mine. The decision's ``at`` is the
    Date header when plausible, else the delivery time the connector saw.
    """
    # The hot path of a first sync (once per message): written for speed, but every branch
    # reads as the rule it is, in the order of the module docstring.
    key = dedupe_key(message)
    at = message.date or message.received
    sender = message.sender
    to, cc, bcc = message.to, message.cc, message.bcc
    role = message.folder_role
    outgoing = role is Role.SENT or (sender is not None and mine(sender.email))
    everyone = _unique_addresses((sender, *to, *cc, *bcc) if sender is not None
                                 else (*to, *cc, *bcc))
    others = tuple([address for address in everyone if not mine(address.email)])
    direction = Direction.OUTGOING if outgoing else Direction.INCOMING
    shown_sender = None if outgoing else sender

    if at is None:
        return Decision(False, "no_date", "no usable date (no Date header and no delivery time)",
                        direction, at, (), others, key, shown_sender)
    if role in NEVER_COUNTED_ROLES:
        return Decision(False, "folder", f"in a {role.value} folder", direction, at, (), others,
                        key, shown_sender)

    candidates: tuple[Address, ...]
    if outgoing:
        candidates = tuple([address for address in _unique_addresses((*to, *cc, *bcc))
                            if not mine(address.email)])
    else:
        candidates = (sender,) if sender is not None else ()
    ignore = rules.ignore
    allowed = (tuple([address for address in candidates if not ignore.matches(address.email)])
               if ignore else candidates)
    if not allowed:
        if candidates:
            rule, reason = "ignored", "matched [rules].ignore"
        elif outgoing:
            rule, reason = "self", "sent only to my own addresses"
        else:
            rule, reason = "no_sender", "no sender address"
        return Decision(False, rule, reason, direction, at, (), others, key, shown_sender)

    always = rules.always
    matched_always = bool(always) and (any(always.matches(address.email) for address in everyone)
                                       or _list_id_address(message, always))
    if not matched_always:
        heuristic = _heuristic_verdict(message)
        if heuristic is not None:
            return Decision(False, heuristic[0], heuristic[1], direction, at, (), others, key,
                            shown_sender)
        if len(others) > rules.max_recipients:
            return Decision(False, "too_many", f"{len(others)} participants, more than "
                            f"[rules].max_recipients = {rules.max_recipients}", direction, at,
                            (), others, key, shown_sender)
        if outgoing:
            allowed = tuple([address for address in allowed
                             if not is_automated_address(address.email)])
            if not allowed:
                return Decision(False, "automated_sender", "sent only to automated addresses",
                                direction, at, (), others, key, shown_sender)
        elif not any([mine(address.email) for address in (*to, *cc)]):
            return Decision(False, "not_to_me", "I was not in To or Cc (a list, alias or Bcc)",
                            direction, at, (), others, key, shown_sender)

    if not outgoing and not rules.count_incoming:
        return Decision(False, "incoming_off", "incoming mail does not count "
                        "([rules].count_incoming = false)", direction, at, (), others, key,
                        shown_sender)
    if outgoing:
        reason = ("I wrote to 1 person" if len(allowed) == 1
                  else f"I wrote to {len(allowed)} people")
    else:
        reason = "they wrote to me"
    if matched_always:
        reason += " (matched [rules].always)"
    return Decision(True, "outgoing" if outgoing else "incoming", reason, direction, at, allowed,
                    others, key, shown_sender)


def _unique_addresses(addresses: tuple[Address, ...]) -> tuple[Address, ...]:
    """``addresses`` without repeats of an address (the first one stays), in order."""
    if len(addresses) < 2 or len({address.email for address in addresses}) == len(addresses):
        return addresses
    return tuple(_unique(addresses))


#: Rules of :func:`classify_message` whose "not counted" no change to my addresses can undo:
#: they look only at the folder, the date and headers, and a message they stop stays stopped
#: (at most it becomes "self" or "no_sender", which do not count either). Every other message
#: decision depends on which addresses are mine, so it is kept for ``Engine.revisit``.
MINE_INDEPENDENT_RULES = frozenset({"no_date", "folder", "report", "auto", "list", "bulk",
                                    "automated_sender"})


def _list_id_address(message: Message, always: AddressPatterns) -> bool:
    # List-Id (RFC 2919) looks like "Family <family.lists.example>"; users write the list's
    # posting address, so also try the id with its first dot turned into "@".
    list_id = message.headers.get("list-id", "")
    if not list_id:
        return False
    identifier = list_id.rpartition("<")[2].rstrip(">").strip().lower()
    name, _, rest = identifier.partition(".")
    return bool(rest) and always.matches(f"{name}@{rest}")


def _unique(addresses: Iterable[Address]) -> list[Address]:
    seen: set[str] = set()
    result = []
    for address in addresses:
        if address.email not in seen:
            seen.add(address.email)
            result.append(address)
    return result


#: Attendee kinds that are places or things, never people (RFC 5545 §3.2.3 CUTYPE).
_NOT_PEOPLE = frozenset({"ROOM", "RESOURCE"})


def meeting_dedupe_key(meeting: Meeting) -> str:
    """Return the key under which an occurrence counts once across calendars and sources.

    The iCalendar UID plus the occurrence's RECURRENCE-ID part of its source id (RFC 5545
    §3.8.4.7, §3.8.4.4): the same meeting in two calendars (mine and a shared one) is one.
    """
    recurrence = meeting.source_id.rpartition("|")[2]
    return f"cal:{meeting.uid}|{recurrence}"


def classify_meeting(meeting: Meeting, mine: Callable[[str], bool], rules: Rules,
                     now: datetime) -> Decision:
    """Decide whether one meeting occurrence is contact, with whom, when, and why.

    The rules, in order (DESIGN §3): a cancelled meeting is no contact; a meeting I declined is
    no contact; a meeting with an organizer where neither the organizer nor any attendee is me
    is someone else's (a shared calendar) and no contact; the counterparts are the organizer
    and the attendees other than me, minus rooms and resources (CUTYPE) and minus those who
    declined; with none left it is no contact; with more than ``rules.max_attendees`` it is no
    contact (a big meeting is not a tie); ignored
    addresses (``[rules].ignore``) are dropped. A meeting counts at its start, and only once it
    has started: a future one gets rule ``upcoming`` (``counts`` False, ``counted`` = the people
    it will count for) and is stored as upcoming until its start passes.
    """
    key = meeting_dedupe_key(meeting)
    everyone = _unique([*([meeting.organizer] if meeting.organizer else []),
                        *(attendee.address for attendee in meeting.attendees)])
    others = tuple(address for address in everyone if not mine(address.email))

    def verdict(counts: bool, rule: str, reason: str,
                counted: Sequence[Address] = ()) -> Decision:
        return Decision(counts, rule, reason, Direction.MEETING, meeting.start, tuple(counted),
                        others, key)

    if meeting.status == "cancelled":
        return verdict(False, "cancelled", "the meeting was cancelled")
    if any(mine(attendee.address.email) and attendee.partstat == "DECLINED"
           for attendee in meeting.attendees):
        return verdict(False, "i_declined", "I declined the meeting")
    if meeting.organizer is not None and len(others) == len(everyone):
        # Someone else's meeting that does not list me (a shared or subscribed calendar) says
        # nothing about my ties. Without an organizer it is my own entry ("lunch with Bob").
        return verdict(False, "not_mine", "neither the organizer nor an attendee is one of my "
                       "addresses (a shared calendar? else add yours to [me].addresses)")
    not_people = {attendee.address.email for attendee in meeting.attendees
                  if attendee.cutype in _NOT_PEOPLE}
    declined = {attendee.address.email for attendee in meeting.attendees
                if attendee.partstat == "DECLINED"}
    counterparts = [address for address in others
                    if address.email not in not_people and address.email not in declined]
    if not counterparts:
        if others:
            return verdict(False, "no_counterpart", "no one else attends (only rooms, resources "
                           "or people who declined)")
        return verdict(False, "no_counterpart", "no one but me on the meeting")
    if len(counterparts) > rules.max_attendees:
        return verdict(False, "too_many_attendees", f"{len(counterparts)} other attendees, more "
                       f"than [rules].max_attendees = {rules.max_attendees}")
    allowed = [address for address in counterparts if not rules.ignore.matches(address.email)]
    if not allowed:
        return verdict(False, "ignored", "every other attendee matched [rules].ignore")
    people = "1 person" if len(allowed) == 1 else f"{len(allowed)} people"
    if meeting.start > now:
        return verdict(False, "upcoming", f"an upcoming meeting with {people}", allowed)
    return verdict(True, "meeting", f"a meeting with {people}", allowed)
