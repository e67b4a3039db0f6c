"""Rules for the Maildir source: layouts, roles, identity, and incremental pulls."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors.mail.maildir import MaildirConnector, decode_modified_utf7
from syncd.errors import SourceError
from syncd.model import Message, Page, Role

UTC_ZONE = ZoneInfo("UTC")
OLD = time.time() - 3600  # an mtime safely older than the 2 s settling window


def make_maildir(path: Path) -> Path:
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


def write_message(
    folder: Path,
    name: str,
    *,
    sender: str = "alice@example.org",
    to: str = "me@example.com",
    sub: str = "cur",
    date: str | None = "Fri, 1 Mar 2024 10:00:00 +0000",
    message_id: str | None = None,
) -> Path:
    lines = [f"From: {sender}", f"To: {to}", f"Message-ID: <{message_id or name}@example>"]
    if date is not None:
        lines.append(f"Date: {date}")
    path = folder / sub / name
    path.write_bytes(("\n".join(lines) + "\n\nbody\n").encode())
    return path


def connector(root: Path, **options: object) -> MaildirConnector:
    return MaildirConnector("local", {"path": str(root), **options}, UTC_ZONE)


def pull_all(source: MaildirConnector, cursor: str | None = None, known: Iterable[str] = ()):
    pages = list(source.pull(cursor, set(known)))
    records = [record for page in pages for record in page.records]
    skipped = [skip for page in pages for skip in page.skipped]
    return pages, records, skipped


def age(*directories: Path) -> None:
    """Make directory mtimes old, as if nothing had changed there for an hour."""
    for directory in directories:
        os.utime(directory, (OLD, OLD))


def messages(records: Iterable[object]) -> list[Message]:
    result = [record for record in records if isinstance(record, Message)]
    assert len(result) == len(list(records))
    return result


# --- layouts and roles ----------------------------------------------------------------------


def test_a_missing_root_is_a_source_error_naming_the_path_and_the_key(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-maildir"
    with pytest.raises(SourceError) as error:
        list(connector(missing).pull(None, set()))
    assert str(missing) in str(error.value)
    assert "sources.local.path" in str(error.value)


def test_plain_trees_name_folders_by_path_and_give_roles(tmp_path: Path) -> None:
    for name in ("INBOX", "Sent", "Archive/2023", "Junk", "[Gmail]/Trash", "Drafts", "Receipts"):
        make_maildir(tmp_path / name)
    (tmp_path / ".notmuch" / "xapian").mkdir(parents=True)
    folders = {folder.name: folder.role for folder in connector(tmp_path).folders()}
    assert folders == {
        "INBOX": Role.INBOX,
        "Sent": Role.SENT,
        "Archive/2023": Role.OTHER,
        "Junk": Role.JUNK,
        "[Gmail]/Trash": Role.TRASH,
        "Drafts": Role.DRAFTS,
        "Receipts": Role.OTHER,
    }


def test_maildir_plus_plus_root_is_inbox_and_dot_folders_are_subfolders(tmp_path: Path) -> None:
    make_maildir(tmp_path)
    for name in (".Sent", ".INBOX.Sent", ".Archive.2023", ".Junk", ".Envoy&AOk-s", ".Gel&APY-scht"):
        make_maildir(tmp_path / name)
    folders = {folder.name: folder.role for folder in connector(tmp_path).folders()}
    assert folders == {
        "INBOX": Role.INBOX,
        "Sent": Role.SENT,
        "INBOX/Sent": Role.SENT,
        "Archive/2023": Role.OTHER,
        "Junk": Role.JUNK,
        "Envoyés": Role.SENT,
        "Gelöscht": Role.OTHER,
    }


def test_modified_utf7_names_decode_and_plain_ampersands_survive() -> None:
    assert decode_modified_utf7("Entw&APw-rfe") == "Entwürfe"
    assert decode_modified_utf7("R&-D") == "R&D"
    assert decode_modified_utf7("R&D") == "R&D"
    assert decode_modified_utf7("Fish & Chips-") == "Fish & Chips-"


def test_configured_sent_folders_are_sent(tmp_path: Path) -> None:
    make_maildir(tmp_path / "Outgoing")
    folders = connector(tmp_path, sent=["outgoing"]).folders()
    assert [(folder.name, folder.role) for folder in folders] == [("Outgoing", Role.SENT)]


def test_folder_globs_select_and_exclude(tmp_path: Path) -> None:
    for name in ("INBOX", "Lists/python", "Lists/rust", "Sent"):
        make_maildir(tmp_path / name)
    source = connector(tmp_path, folders=["INBOX", "lists/*"], exclude_folders=["*/rust"])
    assert sorted(folder.name for folder in source.folders()) == ["INBOX", "Lists/python"]


def test_empty_folders_give_one_empty_page_with_a_cursor(tmp_path: Path) -> None:
    make_maildir(tmp_path / "INBOX")
    pages, records, skipped = pull_all(connector(tmp_path))
    assert len(pages) == 1 and records == [] and skipped == []
    assert pages[0].cursor


# --- records --------------------------------------------------------------------------------


def test_sent_folders_are_read_first_and_their_senders_are_mine(tmp_path: Path) -> None:
    inbox = make_maildir(tmp_path / "INBOX")
    sent = make_maildir(tmp_path / "Sent")
    write_message(inbox, "1700000001.a.host:2,S", sender="bob@example.net", to="me@example.com")
    write_message(sent, "1700000002.b.host:2,S", sender="Me <Me@Example.com>", to="bob@example.net")
    pages, records, _ = pull_all(connector(tmp_path))
    assert [record.source_id for record in records] == [
        "Sent/1700000002.b.host",
        "INBOX/1700000001.a.host",
    ]
    assert messages(records)[0].folder_role is Role.SENT
    assert pages[-1].my_addresses == frozenset({"me@example.com"})


def test_every_page_after_the_sent_folder_carries_my_addresses(tmp_path: Path) -> None:
    inbox = make_maildir(tmp_path / "INBOX")
    sent = make_maildir(tmp_path / "Sent")
    write_message(sent, "s1", sender="me@example.com")
    for index in range(1100):
        write_message(inbox, f"m{index}", sender=f"person{index}@example.net")
    pages, records, _ = pull_all(connector(tmp_path))
    assert len(records) == 1101
    assert all(len(page.records) + len(page.skipped) <= 500 for page in pages)
    assert len(pages) >= 3
    assert all(page.my_addresses == frozenset({"me@example.com"}) for page in pages)
    assert all(page.cursor for page in pages)


def test_source_id_is_folder_and_unique_name_without_flags(tmp_path: Path) -> None:
    inbox = make_maildir(tmp_path / "INBOX")
    write_message(inbox, "1700000000.M1P2.host,S=123:2,RS")
    write_message(inbox, "1700000003.M1P2.host", sub="new")
    _, records, _ = pull_all(connector(tmp_path))
    assert sorted(record.source_id for record in records) == [
        "INBOX/1700000000.M1P2.host,S=123",
        "INBOX/1700000003.M1P2.host",
    ]


def test_received_time_comes_from_the_file_name_else_the_mtime(tmp_path: Path) -> None:
    inbox = make_maildir(tmp_path / "INBOX")
    write_message(inbox, "1700000000.x.host:2,", date=None)
    plain = write_message(inbox, "message-without-timestamp", date=None)
    os.utime(plain, (1600000000, 1600000000))
    _, records, _ = pull_all(connector(tmp_path))
    received = {record.source_id: messages([record])[0].received for record in records}
    assert received["INBOX/1700000000.x.host"] == datetime.fromtimestamp(1700000000, UTC)
    assert received["INBOX/message-without-timestamp"] == datetime.fromtimestamp(1600000000, UTC)
    assert all(message.date is None for message in messages(records))


def test_unparseable_files_become_skips_with_a_reason(tmp_path: Path) -> None:
    inbox = make_maildir(tmp_path / "INBOX")
    (inbox / "cur" / "garbage:2,").write_bytes(b"\x00\x01 not mail at all")
    (inbox / "cur" / "nobody:2,").write_bytes(b"Subject: who sent this?\n\nbody\n")
    (inbox / "cur" / ".hidden").write_bytes(b"From: a@example.org\n\n")
    os.mkfifo(inbox / "cur" / "a-fifo")  # would block a reader forever
    _, records, skipped = pull_all(connector(tmp_path))
    assert records == []
    assert {(skip.source_id, skip.reason) for skip in skipped} == {
        ("INBOX/garbage", "no header block"),
        ("INBOX/nobody", "no From and no recipients"),
    }


def test_a_file_that_vanishes_before_it_is_opened_is_ignored(tmp_path: Path) -> None:
    vanished = MaildirConnector._read_message(
        str(tmp_path / "moved-away:2,S"), "moved-away:2,S", "INBOX/moved-away", Role.INBOX
    )
    assert vanished is None


# --- incremental pulls ----------------------------------------------------------------------


def test_a_second_pull_reads_no_known_file(tmp_path: Path) -> None:
    inbox = make_maildir(tmp_path / "INBOX")
    paths = [write_message(inbox, f"17000000{index:02d}.x.host:2,S") for index in range(5)]
    pages, records, _ = pull_all(connector(tmp_path))
    assert len(records) == 5
    # Overwrite every message with garbage: opening any of them would now produce a skip.
    for path in paths:
        path.write_bytes(b"garbage")
    _, again, skipped = pull_all(
        connector(tmp_path), pages[-1].cursor, known={record.source_id for record in records}
    )
    assert again == [] and skipped == []


def test_flag_changes_and_moves_from_new_to_cur_keep_the_source_id(tmp_path: Path) -> None:
    inbox = make_maildir(tmp_path / "INBOX")
    write_message(inbox, "1700000000.x.host", sub="new")
    pages, records, _ = pull_all(connector(tmp_path))
    known = {record.source_id for record in records}
    os.rename(inbox / "new" / "1700000000.x.host", inbox / "cur" / "1700000000.x.host:2,S")
    os.rename(inbox / "cur" / "1700000000.x.host:2,S", inbox / "cur" / "1700000000.x.host:2,RS")
    _, again, _ = pull_all(connector(tmp_path), pages[-1].cursor, known)
    assert again == []
    _, fresh, _ = pull_all(connector(tmp_path))
    assert {record.source_id for record in fresh} == known


def test_an_unchanged_settled_folder_is_not_even_listed(tmp_path: Path) -> None:
    inbox = make_maildir(tmp_path / "INBOX")
    write_message(inbox, "1700000000.x.host:2,S")
    age(inbox / "cur", inbox / "new")
    pages, records, _ = pull_all(connector(tmp_path))
    assert len(records) == 1
    # A file slipped in without touching the directory mtimes: only a listing would find it.
    write_message(inbox, "1700000001.y.host:2,S")
    age(inbox / "cur", inbox / "new")
    _, again, _ = pull_all(connector(tmp_path), pages[-1].cursor, known=set())
    assert again == []
    _, without_cursor, _ = pull_all(connector(tmp_path), None, {records[0].source_id})
    assert [record.source_id for record in without_cursor] == ["INBOX/1700000001.y.host"]


def test_a_folder_that_changed_within_two_seconds_is_listed_again(tmp_path: Path) -> None:
    inbox = make_maildir(tmp_path / "INBOX")
    write_message(inbox, "1700000000.x.host:2,S")
    pages, records, _ = pull_all(connector(tmp_path))  # cur/ was modified just now
    stamp = os.stat(inbox / "cur")
    write_message(inbox, "1700000001.y.host:2,S")
    os.utime(inbox / "cur", ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # same tick
    _, again, _ = pull_all(connector(tmp_path), pages[-1].cursor, {records[0].source_id})
    assert [record.source_id for record in again] == ["INBOX/1700000001.y.host"]


def test_a_changed_folder_is_listed_and_only_new_files_are_read(tmp_path: Path) -> None:
    inbox = make_maildir(tmp_path / "INBOX")
    archive = make_maildir(tmp_path / "Archive")
    write_message(inbox, "1700000000.x.host:2,S")
    write_message(archive, "1600000000.old.host:2,S")
    age(inbox / "cur", inbox / "new", archive / "cur", archive / "new")
    pages, records, _ = pull_all(connector(tmp_path))
    write_message(inbox, "1700000001.y.host", sub="new")
    _, again, _ = pull_all(
        connector(tmp_path), pages[-1].cursor, {record.source_id for record in records}
    )
    assert [record.source_id for record in again] == ["INBOX/1700000001.y.host"]


def test_an_unreadable_cursor_means_a_full_listing(tmp_path: Path) -> None:
    inbox = make_maildir(tmp_path / "INBOX")
    write_message(inbox, "1700000000.x.host:2,S")
    _, records, _ = pull_all(connector(tmp_path), cursor="{not json")
    assert len(records) == 1


def test_a_page_cursor_mid_pass_does_not_mark_the_unfinished_folder_done(tmp_path: Path) -> None:
    inbox = make_maildir(tmp_path / "INBOX")
    for index in range(600):
        write_message(inbox, f"m{index:04d}")
    age(inbox / "cur", inbox / "new")
    source = connector(tmp_path)
    first: Page = next(iter(source.pull(None, set())))
    assert len(first.records) == 500
    # Stopping after the first page: the next pass must still list INBOX.
    seen = {record.source_id for record in first.records}
    _, rest, _ = pull_all(source, first.cursor, seen)
    assert len(rest) == 100


def test_a_maildir_that_suddenly_holds_no_folders_is_an_error_not_an_empty_source(tmp_path):
    import shutil

    from syncd.errors import SourceEmpty

    root = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    (root / "cur" / "1.1.host:2,S").write_bytes(b"From: a@example.com\nTo: me@example.org\n\nx\n")
    os.utime(root / "cur", ns=(1, 1))  # settled long ago, so the cursor records the folder
    os.utime(root / "new", ns=(1, 1))
    connector = MaildirConnector("mail", {"path": str(root)}, ZoneInfo("UTC"))
    cursor = list(connector.pull(None, set()))[-1].cursor
    assert cursor is not None and "INBOX" in cursor
    shutil.rmtree(root)
    root.mkdir()  # what the mount point of an unmounted disk looks like
    with pytest.raises(SourceEmpty, match="no mail folders"):
        list(connector.pull(cursor, set()))
