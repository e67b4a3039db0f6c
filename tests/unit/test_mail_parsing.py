"""Rules for reading mail headers (connectors.mail._mail): what is kept, what is dropped, and that
malformed input never stops a sync."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.mail._folders import role_for_folder_name
from connectors.mail._mail import (
    FETCH_HEADERS,
    NO_PLAUSIBLE_DATE,
    RULE_HEADERS,
    Unreadable,
    parse_date,
    parse_header_block,
    parse_or_skip,
    read_header_bytes,
    role_from_gmail_labels,
)
from connectors.mail._pages import PageBuilder
from syncd.model import Address, Message, Role, Skip

RECEIVED = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)

BASIC = [
    b"Received: from mx.example.org by mail.example.com;",
    b"\tFri, 1 Mar 2024 11:59:00 +0000",
    b"From: Alice Example <Alice@Example.ORG>",
    b"To: Bob <bob@example.com>, carol@example.net",
    b"Cc: Dave <dave@example.com>",
    b"Subject: lunch?",
    b"Date: Fri, 1 Mar 2024 10:00:00 +0100",
    b"Message-ID: <lunch-1@example.org>",
    b"",
    b"From: not-a-header@example.com",
    b"To: also-body@example.com",
]


def block(lines: list[bytes], newline: bytes = b"\n") -> bytes:
    return newline.join(lines) + newline


def parse(raw: bytes, **overrides: object) -> Message:
    arguments: dict[str, object] = {
        "source_id": "INBOX/1",
        "folder_role": Role.INBOX,
        "received": RECEIVED,
    }
    arguments.update(overrides)
    return parse_header_block(raw, **arguments)  # type: ignore[arg-type]


def with_header(name_value: bytes, *extra: bytes) -> bytes:
    return block([b"From: alice@example.org", b"To: bob@example.com", name_value, *extra])


# --- line endings and the header block -------------------------------------------------------


@pytest.mark.parametrize("newline", [b"\r\n", b"\n", b"\r"], ids=["CRLF", "LF", "CR-only"])
def test_crlf_lf_and_cr_only_line_endings_read_the_same_message(newline: bytes) -> None:
    message = parse(block(BASIC, newline))
    assert message.sender == Address("alice@example.org", "Alice Example")
    assert [address.email for address in message.to] == ["bob@example.com", "carol@example.net"]
    assert message.cc == (Address("dave@example.com", "Dave"),)
    assert message.date == datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    assert message.message_id == "lunch-1@example.org"
    without_id = [line for line in BASIC if not line.startswith(b"Message-ID")]
    assert parse(block(without_id, newline)).fingerprint == parse(block(without_id)).fingerprint


def test_headers_end_at_the_first_empty_line_so_body_lines_are_never_read() -> None:
    message = parse(block(BASIC))
    emails = {address.email for address in (*message.to, *message.cc)}
    assert "also-body@example.com" not in emails
    assert message.sender is not None and message.sender.email == "alice@example.org"


def test_a_block_without_an_empty_line_is_read_to_its_end() -> None:
    message = parse(b"From: alice@example.org\nTo: bob@example.com")
    assert message.to == (Address("bob@example.com"),)


def test_folded_headers_are_unfolded() -> None:
    raw = block(
        [
            b"From: alice@example.org",
            b"To: Bob Builder",
            b" <bob@example.com>,",
            b"\tcarol@example.net",
            b"Message-ID:",
            b" <folded-id@example.org>",
            b"List-Id: A list",
            b"   <list.example.org>",
        ]
    )
    message = parse(raw)
    assert message.to == (Address("bob@example.com", "Bob Builder"), Address("carol@example.net"))
    assert message.message_id == "folded-id@example.org"
    assert message.headers["list-id"] == "A list   <list.example.org>"


def test_repeated_recipient_headers_are_joined_and_duplicates_dropped() -> None:
    raw = with_header(b"To: carol@example.net", b"To: BOB@example.com")
    message = parse(raw)
    assert [address.email for address in message.to] == ["bob@example.com", "carol@example.net"]


def test_a_leading_mbox_from_line_is_ignored() -> None:
    raw = b"From alice@example.org Fri Mar  1 10:00:00 2024\n" + block(BASIC)
    assert parse(raw).sender == Address("alice@example.org", "Alice Example")


# --- names, charsets, addresses -----------------------------------------------------------


def test_rfc2047_display_names_are_decoded() -> None:
    raw = block(
        [
            b"From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.de>",
            b"To: =?iso-8859-1?b?SvxyZ2Vu?= <j2@example.de>",
        ]
    )
    message = parse(raw)
    assert message.sender == Address("juergen@example.de", "Jürgen Müller")
    assert message.to == (Address("j2@example.de", "Jürgen"),)


def test_a_display_name_in_an_unknown_charset_does_not_fail_the_message() -> None:
    raw = block([b"From: =?x-no-such-charset?q?Bad?= <bad@example.org>", b"To: bob@example.com"])
    message = parse(raw)
    assert message.sender is not None and message.sender.email == "bad@example.org"
    assert message.sender.name == "Bad"


def test_a_name_in_an_unknown_charset_is_shown_as_latin1_not_as_raw_encoded_words() -> None:
    raw = block([b"From: =?x-unknown?Q?Jos=E9_Ram=EDrez?= <jose@example.org>",
                 b"To: bob@example.com"])
    assert parse(raw).sender == Address("jose@example.org", "José Ramírez")


def test_a_broken_encoded_word_does_not_fail_the_message() -> None:
    raw = block([b"From: =?utf-8?b?!!!not-base64?= <x@example.org>", b"To: bob@example.com"])
    assert parse(raw).sender is not None


def test_raw_8bit_headers_are_utf8_or_else_latin1() -> None:
    raw = block([b"From: J\xc3\xbcrgen <j@example.de>", b"To: J\xfcrgen <j2@example.de>"])
    message = parse(raw)
    assert message.sender == Address("j@example.de", "Jürgen")
    assert message.to == (Address("j2@example.de", "Jürgen"),)


def test_addresses_are_normalised_and_unusable_ones_dropped() -> None:
    raw = block([b"From: Alice <Alice@EXAMPLE.org>", b"To: postmaster, <>, Bob <bob@Example.COM>"])
    message = parse(raw)
    assert message.sender == Address("alice@example.org", "Alice")
    assert message.to == (Address("bob@example.com", "Bob"),)


def test_bcc_is_read() -> None:
    message = parse(with_header(b"Bcc: Secret <secret@example.com>"))
    assert message.bcc == (Address("secret@example.com", "Secret"),)


def test_group_syntax_yields_its_members_and_an_empty_group_yields_none() -> None:
    message = parse(
        block(
            [
                b"From: alice@example.org",
                b"To: undisclosed-recipients:;",
                b"Cc: friends: bob@example.com, carol@example.net;",
            ]
        )
    )
    assert message.to == ()
    assert [address.email for address in message.cc] == ["bob@example.com", "carol@example.net"]


def test_sender_header_stands_in_for_a_missing_from() -> None:
    message = parse(block([b"Sender: list-owner@example.org", b"To: bob@example.com"]))
    assert message.sender == Address("list-owner@example.org")


def test_mailman_archive_spelling_of_addresses_is_understood() -> None:
    message = parse(block([b"From: jgb at example.com (Jesus G.)", b"To: list at example.org"]))
    assert message.sender == Address("jgb@example.com", "Jesus G.")


# --- dates ----------------------------------------------------------------------------------


def test_a_missing_date_is_none() -> None:
    assert parse(block([b"From: alice@example.org", b"To: bob@example.com"])).date is None


@pytest.mark.parametrize(
    "value",
    [
        b"yesterday, around noon",
        b"Fri, 1 Mar 2099 10:00:00 +0000",  # far in the future
        b"Thu, 1 Jan 1970 00:00:00 +0000",  # the epoch: a clock that was never set
        b"Fri, 31 Feb 2024 10:00:00 +0000",  # no such day
        b"Fri, 1 Mar 2024 99:99:99 +0000",
        b"",
    ],
)
def test_an_absurd_or_unparseable_date_is_none(value: bytes) -> None:
    assert parse(with_header(b"Date: " + value)).date is None


def test_minus_0000_and_a_missing_zone_are_read_as_utc() -> None:
    expected = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert parse(with_header(b"Date: Fri, 1 Mar 2024 10:00:00 -0000")).date == expected
    assert parse(with_header(b"Date: Fri, 1 Mar 2024 10:00:00")).date == expected


def test_a_y2k_year_written_as_years_since_1900_is_repaired() -> None:
    date = parse(with_header(b"Date: Thu, 22 Aug 0102 12:07:35 +0800")).date
    assert date == datetime(2002, 8, 22, 4, 7, 35, tzinfo=UTC)


def test_dates_are_converted_to_utc() -> None:
    date = parse(with_header(b"Date: Fri, 1 Mar 2024 10:00:00 -0530")).date
    assert date == datetime(2024, 3, 1, 15, 30, tzinfo=UTC)
    assert date is not None and date.utcoffset() is not None


def test_a_date_more_than_two_days_after_receipt_is_implausible() -> None:
    assert parse(with_header(b"Date: Sat, 2 Mar 2024 12:00:00 +0000")).date is not None
    assert parse(with_header(b"Date: Tue, 5 Mar 2024 12:00:00 +0000")).date is None


def test_without_a_receive_time_the_future_check_uses_now() -> None:
    value = "Tue, 5 Mar 2024 12:00:00 +0000"
    assert parse_date(value, received=None, now=RECEIVED) is None
    later = datetime(2024, 3, 5, 0, 0, tzinfo=UTC)
    assert parse_date(value, received=None, now=later) is not None


# PROTOCOL-NOTES rule 11: a time more than two days after now is never used, whatever the
# delivery time says; one before 1990 neither. Then the other time is used, else no time at all.
NOW = datetime(2026, 6, 1, tzinfo=UTC)
FUTURE = datetime(2044, 1, 4, 9, 0, tzinfo=UTC)
ANCIENT = datetime(1979, 12, 31, 23, 0, tzinfo=UTC)


def test_a_date_from_the_future_is_not_used_even_when_the_delivery_time_agrees() -> None:
    raw = with_header(b"Date: Mon, 4 Jan 2044 09:00:00 +0000")
    with pytest.raises(Unreadable, match="no plausible date"):
        parse(raw, received=FUTURE, now=NOW)


def test_a_date_from_the_future_falls_back_to_a_plausible_delivery_time() -> None:
    message = parse(with_header(b"Date: Mon, 4 Jan 2044 09:00:00 +0000"), now=NOW)
    assert message.date is None and message.received == RECEIVED


def test_a_plausible_date_is_used_when_the_delivery_time_is_from_the_future() -> None:
    message = parse(with_header(b"Date: Fri, 1 Mar 2024 10:00:00 +0000"), received=FUTURE,
                    now=NOW)
    assert message.date == datetime(2024, 3, 1, 10, 0, tzinfo=UTC) and message.received is None


@pytest.mark.parametrize("date", [b"Mon, 31 Dec 1979 23:00:00 +0000", None])
def test_a_message_from_before_1990_is_skipped_with_no_plausible_date(date: bytes | None) -> None:
    raw = with_header(b"Date: " + date) if date else block([b"From: a@example.org"])
    skip = parse_or_skip(raw, source_id="INBOX/7", folder_role=Role.INBOX, received=ANCIENT,
                         now=NOW)
    assert skip == Skip("INBOX/7", NO_PLAUSIBLE_DATE)


def test_the_accepted_range_is_1990_to_two_days_from_now() -> None:
    earliest = datetime(1990, 1, 1, tzinfo=UTC)
    assert parse(with_header(b"Date: Mon, 1 Jan 1990 00:00:00 +0000"), received=None,
                 now=NOW).date == earliest
    assert parse(with_header(b"Date: Wed, 3 Jun 2026 00:00:00 +0000"), received=None,
                 now=NOW).date is not None
    with pytest.raises(Unreadable):
        parse(with_header(b"Date: Wed, 3 Jun 2026 00:00:01 +0000"), received=None, now=NOW)


def test_the_receive_time_is_passed_through() -> None:
    assert parse(block(BASIC)).received == RECEIVED


# --- identity -------------------------------------------------------------------------------


def test_message_id_loses_brackets_and_whitespace_and_empty_is_none() -> None:
    assert parse(with_header(b"Message-ID:   <a.b@example.org>  ")).message_id == "a.b@example.org"
    assert parse(with_header(b"Message-ID: bare@example.org")).message_id == "bare@example.org"
    assert parse(with_header(b"Message-ID: <>")).message_id is None
    assert parse(with_header(b"Message-ID:")).message_id is None


def test_without_message_id_the_fingerprint_is_stable_and_distinguishes_messages() -> None:
    lines = [
        b"From: alice@example.org",
        b"To: bob@example.com",
        b"Subject: hello",
        b"Date: Fri, 1 Mar 2024 10:00:00 +0000",
    ]
    first = parse(block(lines))
    assert first.message_id is None
    assert len(first.fingerprint) == 40
    # Same headers, other line endings, refolded, other folder: same fingerprint.
    refolded = [*lines[:2], b"Subject:", b"  hello", lines[3]]
    assert parse(block(refolded, b"\r\n"), folder_role=Role.ARCHIVE).fingerprint == (
        first.fingerprint
    )
    # Another subject or recipient: another fingerprint.
    assert parse(block([*lines[:2], b"Subject: bye", lines[3]])).fingerprint != first.fingerprint
    assert parse(block([lines[0], b"To: eve@example.com", *lines[2:]])).fingerprint != (
        first.fingerprint
    )


# --- rule headers ---------------------------------------------------------------------------


def test_only_rule_headers_are_kept_and_the_subject_never_is() -> None:
    raw = with_header(
        b"Subject: secret plans",
        b"List-Unsubscribe: <mailto:leave@example.org>",
        b"Precedence: bulk",
        b"Auto-Submitted: auto-replied",
        b"X-Auto-Response-Suppress: OOF",
        b"Feedback-ID: 1:2:3",
        b"In-Reply-To: <parent@example.org>",
        b"Return-Path: <>",
        b"X-Autoreply: yes",
        b"X-Mailer: something",
    )
    headers = parse(raw).headers
    assert set(headers) <= set(RULE_HEADERS)
    assert "secret plans" not in headers.values()
    assert headers["precedence"] == "bulk"
    assert headers["auto-submitted"] == "auto-replied"
    assert headers["return-path"] == "<>"
    assert headers["in-reply-to"] == "<parent@example.org>"
    assert "x-mailer" not in headers


def test_content_type_is_reduced_to_its_lower_case_type() -> None:
    raw = with_header(
        b"Content-Type: Multipart/Report; report-type=delivery-status;",
        b'\tboundary="abc"',
    )
    assert parse(raw).headers["content-type"] == "multipart/report"


def test_rule_and_fetch_header_names_are_lower_case() -> None:
    assert all(name == name.lower() for name in (*RULE_HEADERS, *FETCH_HEADERS))
    assert set(RULE_HEADERS) <= set(FETCH_HEADERS)


# --- unreadable input -----------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"\n\nbody only", b"\r\n", b"just some text\n"])
def test_input_without_header_fields_is_unreadable_with_a_reason(raw: bytes) -> None:
    with pytest.raises(Unreadable, match="no header block"):
        parse(raw)


def test_a_message_with_no_from_and_no_recipients_is_unreadable() -> None:
    with pytest.raises(Unreadable, match="no From and no recipients"):
        parse(block([b"Subject: orphan", b"From: MAILER-DAEMON", b"To: postmaster"]))


def test_parse_or_skip_turns_unreadable_into_a_skip() -> None:
    skip = parse_or_skip(b"", source_id="x/1", folder_role=Role.INBOX, received=None)
    assert skip == Skip("x/1", "no header block")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise_anything_but_unreadable(raw: bytes) -> None:
    try:
        message = parse(raw)
    except Unreadable as unreadable:
        assert unreadable.reason and "\n" not in unreadable.reason
    else:
        assert message.sender is not None or message.to or message.cc or message.bcc


header_names = st.sampled_from(
    [b"From", b"To", b"Cc", b"Bcc", b"Date", b"Message-ID", b"Content-Type", b"Sender", b"X-Y"]
)
header_values = st.binary(max_size=120).map(lambda value: value.replace(b"\n", b"\n "))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(header_names, header_values), max_size=12))
def test_arbitrary_values_of_known_headers_never_raise_anything_but_unreadable(
    fields: list[tuple[bytes, bytes]],
) -> None:
    raw = b"".join(name + b": " + value + b"\r\n" for name, value in fields)
    try:
        message = parse(raw)
    except Unreadable:
        return
    assert message.date is None or message.date.tzinfo is not None


# --- reading files --------------------------------------------------------------------------


def test_read_header_bytes_stops_after_the_header_block(tmp_path) -> None:
    path = tmp_path / "big"
    path.write_bytes(block(BASIC) + b"x" * 1_000_000)
    data = read_header_bytes(path)
    assert len(data) <= 8 * 1024
    assert parse(data).message_id == "lunch-1@example.org"


def test_read_header_bytes_finds_a_blank_line_across_chunks_and_in_cr_only_files(tmp_path) -> None:
    padding = b"X-Pad: " + b"p" * 8180
    path = tmp_path / "cr"
    path.write_bytes(block([padding, *BASIC], b"\r") + b"y" * 100_000)
    data = read_header_bytes(path)
    assert len(data) <= 3 * 8 * 1024
    assert parse(data).sender == Address("alice@example.org", "Alice Example")


def test_read_header_bytes_respects_its_limit(tmp_path) -> None:
    path = tmp_path / "endless"
    path.write_bytes(b"X-Long: " + b"z" * 100_000)
    assert len(read_header_bytes(path, limit=20_000)) == 20_000


# --- roles and pages ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("INBOX", Role.INBOX),
        ("Sent", Role.SENT),
        ("sent items", Role.SENT),
        ("[Gmail]/Sent Mail", Role.SENT),
        ("Gesendet", Role.SENT),
        ("Envoyés", Role.SENT),
        ("Junk E-mail", Role.JUNK),
        ("Spam", Role.JUNK),
        ("Bulk Mail", Role.JUNK),
        ("Deleted Items", Role.TRASH),
        ("Bin", Role.TRASH),
        ("Drafts", Role.DRAFTS),
        ("[Gmail]/All Mail", Role.ARCHIVE),
        ("Archive", Role.ARCHIVE),
        ("Archive/2023", Role.OTHER),
        ("Sent/Projects", Role.OTHER),
        ("Receipts", Role.OTHER),
    ],
)
def test_folder_roles_come_from_the_last_name_component(name: str, role: Role) -> None:
    assert role_for_folder_name(name) is role


@pytest.mark.parametrize(
    ("name", "delimiter", "role"),
    [
        # What Debian's Cyrus, Courier and Dovecot with prefix = INBOX. list (RFC 3501 §6.3.8).
        ("INBOX.Sent", ".", Role.SENT),
        ("INBOX.Junk", ".", Role.JUNK),
        ("INBOX.Trash", ".", Role.TRASH),
        ("INBOX.Drafts", ".", Role.DRAFTS),
        ("INBOX.Sent.2023", ".", Role.OTHER),
        ("INBOX.Sent", "/", Role.OTHER),  # "/" is the delimiter: one folder named so
        ("Sent.old", "/", Role.OTHER),
        ("Archive:Sent", ":", Role.SENT),
        ("Sent", None, Role.SENT),  # a flat namespace (NIL delimiter)
    ],
)
def test_folder_roles_split_names_on_the_delimiter_the_server_lists(
        name: str, delimiter: str | None, role: Role) -> None:
    assert role_for_folder_name(name, delimiter) is role


@pytest.mark.parametrize(
    ("labels", "role"),
    [
        ("Sent,Opened", Role.SENT),
        ("Archived,Sent,Trash", Role.SENT),
        ("Spam,Unread", Role.JUNK),
        ("Trash", Role.TRASH),
        ("Drafts", Role.DRAFTS),
        ("Inbox,Category Personal", Role.INBOX),
        ("Archived,Opened", Role.ARCHIVE),
        ("", Role.ARCHIVE),
    ],
)
def test_gmail_takeout_labels_give_the_role(labels: str, role: Role) -> None:
    assert role_from_gmail_labels(labels) is role


def test_gmail_labels_override_the_folder_role_only_when_asked() -> None:
    raw = with_header(b"X-Gmail-Labels: Sent,Opened")
    assert parse(raw, gmail_labels=True).folder_role is Role.SENT
    assert parse(raw).folder_role is Role.INBOX


def test_page_builder_records_sent_senders_as_mine_and_resets_after_a_page() -> None:
    builder = PageBuilder(size=2)
    builder.add(parse(block(BASIC), folder_role=Role.SENT))
    assert not builder.full
    builder.add(Skip("x", "broken"))
    assert builder.full
    page = builder.page("cursor-1")
    assert page.my_addresses == frozenset({"alice@example.org"})
    assert len(page.records) == 1 and len(page.skipped) == 1 and page.cursor == "cursor-1"
    builder.add(parse(block(BASIC), folder_role=Role.INBOX))
    second = builder.page("cursor-2")
    assert len(second.records) == 1 and second.skipped == ()
    assert second.my_addresses == frozenset({"alice@example.org"})


def test_quoted_names_with_commas_stay_one_person_each() -> None:
    raw = block([b'From: "Doe, Jane" <jane@example.org>',
                 b'To: "Roe, Rick" <rick@example.com>, plain@example.com, '
                 b"Ann Lee <ann@example.net>"])
    message = parse(raw)
    assert message.sender == Address("jane@example.org", "Doe, Jane")
    assert message.to == (Address("rick@example.com", "Roe, Rick"),
                          Address("plain@example.com", ""), Address("ann@example.net", "Ann Lee"))


def test_comments_and_groups_still_go_through_the_full_parser() -> None:
    raw = block([b"From: jane@example.org (Jane Doe)",
                 b"To: friends: rick@example.com, ann@example.net;"])
    message = parse(raw)
    assert message.sender is not None and message.sender.email == "jane@example.org"
    assert [a.email for a in message.to] == ["rick@example.com", "ann@example.net"]
