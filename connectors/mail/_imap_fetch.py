"""The hot path of the IMAP source: one raw ``UID FETCH lo:hi`` and its response, parsed fast.

imapclient 4.x cannot send a UID *range* through ``fetch()`` (it filters the answer by the
integer ids it was given, mjs/imapclient#647) and sends explicit UID lists uncompressed, which
Dovecot refuses beyond ~8 KB (``BAD Too long argument``; RFC 7162 §4 advises clients to keep
command lines under 8192 octets). So the command is sent through imaplib, which imapclient
wraps, and its answer is read here straight from the connection's byte stream
(:func:`read_fetch_answer`): imaplib's general response loop costs about a third of the
client's time per message.

Nothing here knows imapclient or sockets; the reader is pure over ``readline``/``read`` and
unit-tested on canned server bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from connectors.mail._stamps import utc_stamp

#: Longest response line accepted (imaplib's own limit): a guard against a runaway server.
_MAX_LINE = 1_000_000
_UID = re.compile(rb"[( ]UID (\d+)")
_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]*)"')
_HEADER_ITEM = re.compile(rb"BODY\[HEADER\.FIELDS")
_LABELS = re.compile(rb"X-GM-LABELS \(")
#: The line Dovecot (and most servers) start each answered message with, for the items
#: fetch_items asks of a non-Gmail server, up to its header literal's size. Its character
#: classes leave out quotes, parentheses and braces, so for such a line the general reading
#: below finds exactly these UID, INTERNALDATE and literal, and no labels.
_COMMON_FETCH = re.compile(
    rb'\* \d+ FETCH \(UID (\d+) INTERNALDATE "([0-9A-Za-z :+-]*)" '
    rb"BODY\[HEADER\.FIELDS \([0-9A-Za-z .-]*\)\] \{(\d+)\}\r\n"
)
_INTERNALDATE_PARTS = re.compile(
    r"\s*(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})"
)
_MONTHS = {
    name: index
    for index, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}


@dataclass(frozen=True, slots=True)
class Fetched:
    """One message of a FETCH answer: its UID, INTERNALDATE (UTC) and raw header fields."""

    uid: int
    received: datetime | None
    header: bytes
    labels: tuple[str, ...] = ()


def fetch_items(header_fields: Sequence[str], *, gmail: bool = False) -> str:
    """Return the FETCH item list: UID, INTERNALDATE and only ``header_fields``.

    ``BODY.PEEK`` never sets ``\\Seen`` (RFC 3501 §6.4.5); ENVELOPE is avoided because it makes
    the server parse every address header (4-5x slower, PROTOCOL-NOTES). With ``gmail`` the
    X-GM-LABELS item (Gmail IMAP extensions) tells which label, e.g. ``\\Sent``, a message has.
    """
    fields = " ".join(name.upper() for name in header_fields)
    labels = " X-GM-LABELS" if gmail else ""
    return f"(UID INTERNALDATE{labels} BODY.PEEK[HEADER.FIELDS ({fields})])"


def parse_internaldate(value: str) -> datetime | None:
    """Parse an RFC 3501 §9 ``date-time`` (``17-Jul-1996 02:44:25 -0700``) to aware UTC.

    Return None for anything malformed; never raise.
    """
    match = _INTERNALDATE_PARTS.match(value)
    if match is None:
        return None
    day, month_name, year, hour, minute, second, sign, zone_hours, zone_minutes = match.groups()
    month = _MONTHS.get(month_name.lower())
    if month is None:
        return None
    offset = int(zone_hours) * 3600 + int(zone_minutes) * 60
    if 1900 <= int(year) < 2100:
        # Every real INTERNALDATE: integer seconds, one datetime built (see utc_stamp).
        stamp = utc_stamp(int(year), month, int(day), int(hour), int(minute), int(second))
        if stamp is None:
            return None
        return datetime.fromtimestamp(stamp + offset if sign == "-" else stamp - offset, UTC)
    try:
        moment = datetime(int(year), month, int(day), int(hour), int(minute), int(second),
                          tzinfo=UTC)
    except ValueError:
        return None
    delta = timedelta(seconds=offset)
    return moment + delta if sign == "-" else moment - delta


def _labels(meta: bytes) -> tuple[str, ...]:
    """Return the X-GM-LABELS of one FETCH response (Gmail IMAP extensions), or ().

    The value is an IMAP parenthesized list (RFC 3501 §4, §9) whose elements are astrings:
    atoms (``Family``, and the flag-like ``\\Sent`` Google's documentation shows), quoted
    strings with ``\\`` escapes (Gmail really sends ``"\\\\Sent"``: node-imap#187,
    MailKit#195) and literals, which :func:`read_fetch_answer` has already turned into quoted
    strings. Every element comes back unquoted and unescaped, so both forms of a system label
    read ``\\Sent``. Labels are not decoded from modified UTF-7: only the ASCII system labels
    matter here.
    """
    match = _LABELS.search(meta)
    if match is None:
        return ()
    labels = _list_elements(meta, match.end())
    return tuple(label.decode("utf-8", "replace") for label in labels)


def _list_elements(data: bytes, start: int) -> list[bytes]:
    """Return the elements of the parenthesized list whose ``(`` ends just before ``start``.

    Elements are atoms and quoted strings (RFC 3501 §9 ``astring``); quoted strings lose their
    quotes and backslash escapes (``quoted-specials``). A nested list is skipped. Reading stops
    at the list's ``)`` or at the end of ``data`` (a truncated list gives what it held). Never
    raises.
    """
    elements: list[bytes] = []
    index, length, depth = start, len(data), 0
    while index < length:
        character = data[index : index + 1]
        if character in (b" ", b"\r", b"\n"):
            index += 1
        elif character == b")":
            if depth == 0:
                break
            depth -= 1
            index += 1
        elif character == b"(":
            depth += 1
            index += 1
        elif character == b'"':
            value = bytearray()
            index += 1
            while index < length and data[index : index + 1] != b'"':
                if data[index : index + 1] == b"\\" and index + 1 < length:
                    index += 1  # quoted-specials: \\ and \" stand for themselves
                value += data[index : index + 1]
                index += 1
            index += 1  # the closing quote
            if depth == 0:
                elements.append(bytes(value))
        else:
            end = index
            while end < length and data[end : end + 1] not in (b" ", b"(", b")", b'"', b"\r",
                                                                 b"\n"):
                end += 1
            if depth == 0:
                elements.append(data[index:end])
            index = end
    return elements


def _quote(value: bytes) -> bytes:
    """Return ``value`` as an IMAP quoted string (RFC 3501 §9), ``"`` and ``\\`` escaped."""
    return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def _fetched(meta: bytes, literal: bytes | None) -> Fetched | None:
    """One FETCH response from its text outside literals and its header literal, if any."""
    match = _UID.search(meta)
    if match is None or (literal is None and _HEADER_ITEM.search(meta) is None):
        return None
    date_match = _INTERNALDATE.search(meta)
    received = (parse_internaldate(date_match.group(1).decode("ascii", "replace"))
                if date_match else None)
    return Fetched(int(match.group(1)), received, literal or b"", _labels(meta))


def read_fetch_answer(readline: Callable[[int], bytes], read: Callable[[int], bytes],
                      tag: bytes) -> tuple[str, str, dict[int, Fetched]]:
    """Read a ``UID FETCH`` answer from the connection up to the completion tagged ``tag``.

    ``readline(limit)`` and ``read(size)`` read the server's byte stream (a buffered socket
    file). Return the completion's status (``OK``, ``NO`` or ``BAD``), its text, and the
    fetched messages keyed by UID. A response that names no UID (an unsolicited flag update of
    another message, RFC 3501 §7.4.2) or carries no header item is not a message; a header
    sent as a quoted string or NIL gives an empty header block. A line ending in ``{n}`` is
    followed by an n-byte literal and the rest of the response (RFC 3501 §4.3); untagged
    responses other than FETCH (EXISTS, EXPUNGE, OK ...) are ignored.

    This is imaplib's reading loop without its per-line generality (about a third of the
    client's time per message). Raise EOFError when the stream ends, the server says BYE
    (RFC 3501 §7.1.5), or a line is longer than 1 MB or announces a malformed literal: the
    connection cannot be trusted after any of these.
    """
    result: dict[int, Fetched] = {}
    done = tag + b" "
    while True:
        line = readline(_MAX_LINE)
        if not line.endswith(b"\n"):
            raise EOFError("the connection ended" if not line else "a response line is too long")
        if line.startswith(done):
            status, _, text = line[len(done):].rstrip(b"\r\n").partition(b" ")
            return (status.decode("ascii", "replace").upper(), text.decode("utf-8", "replace"),
                    result)
        if not line.endswith(b"}\r\n"):
            if line.startswith(b"* BYE"):
                raise EOFError(f"the server said {line[2:].strip().decode('utf-8', 'replace')}")
            if b" FETCH " in line:
                fetched = _fetched(line, None)
                if fetched is not None:
                    result[fetched.uid] = fetched
            continue
        segments = []
        header: bytes | None = None
        common = _COMMON_FETCH.fullmatch(line)
        if common is not None:
            # The usual message, followed by ")": read in one step (~40% of this loop's cost).
            length = int(common.group(3))
            header = read(length)
            if len(header) != length:
                raise EOFError("the connection ended inside a literal")
            line = readline(_MAX_LINE)
            if line == b")\r\n":
                uid = int(common.group(1))
                result[uid] = Fetched(uid, parse_internaldate(common.group(2).decode("ascii")),
                                      header)
                continue
            if not line.endswith(b"\n"):
                raise EOFError("the connection ended" if not line else
                               "a response line is too long")
            # Anything else after the literal: go on as the general reading would.
            segments.append(common.string[: common.start(3) - 1] + b'""')
        while line.endswith(b"}\r\n"):
            opening = line.rfind(b"{")
            size = line[opening + 1 : -3]
            if opening < 0 or not size.isdigit():
                raise EOFError("a response announces a malformed literal")
            literal = read(int(size))
            if len(literal) != int(size):
                raise EOFError("the connection ended inside a literal")
            segment = line[:opening]
            if _HEADER_ITEM.search(segment):
                header = literal
                segments.append(segment + b'""')
            else:
                # Any other literal (a Gmail label with odd characters, RFC 3501 §4.3) stays
                # in the text as the quoted string it stands for, so the list around it parses.
                segments.append(segment + _quote(literal))
            line = readline(_MAX_LINE)
            if not line.endswith(b"\n"):
                raise EOFError("the connection ended" if not line else
                               "a response line is too long")
        segments.append(line)
        if b" FETCH " in segments[0]:
            fetched = _fetched(b"".join(segments), header)
            if fetched is not None:
                result[fetched.uid] = fetched


def uid_ranges(uids: Sequence[int], size: int) -> list[list[int]]:
    """Split sorted ``uids`` into batches of at most ``size``, each sent as ``first:last``.

    A batch's range may contain UIDs that no longer exist (expunged before the SEARCH); never
    new ones, since UIDs only grow (RFC 3501 §2.3.1.1), so a range asks for exactly its batch.
    """
    return [list(uids[start : start + size]) for start in range(0, len(uids), size)]
