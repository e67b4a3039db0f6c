"""The hot path of the IMAP source: one raw ``UID FETCH lo:hi`` and its response, parsed fast.

imapclient 4.x cannot send a UID *range* through ``fetch()`` (it filters the answer by the
integer ids it was given, mjs/imapclient#647) and sends explicit UID lists uncompressed, which
Dovecot refuses beyond ~8 KB (``BAD Too long argument``; RFC 7162 §4 advises clients to keep
command lines under 8192 octets). So the fetch goes through imaplib, which imapclient wraps, and
this module reads imaplib's raw answer: a list whose items are ``(prefix, literal)`` tuples,
followed by the bytes that close the FETCH response, or plain bytes for a response without a
literal.

Nothing here knows imapclient; :func:`parse_fetch` is pure and unit-tested on canned answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_UID = re.compile(rb"[( ]UID (\d+)")
_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]*)"')
_HEADER_ITEM = re.compile(rb"BODY\[HEADER\.FIELDS")
_LABELS = re.compile(rb"X-GM-LABELS \(([^)]*)\)")
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
    try:
        moment = datetime(int(year), month, int(day), int(hour), int(minute), int(second),
                          tzinfo=UTC)
    except ValueError:
        return None
    offset = timedelta(hours=int(zone_hours), minutes=int(zone_minutes))
    return moment + offset if sign == "-" else moment - offset


def _labels(meta: bytes) -> tuple[str, ...]:
    match = _LABELS.search(meta)
    if match is None:
        return ()
    # Labels are atoms or quoted strings; only the system labels (\Sent, \Draft ...) matter.
    return tuple(part.decode("utf-8", "replace").strip('"') for part in match.group(1).split())


def parse_fetch(data: Iterable[object]) -> dict[int, Fetched]:
    """Read imaplib's raw ``UID FETCH`` answer into ``{uid: Fetched}``.

    Items are ``(prefix, literal)`` tuples (the literal is the header block) followed by the
    bytes that close that response (which may still hold items such as ``UID 5)``), or bytes
    alone. A response that names no UID (an unsolicited flag update of another message, RFC
    3501 §7.4.2) or carries no header item is not a fetched message and is left out; a header
    sent as a quoted string or NIL instead of a literal gives an empty header block.
    """
    result: dict[int, Fetched] = {}
    pending: tuple[bytes, bytes] | None = None

    def finish(meta: bytes, literal: bytes | None) -> None:
        match = _UID.search(meta)
        if match is None or (literal is None and _HEADER_ITEM.search(meta) is None):
            return
        date_match = _INTERNALDATE.search(meta)
        received = (parse_internaldate(date_match.group(1).decode("ascii", "replace"))
                    if date_match else None)
        uid = int(match.group(1))
        result[uid] = Fetched(uid, received, literal or b"", _labels(meta))

    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            if pending is not None:
                finish(pending[0], pending[1])
            prefix, literal = item
            pending = (bytes(prefix), bytes(literal))
        elif isinstance(item, bytes | bytearray):
            if pending is not None:
                # The closing bytes of the response whose literal came just before.
                finish(pending[0] + b" " + bytes(item), pending[1])
                pending = None
            else:
                finish(bytes(item), None)
    if pending is not None:
        finish(pending[0], pending[1])
    return result


def uid_ranges(uids: Sequence[int], size: int) -> list[list[int]]:
    """Split sorted ``uids`` into batches of at most ``size``, each sent as ``first:last``.

    A batch's range may contain UIDs that no longer exist (expunged before the SEARCH); never
    new ones, since UIDs only grow (RFC 3501 §2.3.1.1), so a range asks for exactly its batch.
    """
    return [list(uids[start : start + size]) for start in range(0, len(uids), size)]
