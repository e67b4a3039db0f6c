"""Header parsing shared by the mail connectors (Maildir, mbox, IMAP, Gmail).

The one entry point is :func:`parse_header_block`: raw header bytes in, a
:class:`~syncd.model.Message` out. It is hand-rolled rather than built on
``email.policy.default`` because that policy parses ~1,000 header blocks/s and can still raise
``IndexError``/``OverflowError`` on malformed input (PROTOCOL-NOTES rules 10 and 14). This
module splits the block itself and keeps only the fields syncd needs: ~9,000-12,000 header
blocks/s on one core (``bench/parse_bench.py``), 7-9x ``policy.default`` and as fast as
``compat32`` plus ``getaddresses`` while also decoding names, normalising addresses, checking
dates and hashing a fingerprint. ``getaddresses`` is about two thirds of the time.

The usual shapes (a CRLF block ending in an empty line, each field once and unfolded, a plain
single mailbox, the common Date form) take fast paths that must give exactly what the general
path gives, ``Address.written`` and ``headers`` order included: ``bench/parse_equivalence.py``
records every answer for a large fixed input set before a change and compares after it.

Contract for every function here: malformed input never raises anything but
:class:`Unreadable`, which carries a one-line reason the caller turns into
``Skip(source_id, reason)`` (or use :func:`parse_or_skip`, which does that for you).

Line endings: CRLF (RFC 5322 §2.1), bare LF (Unix mail stores) and bare CR (classic Mac OS
exports) are all accepted. A block that contains any LF is read as LF/CRLF text and stray CRs
are ignored; only a block with no LF at all is split on CR.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import time
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from email.utils import getaddresses, parsedate_tz

from connectors.mail._stamps import utc_stamp
from syncd.addresses import normalize_address
from syncd.model import Address, Message, Role, Skip

#: Lower-case names of the headers the classification rules read (DESIGN §3). Only these end up
#: in ``Message.headers``; ``content-type`` is reduced to its lower-case ``type/subtype``.
RULE_HEADERS: tuple[str, ...] = (
    "list-id",
    "list-unsubscribe",
    "precedence",
    "auto-submitted",
    "x-auto-response-suppress",
    "feedback-id",
    "content-type",
    "in-reply-to",
    "return-path",
    "x-autoreply",
    "x-autorespond",
)

#: Every header :func:`parse_header_block` reads, e.g. for an IMAP
#: ``BODY.PEEK[HEADER.FIELDS (...)]`` request. ``subject`` is read only for the fingerprint.
FETCH_HEADERS: tuple[str, ...] = (
    "from",
    "sender",
    "to",
    "cc",
    "bcc",
    "date",
    "message-id",
    "subject",
    *RULE_HEADERS,
)

#: Google Takeout writes each message's Gmail labels into this header.
GMAIL_LABELS_HEADER = "x-gmail-labels"

#: Header blocks larger than this are cut here; no sane header block comes close.
HEADER_LIMIT = 256 * 1024

_READ_CHUNK = 8 * 1024
_LINE_BREAKS = b"\r\n"
_ADDRESS_FIELDS = frozenset({b"to", b"cc", b"bcc"})
_WANTED = frozenset(name.encode("ascii") for name in (*FETCH_HEADERS, GMAIL_LABELS_HEADER))
_RULE_HEADER_NAMES = {name.encode("ascii"): name for name in RULE_HEADERS}
#: Rule header values are kept for the classifier only; this bounds a hostile header's size.
_RULE_VALUE_LIMIT = 2000
_ARCHIVE_AT = re.compile(r"([\w.+-]+) at ([\w-]+(?:\.[\w-]+)+)")
#: The plausible times of a message (PROTOCOL-NOTES rule 11), for its Date header and its
#: delivery time (INTERNALDATE, a Maildir name or mtime, an mbox From_ line) alike: from
#: 1990-01-01 to two days after now. Earlier ones are unset clocks (1970, 1980); later ones
#: come from a wrong clock, and a contact in the future would keep a tie from ever going quiet.
EARLIEST_DATE = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(days=2)
NO_PLAUSIBLE_DATE = ("no plausible date: neither Date nor the delivery time lies between "
                     "1990-01-01 and two days from now")


class Unreadable(ValueError):
    """A header block that yields no usable message; ``reason`` is one line for a Skip."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------------------------
# Finding the header block


def uses_lf_line_endings(data: bytes | bytearray, start: int = 0) -> bool:
    """Return True unless ``data`` uses bare CR line endings (no LF in the first 64 KiB).

    CRLF text counts as LF text: its lines are split on LF and the CR is stripped.
    """
    if data.find(b"\n", start, start + 65536) >= 0:
        return True
    return data.find(b"\r", start, start + 65536) < 0


def find_blank_line(data: bytes | bytearray, start: int = 0, *, lf: bool = True) -> tuple[int, int]:
    """Find the first empty line in ``data`` at or after the line break at ``start``.

    ``start`` must point at a line break or at text inside a line: the search looks for a line
    break followed by an empty line. Return ``(header_end, body_start)``: ``header_end`` is the
    index just after the last header line's line break, ``body_start`` the index after the
    empty line. Return ``(-1, -1)`` when there is none. ``lf`` selects LF/CRLF text (True) or
    bare-CR text (False), as decided by the caller for the whole file or block.
    """
    if not lf:
        index = data.find(b"\r\r", start)
        return (index + 1, index + 2) if index >= 0 else (-1, -1)
    index = data.find(b"\n\n", start)
    # CRLF: the empty line is "\r\n" after a "\n"; look only up to a bare-LF hit, so a CRLF
    # search never runs through a whole body when a bare-LF blank line came first.
    crlf = data.find(b"\n\r\n", start, index + 3 if index >= 0 else len(data))
    if crlf >= 0 and (index < 0 or crlf < index):
        return crlf + 1, crlf + 3
    if index >= 0:
        return index + 1, index + 2
    return -1, -1


def _header_text(raw: bytes) -> bytes:
    """Return the header block at the start of ``raw`` (up to its empty line) as LF text.

    CRLF becomes LF; bare-CR text (no LF at all) has its CRs turned into LFs. A block with no
    empty line (truncated) is returned whole: every line present is used.
    """
    lf = uses_lf_line_endings(raw)
    if raw.startswith(b"\n" if lf else b"\r") or (lf and raw.startswith(b"\r\n")):
        return b""
    end, _ = find_blank_line(raw, 0, lf=lf)
    block = raw if end < 0 else raw[:end]
    if not lf:
        return block.replace(b"\r", b"\n")
    return block.replace(b"\r\n", b"\n") if b"\r" in block else block


def read_header_bytes(path: str | os.PathLike[str], limit: int = HEADER_LIMIT) -> bytes:
    """Read ``path`` only up to the end of its header block, in chunks of 8 KiB.

    Return the bytes read: the header block plus whatever of the body shared its last chunk,
    never more than ``limit`` bytes. A big attachment is never read. Raise :class:`OSError`
    (including :class:`FileNotFoundError`) as ``open`` does; the caller decides what a vanished
    or unreadable file means.
    """
    buffer = bytearray()
    # Unbuffered: each read() is one 8 KiB system call, nothing is read ahead.
    with open(path, "rb", buffering=0) as handle:
        while len(buffer) < limit:
            chunk = handle.read(min(_READ_CHUNK, limit - len(buffer)))
            if not chunk:
                break
            # Look again from just before the seam, so a blank line split across chunks counts.
            seam = max(len(buffer) - 2, 0)
            buffer += chunk
            lf = uses_lf_line_endings(buffer)
            if buffer.startswith(b"\n" if lf else b"\r") or (lf and buffer.startswith(b"\r\n")):
                break
            if find_blank_line(buffer, seam, lf=lf)[0] >= 0:
                break
    return bytes(buffer)


# --------------------------------------------------------------------------------------------
# Field values


def _decode(value: bytes) -> str:
    """Decode one header value: UTF-8 (RFC 6532), else Latin-1, which never fails."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _display_name(name: str) -> str:
    """Return a display name with RFC 2047 encoded words decoded; never raise."""
    if "=?" in name:
        try:
            name = str(make_header(decode_header(name)))
        except Exception:  # any defect in a name must not fail the message
            # An unknown charset label: the bytes are still there, and Latin-1 (which never
            # fails) gets most Western names right; a broken encoding stays as written.
            with contextlib.suppress(Exception):
                name = "".join(
                    part.decode("latin-1") if isinstance(part, bytes) else part
                    for part, _charset in decode_header(name))
    return " ".join(name.split())


#: Quoting, comments, groups and escapes need the full RFC 5322 parser; most real headers
#: (``a@b``, ``Name <a@b>``, lists of those) have none and take the fast path below, which
#: is ~4x cheaper than ``getaddresses`` and gives the same pairs for such values.
_NEEDS_FULL_PARSER = re.compile(r'[():;\\\[]|<[^>]*<|>[^,]')
_MAILBOX = re.compile(r'(?:"[^"]*"|[^,"])+')


def _simple_pairs(value: str) -> list[tuple[str, str]]:
    """Split ``a@b, "Last, First" <c@d>``-style values (commas inside quotes kept).

    Only for values :data:`_NEEDS_FULL_PARSER` lets through and with balanced quotes.
    """
    pairs = []
    for part in _MAILBOX.findall(value):
        name, bracket, address = part.rpartition("<")
        if bracket:
            # Quotes only delimit words in a display name (RFC 5322 §3.2.4), with no escapes
            # here, so dropping them leaves the words.
            name = " ".join(name.replace('"', " ").split())
            pairs.append((name, address.split(">", 1)[0].strip()))
        elif part.strip():
            pairs.append(("", part.strip()))
    return pairs


#: Address header values up to this length are remembered (``To: me@example.org`` and a
#: friend's ``From`` repeat in thousands of messages); 4096 of them take at most ~2 MB.
_CACHED_VALUE_LENGTH = 200


def parse_addresses(value: str) -> tuple[Address, ...]:
    """Return the usable, normalised, de-duplicated addresses of one address header value.

    Mailman archive spelling (``jgb at example.com``) is read as an address. Group syntax
    (RFC 5322 §3.4, e.g. ``undisclosed-recipients:;``) contributes its members,
    if any. Entries :func:`~syncd.addresses.normalize_address` rejects are dropped. Never raises.
    """
    if len(value) <= _CACHED_VALUE_LENGTH:
        return _parse_short_addresses(value)
    return _parse_addresses(value)


@functools.lru_cache(maxsize=4096)
def _parse_short_addresses(value: str) -> tuple[Address, ...]:
    # The answer is an immutable tuple of frozen Addresses, so sharing it is safe.
    return _parse_addresses(value)


#: One plain mailbox, the shape of most address values: ``local@domain``, ``<local@domain>`` or
#: ``Display Name <local@domain>``, ASCII only, with ``.'_-`` besides letters and digits in
#: the name's single-spaced words and ``._+-`` in the local part. For these the general path
#: below ends in the same Address every time: nothing for normalize_address to strip or
#: reject, the address only lower-cased, no encoded word or quote in the name. Gmail's domains
#: take the general path (normalize_address drops dots and +tags there).
_PLAIN_NAME = r"[A-Za-z0-9.'_-]+(?: [A-Za-z0-9.'_-]+)*"
_PLAIN_ADDRESS = r"[A-Za-z0-9._+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"  # group: the domain
_PLAIN_MAILBOX = re.compile(
    rf"(?:(?:({_PLAIN_NAME}) *)?<({_PLAIN_ADDRESS})>)|({_PLAIN_ADDRESS})"
)
_GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


def _parse_addresses(value: str) -> tuple[Address, ...]:
    plain = _PLAIN_MAILBOX.fullmatch(value)
    if plain is not None:
        name, bracketed, bracketed_domain, bare, bare_domain = plain.groups()
        address = bracketed or bare
        if (bracketed_domain or bare_domain).lower() not in _GMAIL_DOMAINS:
            return (Address(address.lower(), name or "", address),)
    if "@" not in value and " at " in value:
        # Mailman's pipermail archives spell "jgb@example.com" as "jgb at example.com".
        value = _ARCHIVE_AT.sub(r"\1@\2", value)
    if _NEEDS_FULL_PARSER.search(value) or value.count('"') % 2:
        try:
            pairs = getaddresses([value])
        except Exception:  # a parser defect on hostile input must not fail the message
            return ()
    else:
        pairs = _simple_pairs(value)
    result: list[Address] = []
    seen: set[str] = set()
    for name, raw_address in pairs:
        email = normalize_address(raw_address)
        if email is None or email in seen:
            continue
        seen.add(email)
        result.append(Address(email, _display_name(name) if name else "",
                              raw_address.strip().strip("<>").strip()))
    return tuple(result)


#: RFC 5322 §3.3 date-time as nearly all mail writes it: optional weekday, 1-2 digit day,
#: month name, 4-digit year from 1900, hh:mm[:ss], numeric zone, optional trailing comment.
_COMMON_DATE = re.compile(
    r"\s*(?:[A-Za-z]{3},\s*)?(\d{1,2}) ([A-Za-z]{3}) ((?:19|20)\d\d) (\d{2}):(\d{2})"
    r"(?::(\d{2}))? ([+-])(\d{2})(\d{2})\s*(?:\([^()]*\))?\s*"
)
_MONTH_NUMBERS = {
    name: number for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1)
}


_EARLIEST_STAMP = int(EARLIEST_DATE.timestamp())
_TOLERANCE_SECONDS = FUTURE_TOLERANCE.total_seconds()


def parse_date(
    value: str, *, received: datetime | None, now: datetime | None = None
) -> datetime | None:
    """Return the RFC 5322 §3.3 date in ``value`` as an aware UTC datetime, or None.

    A missing zone and ``-0000`` ("zone unknown", RFC 5322 §3.3) are read as UTC. The Date
    header is written by the sender, so implausible values give None and the caller falls back
    to the receive time (PROTOCOL-NOTES rule 11): before 1990-01-01, more than two days after
    ``now`` (default: the clock) whatever ``received`` says, or more than two days after
    ``received`` when given. ``now`` and ``received`` are aware. Never raises.
    """
    common = _COMMON_DATE.fullmatch(value)
    month = _MONTH_NUMBERS.get(common.group(2).lower(), 0) if common else 0
    if common and month:
        # The usual "Mon, 1 Jan 2024 10:00:00 +0100", read directly in Unix seconds: ~8x
        # faster than parsedate_tz plus datetime arithmetic, with the same checks. Second 60
        # is a leap second (RFC 5322 §3.3); datetime cannot hold it, so it reads as 59.
        day, _, year, hour, minute, second, sign, zone_hours, zone_minutes = common.groups()
        stamp = utc_stamp(int(year), month, int(day), int(hour), int(minute),
                          min(int(second or 0), 59))
        if stamp is None:
            return None
        offset = int(zone_hours) * 3600 + int(zone_minutes) * 60
        stamp = stamp + offset if sign == "-" else stamp - offset
        if stamp < _EARLIEST_STAMP:
            return None
        # Comparing whole seconds with float timestamps of microsecond datetimes is exact:
        # near 2**31 a double resolves 2.4e-7 s, finer than a microsecond.
        limit = (now.timestamp() if now is not None else time.time()) + _TOLERANCE_SECONDS
        if stamp > limit or (received is not None
                             and stamp > received.timestamp() + _TOLERANCE_SECONDS):
            return None
        return datetime.fromtimestamp(stamp, UTC)
    try:
        parts = parsedate_tz(value)
    except Exception:  # parsedate_tz has raised on odd input in some CPython versions
        return None
    if parts is None:
        return None
    year = parts[0]
    if 100 <= year < 200:
        # The Y2K bug of writing C's tm_year (years since 1900) as the year: "0102" is 2002.
        year += 1900
    try:
        # Second 60 is a leap second (RFC 5322 §3.3); datetime cannot hold it. parsedate_tz
        # reports both a missing zone and "-0000" as offset 0 or None: both mean UTC here.
        moment = datetime(
            year, parts[1], parts[2], parts[3], parts[4], min(parts[5], 59), tzinfo=UTC
        ) - timedelta(seconds=parts[9] or 0)
    except (ValueError, OverflowError, TypeError):
        return None
    ceiling = (now or datetime.now(UTC)) + FUTURE_TOLERANCE
    if received is not None:
        ceiling = min(ceiling, received + FUTURE_TOLERANCE)
    if moment < EARLIEST_DATE or moment > ceiling:
        return None
    return moment


def is_plausible_time(moment: datetime, now: datetime | None = None) -> bool:
    """True when ``moment`` (aware) lies from 1990-01-01 to two days after ``now`` (default:
    the clock): the range every time a mail source gives must be in to be used."""
    if now is not None:
        return EARLIEST_DATE <= moment <= now + FUTURE_TOLERANCE
    # Against the clock, as Unix seconds: no datetime built per message.
    return moment >= EARLIEST_DATE and moment.timestamp() <= time.time() + _TOLERANCE_SECONDS


def _message_id(value: str) -> str | None:
    """Return the Message-ID without angle brackets and whitespace, or None if empty."""
    opening = value.find("<")
    if opening >= 0:
        closing = value.find(">", opening)
        if closing > opening:
            value = value[opening + 1 : closing]
    # Folding may have put whitespace inside the id (RFC 5322 §3.6.4 msg-id has none).
    text = "".join(value.split()).strip("<>")
    return text or None


def _content_type(value: str) -> str:
    """Return the lower-case ``type/subtype`` of a Content-Type value (RFC 2045 §5.1)."""
    return "".join(value.split(";", 1)[0].split()).lower()


_SENT_LABELS = frozenset({"sent"})
_JUNK_LABELS = frozenset({"spam"})
_TRASH_LABELS = frozenset({"trash"})
_DRAFT_LABELS = frozenset({"drafts", "draft"})


def role_from_gmail_labels(value: str) -> Role:
    """Return the folder role Gmail labels imply (Google Takeout ``X-Gmail-Labels``).

    The header is a comma-separated list such as ``Archived,Sent,Opened``. Sent wins over the
    rest (mail I sent stays contact even if later trashed); then Spam, Trash, Drafts; then
    Inbox; anything else is archived mail.
    """
    labels = {_display_name(label).strip().strip('"').casefold() for label in value.split(",")}
    if labels & _SENT_LABELS:
        return Role.SENT
    if labels & _JUNK_LABELS:
        return Role.JUNK
    if labels & _TRASH_LABELS:
        return Role.TRASH
    if labels & _DRAFT_LABELS:
        return Role.DRAFTS
    if "inbox" in labels:
        return Role.INBOX
    return Role.ARCHIVE


# --------------------------------------------------------------------------------------------
# The parser


def _fingerprint(fields: dict[bytes, bytes]) -> str:
    """SHA-1 of the raw Date, From, To, Cc and Subject values, whitespace runs collapsed.

    Collapsing whitespace keeps the hash equal when a store re-folds a header or changes line
    endings, so the same message read from Maildir and from IMAP hashes alike.
    """
    digest = hashlib.sha1(usedforsecurity=False)
    for name in (b"date", b"from", b"to", b"cc", b"subject"):
        digest.update(b" ".join(fields.get(name, b"").split()))
        digest.update(b"\x00")
    return digest.hexdigest()


#: One header field (RFC 5322 §2.2): a name at the start of a line, optional whitespace
#: before the colon (obsolete syntax, §4.5.3), and the value with its folded continuation
#: lines (§2.2.3: a line starting with space or tab continues the field above). A line that is
#: neither (an mbox ``From_`` line, junk, a continuation with no field above) matches nothing.
_FIELD = re.compile(rb"^([^\s:]+)[ \t]*:([^\n]*(?:\n[ \t][^\n]*)*)", re.MULTILINE)


def _collect_fields(block: bytes) -> tuple[dict[bytes, bytes], int]:
    """Keep the wanted fields of an LF header block, unfolded; return them and the count of
    all fields.

    The first occurrence of a field wins, except To/Cc/Bcc, whose repeats are joined (RFC 5322
    §3.6 allows one of each, but real mail repeats them).
    """
    matches = _FIELD.findall(block)
    if b"\n " not in block and b"\n\t" not in block:
        # No folds, so no value holds a line break. An IMAP HEADER.FIELDS answer has only the
        # wanted fields, usually each once: then they are the whole answer, in one step.
        fields = {name.lower(): value for name, value in matches}
        if len(fields) == len(matches) and fields.keys() <= _WANTED:
            return fields, len(matches)
    fields = {}
    for name, value in matches:
        name = name.lower()
        if name in _WANTED:
            if b"\n" in value:
                value = value.replace(b"\n", b"")  # unfold: only folds hold a line break
            previous = fields.get(name)
            if previous is None:
                fields[name] = value
            elif name in _ADDRESS_FIELDS:
                fields[name] = previous + b"," + value
    return fields, len(matches)


def parse_header_block(
    raw: bytes,
    *,
    source_id: str,
    folder_role: Role,
    received: datetime | None,
    gmail_labels: bool = False,
    now: datetime | None = None,
) -> Message:
    """Parse the header block at the start of ``raw`` into a :class:`Message`.

    ``raw`` is a header block, optionally followed by an empty line and anything else (a body
    is ignored); a leading mbox ``From_`` line is ignored. ``received`` (aware UTC) is the
    store's delivery time, kept as the fallback for an absent or implausible Date. With
    ``gmail_labels`` an ``X-Gmail-Labels`` header (Google Takeout) overrides ``folder_role``.
    ``now`` replaces the clock in the plausibility checks. Both the Date header and
    ``received`` are used only when plausible (:func:`is_plausible_time`); the Date header,
    when plausible, is the message's time, else ``received``.

    Return the message. Raise :class:`Unreadable` (and nothing else) when no usable message
    can be read: ``"no header block"``, ``"no From and no recipients"``, or
    :data:`NO_PLAUSIBLE_DATE` when neither time is plausible (or there is none).
    """
    try:
        # The usual CRLF block that ends in an empty line (an IMAP answer) without the
        # general search of _header_text, which gives the same text for it (an LF within the
        # first 64 KiB makes it LF/CRLF text there too).
        end = raw.find(b"\n\r\n")
        if 0 < end < 65536 and raw[0] not in _LINE_BREAKS and raw.find(b"\n\n", 0, end + 1) < 0:
            text = raw[: end + 1].replace(b"\r\n", b"\n")
        else:
            text = _header_text(raw)
        fields, field_count = _collect_fields(text)
    except Exception as error:  # defensive: byte slicing should not fail, but never escape
        raise Unreadable(f"header block cannot be split ({type(error).__name__})") from error
    if field_count == 0:
        raise Unreadable("no header block")
    if received is not None and not is_plausible_time(received, now):
        received = None  # a wrong clock where the mail was stored: no better than none
    try:
        return _build_message(fields, source_id, folder_role, received, gmail_labels, now)
    except Unreadable:
        raise
    except Exception as error:  # a library defect on hostile input must not stop the sync
        raise Unreadable(f"headers cannot be parsed ({type(error).__name__})") from error


def _build_message(
    fields: dict[bytes, bytes],
    source_id: str,
    folder_role: Role,
    received: datetime | None,
    gmail_labels: bool,
    now: datetime | None,
) -> Message:
    """Turn the collected raw fields into a Message; see :func:`parse_header_block`.

    Each value is decoded (:func:`_decode`, then stripped) only if it is read: Subject never,
    Sender only without a usable From, X-Gmail-Labels only with ``gmail_labels``.
    """
    get = fields.get
    raw = get(b"from")
    from_text = _decode(raw).strip() if raw is not None else ""
    sender_list = parse_addresses(from_text) if from_text else ()
    if not sender_list and (raw := get(b"sender")) is not None:
        # RFC 5322 §3.6.2: Sender is the agent that transmitted the message; better than none.
        sender_list = parse_addresses(_decode(raw).strip())
    sender = sender_list[0] if sender_list else None
    to = parse_addresses(_decode(raw).strip()) if (raw := get(b"to")) is not None else ()
    cc = parse_addresses(_decode(raw).strip()) if (raw := get(b"cc")) is not None else ()
    bcc = parse_addresses(_decode(raw).strip()) if (raw := get(b"bcc")) is not None else ()
    if sender is None and not (to or cc or bcc):
        raise Unreadable("no From and no recipients")

    headers: dict[str, str] = {}
    for name_bytes, raw in fields.items():
        name = _RULE_HEADER_NAMES.get(name_bytes)
        if name is None:
            continue
        value = _decode(raw).strip()
        if name == "content-type":
            value = _content_type(value)
        if value:
            # Kept verbatim: "Return-Path: <>" is the null reverse path of a bounce
            # (RFC 5321 §4.4), a value the rules must be able to see.
            headers[name] = value[:_RULE_VALUE_LIMIT]

    role = folder_role
    if gmail_labels and (raw := get(b"x-gmail-labels")) is not None:
        role = role_from_gmail_labels(_decode(raw).strip())

    raw = get(b"date")
    date_text = _decode(raw).strip() if raw is not None else ""
    date = parse_date(date_text, received=received, now=now) if date_text else None
    if date is None and received is None:
        # A contact needs a time; inventing one (1980-01-01, 2044) would be worse than none.
        raise Unreadable(NO_PLAUSIBLE_DATE)
    raw = get(b"message-id")
    message_id_text = _decode(raw).strip() if raw is not None else ""
    message_id = _message_id(message_id_text) if message_id_text else None
    return Message(
        source_id=source_id,
        message_id=message_id,
        date=date,
        received=received,
        sender=sender,
        to=to,
        cc=cc,
        bcc=bcc,
        folder_role=role,
        headers=headers,
        # Only a message without a Message-ID needs it (its dedupe key, syncd.rules).
        fingerprint="" if message_id else _fingerprint(fields),
    )


def parse_or_skip(
    raw: bytes,
    *,
    source_id: str,
    folder_role: Role,
    received: datetime | None,
    gmail_labels: bool = False,
    now: datetime | None = None,
) -> Message | Skip:
    """Like :func:`parse_header_block`, but return ``Skip(source_id, reason)`` when unreadable."""
    try:
        return parse_header_block(
            raw,
            source_id=source_id,
            folder_role=folder_role,
            received=received,
            gmail_labels=gmail_labels,
            now=now,
        )
    except Unreadable as unreadable:
        return Skip(source_id, unreadable.reason)


# --------------------------------------------------------------------------------------------
# Paging
