"""Rules for reading a raw UID FETCH answer (connectors.mail._imap_fetch), on the bytes a server
sends."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from connectors.mail._imap_fetch import (
    fetch_items,
    parse_internaldate,
    read_fetch_answer,
    uid_ranges,
)

HEADER = b"From: a@example.org\r\n\r\n"


def answer(wire: bytes):
    """Read ``wire`` (ending with the completion of tag A7) as the connection would."""
    stream = io.BytesIO(wire)
    return read_fetch_answer(stream.readline, stream.read, b"A7")


def test_a_literal_response_gives_uid_internaldate_and_header():
    status, _, fetched = answer(
        b'* 1 FETCH (UID 7 INTERNALDATE "17-Jul-1996 02:44:25 -0700" BODY[HEADER.FIELDS (FROM)] '
        b"{23}\r\n" + HEADER + b")\r\nA7 OK Fetch completed.\r\n")
    [(uid, message)] = fetched.items()
    assert status == "OK" and uid == 7 and message.header == HEADER
    assert message.received == datetime(1996, 7, 17, 9, 44, 25, tzinfo=UTC)


def test_items_after_the_literal_are_read_too():
    _, _, fetched = answer(b"* 1 FETCH (BODY[HEADER.FIELDS (FROM)] {23}\r\n" + HEADER
                           + b' UID 9 INTERNALDATE " 1-Jan-2024 00:00:00 +0000")\r\nA7 OK\r\n')
    assert fetched[9].received == datetime(2024, 1, 1, tzinfo=UTC)


def test_unsolicited_responses_are_not_messages():
    _, _, fetched = answer(b"* 3 FETCH (FLAGS (\\Seen))\r\n* 4 FETCH (UID 12 FLAGS (\\Seen))\r\n"
                           b"* 9 EXISTS\r\n* 2 EXPUNGE\r\nA7 OK done\r\n")
    assert fetched == {}


def test_a_header_sent_as_an_empty_string_gives_an_empty_block():
    _, _, fetched = answer(b'* 5 FETCH (UID 20 INTERNALDATE "01-Jan-2024 00:00:00 +0000" '
                           b'BODY[HEADER.FIELDS (FROM)] "")\r\nA7 OK\r\n')
    assert fetched[20].header == b""


def labels_of(items: bytes) -> tuple[str, ...]:
    """The labels read from one FETCH response whose other items are ``items``."""
    _, _, fetched = answer(b"* 1 FETCH (UID 3 " + items + b" BODY[HEADER.FIELDS (FROM)] {23}"
                           b"\r\n" + HEADER + b")\r\nA7 OK\r\n")
    return fetched[3].labels


def test_gmail_system_labels_read_the_same_as_atoms_and_as_quoted_strings_with_escapes():
    # Google's documentation shows atoms; Gmail sends quoted strings with the backslash
    # escaped (node-imap#187, MailKit#195): both are the label \Sent (RFC 3501 §9).
    assert labels_of(b'X-GM-LABELS (\\Inbox \\Sent Family)') == ("\\Inbox", "\\Sent", "Family")
    assert labels_of(b'X-GM-LABELS ("\\\\Inbox" "\\\\Sent" Family)') == (
        "\\Inbox", "\\Sent", "Family")


def test_gmail_labels_with_spaces_parentheses_quotes_and_literals_are_whole_labels():
    assert labels_of(b'X-GM-LABELS ("Receipts 2024" "a (b)" "say \\"hi\\"" \\Draft)') == (
        "Receipts 2024", "a (b)", 'say "hi"', "\\Draft")
    assert labels_of(b"X-GM-LABELS ({12}\r\nTrips (2024) \\Sent)") == ("Trips (2024)", "\\Sent")
    assert labels_of(b"X-GM-LABELS ()") == ()


def test_gmail_labels_after_the_header_literal_are_read_too():
    _, _, fetched = answer(b"* 1 FETCH (UID 3 BODY[HEADER.FIELDS (FROM)] {23}\r\n" + HEADER
                           + b' X-GM-LABELS ("\\\\Sent" "x)y"))\r\nA7 OK\r\n')
    assert fetched[3].labels == ("\\Sent", "x)y") and fetched[3].header == HEADER


def test_a_refusal_is_returned_with_its_text():
    assert answer(b"A7 NO [SERVERBUG] Internal error\r\n")[:2] == ("NO",
                                                                  "[SERVERBUG] Internal error")


@pytest.mark.parametrize("wire", [
    b"* 1 FETCH (UID 7 BODY[HEADER.FIELDS (FROM)] {23}\r\nFrom: a@ex",  # cut in a literal
    b"* 1 FETCH (UID 7 FLAGS ())\r\n",  # cut before the completion
    b"* BYE shutting down\r\n",
    b"* 1 FETCH (UID 7 BODY[HEADER.FIELDS (FROM)] {2x}\r\n",
])
def test_a_broken_answer_means_the_connection_is_lost(wire):
    with pytest.raises(EOFError):
        answer(wire)


def test_a_malformed_internaldate_is_none_not_an_error():
    assert parse_internaldate("32-Foo-2024 99:00:00 +0000") is None
    assert parse_internaldate("") is None


def test_fetch_items_peek_only_the_named_headers():
    items = fetch_items(["from", "to"])
    assert items == "(UID INTERNALDATE BODY.PEEK[HEADER.FIELDS (FROM TO)])"
    assert "ENVELOPE" not in items and "X-GM-LABELS" in fetch_items(["from"], gmail=True)


def test_uid_batches_are_bounded():
    batches = uid_ranges(list(range(1, 1201)), 500)
    assert [len(batch) for batch in batches] == [500, 500, 200]


USUAL = (b'* 1 FETCH (UID 7 INTERNALDATE "17-Jul-1996 02:44:25 -0700" BODY[HEADER.FIELDS (FROM)] '
         b"{23}\r\n" + HEADER)


@pytest.mark.parametrize("tail", [
    b" FLAGS (\\Seen))\r\n",
    b' BODY[HEADER.FIELDS (SUBJECT)] {3}\r\nabc)\r\n',
    b" X-GM-LABELS (\\Sent))\r\n",
])
def test_the_usual_response_with_more_items_after_its_literal_reads_as_the_general_path(tail):
    # The one-regex path covers "... {n}\r\n<header>)\r\n"; anything else after the literal goes
    # on as the general reading. Written with UID after the literal, the same message takes
    # the general path from the start: both must agree.
    _, _, fast = answer(USUAL + tail + b"A7 OK\r\n")
    general_line = (b'* 1 FETCH (INTERNALDATE "17-Jul-1996 02:44:25 -0700" '
                    b"BODY[HEADER.FIELDS (FROM)] {23}\r\n" + HEADER + b" UID 7" + tail)
    _, _, general = answer(general_line + b"A7 OK\r\n")
    assert fast == general and fast[7].header in (HEADER, b"abc")


def test_the_usual_response_cut_inside_or_after_its_literal_means_the_connection_is_lost():
    for cut in (USUAL[:-5], USUAL, USUAL + b")"):
        with pytest.raises(EOFError):
            answer(cut)


@pytest.mark.parametrize(("value", "expected"), [
    # Whole-second arithmetic for 1900-2099, datetime arithmetic elsewhere: the same answers.
    ("01-Jan-1900 00:30:00 +0100", datetime(1899, 12, 31, 23, 30, tzinfo=UTC)),
    ("31-Dec-2099 23:30:00 -0100", datetime(2100, 1, 1, 0, 30, tzinfo=UTC)),
    ("29-Feb-2024 12:00:00 +0000", datetime(2024, 2, 29, 12, tzinfo=UTC)),
    ("29-Feb-2023 12:00:00 +0000", None),
    ("29-Feb-2100 12:00:00 +0000", None),
    ("10-Jan-2024 10:00:60 +0000", None),
    ("10-Jan-2024 24:00:00 +0000", None),
    ("15-Jun-2150 10:00:00 +0200", datetime(2150, 6, 15, 8, tzinfo=UTC)),
])
def test_internaldate_edges_of_month_day_and_clock(value, expected):
    assert parse_internaldate(value) == expected
