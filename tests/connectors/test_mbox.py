"""Rules for the mbox source: splitting, roles, Takeout labels, and incremental pulls."""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import connectors.mail.mbox as mbox_module
from connectors.mail.mbox import MboxConnector
from syncd.errors import SourceError
from syncd.model import Message, Page, Role, Skip

UTC_ZONE = ZoneInfo("UTC")


def mail(
    sender: str = "alice@example.org",
    to: str = "me@example.com",
    *,
    from_line: str = "From alice@example.org Fri Mar  1 10:00:00 2024",
    extra: Iterable[str] = (),
    body: str = "Hello.\n",
    date: str | None = "Fri, 1 Mar 2024 10:00:00 +0000",
) -> str:
    headers = [f"From: {sender}", f"To: {to}", *extra]
    if date is not None:
        headers.append(f"Date: {date}")
    return from_line + "\n" + "\n".join(headers) + "\n\n" + body


def mbox(*messages: str, newline: str = "\n") -> bytes:
    """Join messages the way mbox writers do: an empty line before every From_ line."""
    text = "\n".join(message if message.endswith("\n") else message + "\n" for message in messages)
    return text.replace("\n", newline).encode()


def connector(path: Path, **options: object) -> MboxConnector:
    return MboxConnector("archive", {"path": str(path), **options}, UTC_ZONE)


def pull_all(source: MboxConnector, cursor: str | None = None, known: Iterable[str] = ()):
    pages = list(source.pull(cursor, set(known)))
    records = [record for page in pages for record in page.records]
    skipped = [skip for page in pages for skip in page.skipped]
    return pages, records, skipped


def senders(records: Iterable[object]) -> list[str]:
    result = []
    for record in records:
        assert isinstance(record, Message) and record.sender is not None
        result.append(record.sender.email)
    return result


# --- splitting ------------------------------------------------------------------------------


def test_a_missing_path_is_a_source_error_naming_the_path_and_the_key(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.mbox"
    with pytest.raises(SourceError) as error:
        list(connector(missing).pull(None, set()))
    assert str(missing) in str(error.value)
    assert "sources.archive.path" in str(error.value)


def test_source_ids_are_file_and_byte_offset_of_each_from_line(tmp_path: Path) -> None:
    data = mbox(mail("a@example.org"), mail("b@example.org"), mail("c@example.org"))
    path = tmp_path / "archive.mbox"
    path.write_bytes(data)
    _, records, skipped = pull_all(connector(path))
    assert skipped == []
    assert senders(records) == ["a@example.org", "b@example.org", "c@example.org"]
    for record in records:
        name, _, offset = record.source_id.rpartition(":")
        assert name == "archive.mbox"
        assert data[int(offset) :].startswith(b"From ")


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR-only"])
def test_every_line_ending_splits_the_same(tmp_path: Path, newline: str) -> None:
    path = tmp_path / "box"
    path.write_bytes(mbox(mail("a@example.org"), mail("b@example.org"), newline=newline))
    _, records, skipped = pull_all(connector(path))
    assert skipped == []
    assert senders(records) == ["a@example.org", "b@example.org"]


def test_from_lines_inside_bodies_do_not_split_messages(tmp_path: Path) -> None:
    body = (
        "Quoted properly:\n>From the archive\n\n"
        "From Russia with love\n"  # unescaped, after an empty line, but no header follows
        "was a good film.\n"
    )
    path = tmp_path / "box"
    path.write_bytes(mbox(mail("a@example.org", body=body), mail("b@example.org")))
    _, records, skipped = pull_all(connector(path))
    assert skipped == []
    assert senders(records) == ["a@example.org", "b@example.org"]


def test_netscape_from_lines_without_an_empty_line_before_still_split(tmp_path: Path) -> None:
    first = mail("a@example.org", from_line="From - ", body="text\n--boundary--\n")
    second = mail("b@example.org", from_line="From - Mon Jun  3 12:50:27 1996")
    path = tmp_path / "Inbox"
    path.write_bytes((first + second).encode())
    _, records, _ = pull_all(connector(path))
    assert senders(records) == ["a@example.org", "b@example.org"]


def test_a_correct_content_length_skips_an_unescaped_from_line_in_the_body(tmp_path: Path) -> None:
    body = "See below:\n\nFrom eve@example.com Mon Jan  1 00:00:00 2024\nTo: nobody\n"
    first = mail("a@example.org", extra=[f"Content-Length: {len(body)}"], body=body)
    path = tmp_path / "box"
    path.write_bytes(mbox(first, mail("b@example.org")))
    _, records, skipped = pull_all(connector(path))
    assert skipped == []
    assert senders(records) == ["a@example.org", "b@example.org"]


def test_a_wrong_content_length_is_ignored(tmp_path: Path) -> None:
    first = mail("a@example.org", extra=["Content-Length: 99999"])
    path = tmp_path / "box"
    path.write_bytes(mbox(first, mail("b@example.org")))
    _, records, _ = pull_all(connector(path))
    assert senders(records) == ["a@example.org", "b@example.org"]


def test_a_byte_order_mark_and_leading_empty_lines_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "box"
    path.write_bytes(b"\xef\xbb\xbf\n" + mbox(mail("a@example.org")))
    _, records, _ = pull_all(connector(path))
    assert senders(records) == ["a@example.org"]
    assert records[0].source_id == "box:4"


def test_a_truncated_last_message_is_read_if_it_has_a_sender(tmp_path: Path) -> None:
    path = tmp_path / "box"
    path.write_bytes(mbox(mail("a@example.org")) + b"\nFrom x Fri Mar  1 10:00:00 2024\nFrom: b@")
    path.write_bytes(path.read_bytes() + b"example.org\nTo: me@exa")
    _, records, skipped = pull_all(connector(path))
    assert senders(records) == ["a@example.org", "b@example.org"]
    assert skipped == []


def test_a_truncated_last_message_without_sender_or_recipients_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "box"
    path.write_bytes(
        mbox(mail("a@example.org")) + b"\nFrom x Fri Mar  1 10:00:00 2024\nSubject: unfini"
    )
    _, records, skipped = pull_all(connector(path))
    assert senders(records) == ["a@example.org"]
    assert len(skipped) == 1
    assert skipped[0].reason.startswith("truncated message")


def test_the_from_line_date_is_the_receive_time_else_the_file_mtime(tmp_path: Path) -> None:
    path = tmp_path / "box"
    dated = mail("a@example.org", from_line="From a@example.org  Wed Dec  1 08:26:40 2010")
    undated = mail("b@example.org", from_line="From b@example.org", date=None)
    path.write_bytes(mbox(dated, undated))
    os.utime(path, (1600000000, 1600000000))
    _, records, _ = pull_all(connector(path))
    first, second = records
    assert isinstance(first, Message) and isinstance(second, Message)
    assert first.received == datetime(2010, 12, 1, 8, 26, 40, tzinfo=UTC)
    assert second.received == datetime.fromtimestamp(1600000000, UTC)
    assert second.date is None


def test_a_file_given_as_path_that_is_not_an_mbox_is_one_skip(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"Shopping list\n- milk\n")
    _, records, skipped = pull_all(connector(path))
    assert records == []
    assert [skip.source_id for skip in skipped] == ["notes.txt"]


# --- directories and roles ------------------------------------------------------------------


def thunderbird_profile(root: Path) -> None:
    (root / "Inbox").write_bytes(mbox(mail("friend@example.net", "me@example.com")))
    (root / "Inbox.msf").write_bytes(b'// <!-- <mdb:mork:z v="1.4"/> -->\n')
    (root / "Sent").write_bytes(mbox(mail("Me <me@example.com>", "friend@example.net")))
    (root / "Trash").write_bytes(mbox(mail("old@example.net")))
    (root / "Junk").write_bytes(mbox(mail("spam@example.biz")))
    (root / "msgFilterRules.dat").write_bytes(b'version="9"\nlogging="no"\n')
    (root / ".parentlock").write_bytes(b"")
    (root / "Archives.sbd").mkdir()
    (root / "Archives.sbd" / "2023").write_bytes(mbox(mail("archived@example.net")))


def test_directories_are_read_recursively_with_roles_from_file_names(tmp_path: Path) -> None:
    thunderbird_profile(tmp_path)
    source = connector(tmp_path)
    assert {mbox_file.relative: mbox_file.role for mbox_file in source.files()} == {
        "Archives.sbd/2023": Role.OTHER,
        "Inbox": Role.INBOX,
        "Junk": Role.JUNK,
        "Sent": Role.SENT,
        "Trash": Role.TRASH,
        "msgFilterRules.dat": Role.OTHER,
    }
    _, records, skipped = pull_all(source)
    assert skipped == []  # the non-mbox .dat file is ignored, not reported
    assert {record.source_id.split(":")[0] for record in records} == {
        "Archives.sbd/2023",
        "Inbox",
        "Junk",
        "Sent",
        "Trash",
    }


def test_sent_files_are_read_first_and_their_senders_are_mine(tmp_path: Path) -> None:
    thunderbird_profile(tmp_path)
    pages, records, _ = pull_all(connector(tmp_path))
    assert records[0].source_id == "Sent:0"
    assert isinstance(records[0], Message) and records[0].folder_role is Role.SENT
    assert pages[-1].my_addresses == frozenset({"me@example.com"})


def test_configured_sent_files_and_apple_mail_exports_get_their_roles(tmp_path: Path) -> None:
    (tmp_path / "outgoing-2019").write_bytes(mbox(mail("me@example.com")))
    (tmp_path / "Sent Messages.mbox").mkdir()
    (tmp_path / "Sent Messages.mbox" / "mbox").write_bytes(mbox(mail("me@example.com")))
    roles = {
        mbox_file.relative: mbox_file.role
        for mbox_file in connector(tmp_path, sent=["outgoing-2019"]).files()
    }
    assert roles == {"outgoing-2019": Role.SENT, "Sent Messages.mbox/mbox": Role.SENT}


def test_google_takeout_labels_give_each_message_its_role(tmp_path: Path) -> None:
    path = tmp_path / "All mail Including Spam and Trash.mbox"
    takeout = "From 1844347792267117879@xxx Wed Mar 02 13:00:00 +0000 2016"
    path.write_bytes(
        mbox(
            mail(
                "me@gmail.com",
                "bob@example.com",
                from_line=takeout,
                extra=["X-Gmail-Labels: Sent,Opened"],
            ),
            mail(
                "bob@example.com",
                "me@gmail.com",
                from_line=takeout,
                extra=["X-Gmail-Labels: Inbox,Category Personal"],
            ),
            mail("spam@example.biz", from_line=takeout, extra=["X-Gmail-Labels: Spam"]),
            mail("old@example.net", from_line=takeout, extra=["X-Gmail-Labels: Archived"]),
            mail("x@example.net", from_line=takeout, extra=["X-Gmail-Labels: Trash,Opened"]),
        )
    )
    pages, records, _ = pull_all(connector(path))
    roles = [record.folder_role for record in records if isinstance(record, Message)]
    assert roles == [Role.SENT, Role.INBOX, Role.JUNK, Role.ARCHIVE, Role.TRASH]
    assert pages[-1].my_addresses == frozenset({"me@gmail.com"})


# --- incremental pulls ----------------------------------------------------------------------


def ids(records: Iterable[object]) -> set[str]:
    return {record.source_id for record in records}  # type: ignore[attr-defined]


def test_an_unchanged_file_is_not_opened_again(tmp_path: Path) -> None:
    path = tmp_path / "box"
    path.write_bytes(mbox(mail("a@example.org"), mail("b@example.org")))
    pages, records, _ = pull_all(connector(path))
    assert len(records) == 2
    # With nothing known, reading the file would yield both messages again.
    _, again, skipped = pull_all(connector(path), pages[-1].cursor, known=set())
    assert again == [] and skipped == []


def test_a_grown_file_resumes_at_its_last_message(tmp_path: Path) -> None:
    path = tmp_path / "box"
    path.write_bytes(mbox(mail("a@example.org"), mail("b@example.org"), mail("c@example.org")))
    pages, records, _ = pull_all(connector(path))
    with path.open("ab") as handle:
        handle.write(b"\n" + mbox(mail("d@example.org")))
    # Nothing known: a read from the start would yield all four messages.
    _, again, _ = pull_all(connector(path), pages[-1].cursor, known=set())
    assert senders(again) == ["c@example.org", "d@example.org"]
    _, again_known, _ = pull_all(connector(path), pages[-1].cursor, known=ids(records))
    assert senders(again_known) == ["c@example.org", "d@example.org"]


def test_a_rewritten_file_is_read_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "box"
    path.write_bytes(mbox(mail("a@example.org"), mail("b@example.org")))
    pages, _, _ = pull_all(connector(path))
    # The first message deleted and a longer one added: the first bytes differ.
    path.write_bytes(mbox(mail("b@example.org"), mail("c@example.org", body="x" * 500)))
    _, again, _ = pull_all(connector(path), pages[-1].cursor, known=set())
    assert senders(again) == ["b@example.org", "c@example.org"]


def test_a_shrunk_file_is_read_from_the_start_parsing_only_unknown_messages(tmp_path: Path) -> None:
    path = tmp_path / "box"
    path.write_bytes(mbox(mail("a@example.org"), mail("b@example.org"), mail("c@example.org")))
    pages, records, _ = pull_all(connector(path))
    path.write_bytes(mbox(mail("a@example.org"), mail("z@example.org")))
    known = ids(records)
    _, again, _ = pull_all(connector(path), pages[-1].cursor, known)
    # "a" keeps offset 0 and is known; the second message sits where "b" was: same id, known.
    assert again == []
    _, unknown, _ = pull_all(connector(path), pages[-1].cursor, known=set())
    assert senders(unknown) == ["a@example.org", "z@example.org"]


def test_a_replaced_file_with_the_same_start_is_read_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "box"
    path.write_bytes(mbox(mail("a@example.org"), mail("b@example.org")))
    pages, _, _ = pull_all(connector(path))
    replacement = tmp_path / "box.new"
    replacement.write_bytes(mbox(mail("a@example.org"), mail("b@example.org"), mail("c@x.org")))
    os.replace(replacement, path)  # a new inode, as mail clients rewrite mboxes
    _, again, _ = pull_all(connector(path), pages[-1].cursor, known=set())
    assert senders(again) == ["a@example.org", "b@example.org", "c@x.org"]


def test_pages_hold_at_most_500_entries_and_a_mid_file_cursor_resumes(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(mbox(*(mail(f"p{index}@example.org") for index in range(1200))))
    source = connector(path)
    pages, records, _ = pull_all(source)
    assert len(records) == 1200
    assert [len(page.records) for page in pages] == [500, 500, 200]
    first: Page = pages[0]
    # A pass that stopped after the first page goes on where it stopped.
    _, rest, _ = pull_all(source, first.cursor, ids(first.records))
    # The last message of the first page is read again (harmless: upserts dedupe).
    assert len(ids(rest) - ids(first.records)) == 700
    assert len(ids(rest) & ids(first.records)) <= 1
    assert ids(rest) | ids(first.records) == ids(records)


def test_an_unreadable_cursor_means_reading_everything(tmp_path: Path) -> None:
    path = tmp_path / "box"
    path.write_bytes(mbox(mail("a@example.org")))
    _, records, _ = pull_all(connector(path), cursor="[]")
    assert len(records) == 1


def test_an_empty_mbox_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    pages, records, skipped = pull_all(connector(path))
    assert records == [] and skipped == [] and pages[-1].cursor


def test_a_message_with_no_usable_header_is_skipped_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "box"
    path.write_bytes(
        mbox(
            mail("a@example.org"),
            "From MAILER-DAEMON Fri Mar  1 10:00:00 2024\nFrom: MAILER-DAEMON\nTo: postmaster\n"
            "\nbody\n",
        )
    )
    _, records, skipped = pull_all(connector(path))
    assert senders(records) == ["a@example.org"]
    assert [(skip.reason) for skip in skipped] == ["no From and no recipients"]
    assert isinstance(skipped[0], Skip) and skipped[0].source_id.startswith("box:")


# --- chunk boundaries -----------------------------------------------------------------------

bodies = st.sampled_from(
    [
        "plain text\n",
        "\n\n\nmany empty lines\n\n",
        ">From an escaped line\n",
        "From Russia with love\nwithout a header after it\n",
        "x" * 300 + "\n",
        "To: intruder@example.org\n",  # body text that looks like a header
        "",
    ]
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    bodies=st.lists(bodies, min_size=1, max_size=6),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    chunk=st.sampled_from([1, 2, 3, 7, 64]),
)
def test_chunk_boundaries_never_change_how_a_file_splits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bodies: list[str], newline: str, chunk: int
) -> None:
    path = tmp_path / f"box-{chunk}-{len(bodies)}-{len(newline)}"
    path.write_bytes(
        mbox(
            *(mail(f"p{index}@example.org", body=body) for index, body in enumerate(bodies)),
            newline=newline,
        )
    )
    _, expected, _ = pull_all(connector(path))
    assert senders(expected) == [f"p{index}@example.org" for index in range(len(bodies))]
    monkeypatch.setattr(mbox_module, "_CHUNK", chunk)
    _, tiny_chunks, _ = pull_all(connector(path))
    assert [record.source_id for record in tiny_chunks] == [record.source_id for record in expected]
