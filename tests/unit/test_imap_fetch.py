"""Rules for reading a raw UID FETCH answer (connectors._imap_fetch), on answers as imaplib
returns them."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors._imap_fetch import fetch_items, parse_fetch, parse_internaldate, uid_ranges

HEADER = b"From: a@example.org\r\n\r\n"


def test_a_literal_response_gives_uid_internaldate_and_header():
    data = [(b'1 (UID 7 INTERNALDATE "17-Jul-1996 02:44:25 -0700" BODY[HEADER.FIELDS (FROM)] '
             b"{23}", HEADER), b")"]
    [(uid, fetched)] = parse_fetch(data).items()
    assert uid == 7 and fetched.header == HEADER
    assert fetched.received == datetime(1996, 7, 17, 9, 44, 25, tzinfo=UTC)


def test_items_after_the_literal_are_read_too():
    data = [(b"1 (BODY[HEADER.FIELDS (FROM)] {23}", HEADER),
            b' UID 9 INTERNALDATE " 1-Jan-2024 00:00:00 +0000")']
    assert parse_fetch(data)[9].received == datetime(2024, 1, 1, tzinfo=UTC)


def test_unsolicited_flag_updates_are_not_messages():
    data = [b"3 (FLAGS (\\Seen))", b"4 (UID 12 FLAGS (\\Seen))"]
    assert parse_fetch(data) == {}


def test_a_header_sent_as_an_empty_string_gives_an_empty_block():
    data = [b'5 (UID 20 INTERNALDATE "01-Jan-2024 00:00:00 +0000" BODY[HEADER.FIELDS (FROM)] "")']
    assert parse_fetch(data)[20].header == b""


def test_gmail_labels_are_read():
    data = [(b'1 (UID 3 X-GM-LABELS (\\Sent "\\\\Important") BODY[HEADER.FIELDS (FROM)] {23}',
             HEADER), b")"]
    assert "\\Sent" in parse_fetch(data)[3].labels


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
