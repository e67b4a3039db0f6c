"""Rules for the fast paths of the mail parser: they give exactly what the general path gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_tz

import pytest

from connectors.mail._mail import (
    _COMMON_DATE,
    _PLAIN_MAILBOX,
    Unreadable,
    _parse_addresses,
    parse_addresses,
    parse_date,
    parse_header_block,
)
from syncd.model import Address, Role

RECEIVED = datetime(2030, 1, 1, tzinfo=UTC)


def general(value: str) -> datetime | None:
    """parse_date's answer as parsedate_tz alone gives it (the path before the fast one)."""
    parts = parsedate_tz(value)
    if parts is None:
        return None
    try:
        moment = datetime(parts[0], parts[1], parts[2], parts[3], parts[4], min(parts[5], 59),
                          tzinfo=UTC) - timedelta(seconds=parts[9] or 0)
    except (ValueError, OverflowError):
        return None
    if moment < datetime(1990, 1, 1, tzinfo=UTC) or moment > RECEIVED + timedelta(days=2):
        return None
    return moment


@pytest.mark.parametrize("value", [
    "Mon, 1 Jan 2024 10:00:00 +0100",
    "1 Jan 2024 10:00 -0000",
    "Wed, 12 Mar 2025 23:59:60 -0830 (PST)",
    "Thu, 05 DEC 1999 00:00:00 +1400",
    "Tue, 31 Feb 2024 10:00:00 +0000",
    "Sat, 9 Sep 2023 25:00:00 +0000",
    "Sun, 3 Mar 1989 10:00:00 +0100",
    "Mon, 3 Mar 2031 10:00:00 +0100",
    # Integer seconds: month lengths, leap days, the 1990 floor, zones across midnight.
    "Thu, 29 Feb 2024 10:00:00 +0000",
    "Wed, 29 Feb 2023 10:00:00 +0000",
    "1 Jan 1990 00:30:00 +0100",
    "31 Dec 1989 23:30:00 -0100",
    "1 Jan 1990 00:00:00 +0000",
    "31 Dec 2029 23:00:00 -9959",
    "1 Jan 2024 10:60:00 +0000",
    "0 Jan 2024 10:00:00 +0000",
    "31 Apr 2024 10:00:00 +0000",
])
def test_the_common_date_shape_is_read_as_parsedate_tz_reads_it(value):
    assert _COMMON_DATE.fullmatch(value)
    assert parse_date(value, received=RECEIVED) == general(value)


def test_other_date_shapes_still_take_the_general_path():
    assert parse_date("Fri, 1 Mar 2024 10:00:00 GMT", received=RECEIVED) == datetime(
        2024, 3, 1, 10, tzinfo=UTC)
    assert parse_date("Fri, 1 Foo 2024 10:00:00 +0000", received=RECEIVED) is None


def test_remembered_address_values_are_the_same_answer_and_long_values_are_not_kept():
    assert parse_addresses("Bob <BOB@Example.org>") is parse_addresses("Bob <BOB@Example.org>")
    many = ", ".join(f"person{index}@example.org" for index in range(40))
    assert len(parse_addresses(many)) == 40
    assert parse_addresses(many) is not parse_addresses(many)


def test_the_plausibility_edges_are_whole_seconds_against_now_and_received():
    now = datetime(2026, 1, 1, 12, 0, 0, 500000, tzinfo=UTC)  # half a second past noon
    assert parse_date("3 Jan 2026 12:00:00 +0000", received=None, now=now) is not None
    assert parse_date("3 Jan 2026 12:00:01 +0000", received=None, now=now) is None
    received = datetime(2025, 6, 1, tzinfo=UTC)
    assert parse_date("3 Jun 2025 00:00:00 +0000", received=received, now=now) == datetime(
        2025, 6, 3, tzinfo=UTC)
    assert parse_date("3 Jun 2025 00:00:01 +0000", received=received, now=now) is None


def written(addresses: tuple[Address, ...]) -> list[tuple[str, str, str]]:
    """Every field, ``written`` too (Address equality leaves it out)."""
    return [(address.email, address.name, address.written) for address in addresses]


@pytest.mark.parametrize(("value", "expected"), [
    ("Friend 3 <Person3@Domain3.example>",
     [("person3@domain3.example", "Friend 3", "Person3@Domain3.example")]),
    ("<a.b+c@x-y.example.org>", [("a.b+c@x-y.example.org", "", "a.b+c@x-y.example.org")]),
    ("Dr. O'Neil<o@x.org>", [("o@x.org", "Dr. O'Neil", "o@x.org")]),
    ("Ann   Lee <a@x.org>", [("a@x.org", "Ann Lee", "a@x.org")]),
    ("A.B+tag@GoogleMail.com", [("ab@gmail.com", "", "A.B+tag@GoogleMail.com")]),
    ("=?utf-8?q?J=C3=BCrgen?= <j@x.org>", [("j@x.org", "Jürgen", "j@x.org")]),
    ('"Lee, Ann" <a@x.org>', [("a@x.org", "Lee, Ann", "a@x.org")]),
    ("a@localhost", []),
    ("Ann <a@x.org", [("a@x.org", "Ann", "a@x.org")]),
])
def test_plain_mailboxes_read_as_the_general_path_reads_them(value, expected):
    # Surrounding spaces keep a value off the one-regex path; both paths must agree.
    assert written(_parse_addresses(value)) == expected
    assert written(_parse_addresses(f" {value} ")) == expected


def test_only_single_plain_mailboxes_outside_gmail_take_the_one_regex_path():
    assert _PLAIN_MAILBOX.fullmatch("Friend 3 <person3@domain3.example>")
    assert _PLAIN_MAILBOX.fullmatch("me@example.com")
    for value in ("a@x.org, b@y.org", '"Lee, Ann" <a@x.org>', "Ann <a@x.org", "Ann (x) <a@x.org>",
                  "J\u00fcrgen <j@x.org>", "a@x"):
        assert not _PLAIN_MAILBOX.fullmatch(value), value


def parsed(raw: bytes) -> object:
    try:
        return parse_header_block(raw, source_id="s", folder_role=Role.INBOX,
                                  received=datetime(2024, 1, 2, tzinfo=UTC))
    except Unreadable as unreadable:
        return unreadable.reason


@pytest.mark.parametrize("raw", [
    # An IMAP-shaped answer: CRLF, each field once, an empty line at the end.
    b"From: a@x.org\r\nTo: b@y.org\r\nDate: 1 Jan 2024 10:00:00 +0000\r\n\r\n",
    # To repeated (joined), Cc folded (unfolded), an unwanted field: the general loop.
    b"From: a@x.org\r\nTo: b@y.org\r\nX-Other: 1\r\nTo: c@z.org\r\n"
    b"Cc: d@y.org,\r\n e@y.org\r\n\r\n",
    # A bare-LF empty line before the CRLF one ends the block there: Cc is not read.
    b"From: a@x.org\r\nTo: b@y.org\n\nCc: c@z.org\r\n\r\n",
    # A leading line break: no header block.
    b"\r\nFrom: a@x.org\r\n\r\n",
])
def test_crlf_blocks_read_the_same_as_their_lf_spelling(raw):
    assert parsed(raw) == parsed(raw.replace(b"\r\n", b"\n"))
