"""The IMAP source against a second real server: Cyrus IMAP 3.6 (tests/servers/cyrus.py), in
both its namespace modes (``INBOX.Sent`` with "." and ``Sent`` with "/"), with and without
SPECIAL-USE attributes on the folders, and with another user's folders shared to the user.

The connector contract runs against Cyrus in tests/contract. Of the Dovecot IMAP tests, the
representative ones (first sync Sent first, roles, incremental passes, a recreated folder) run
here too; most others exercise Dovecot-specific fault injection (writing its Maildir directly,
restarts, a cutting proxy).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from imap_helpers import mail, pull_all
from servers.cyrus import Cyrus, cyrus  # noqa: F401 - a fixture

from connectors.mail._imap_session import Connection, FolderInfo
from connectors.mail.imap import ImapConnector
from syncd.engine import Engine
from syncd.errors import SourceEmpty
from syncd.model import Role
from syncd.rules import Rules
from syncd.store import Store

NOW = datetime(2026, 6, 1, tzinfo=UTC)
SPECIAL = ("Sent", "Junk", "Trash", "Drafts")


def connector(server: Cyrus, user: str, **options: object) -> ImapConnector:
    return server.connector(user, **options)


def make_folders(server: Cyrus, user: str, *, marked: bool) -> None:
    """Create ``user``'s Sent, Junk, Trash and Drafts, with their RFC 6154 attribute when
    ``marked`` (CREATE ... (USE (...)), RFC 6154 §3), else as plain folders; and Archive."""
    client = server.client(user)
    try:
        for name in SPECIAL:
            full = server.personal(name)
            if marked:
                typ, data = client._imap._simple_command("CREATE", full, f"(USE (\\{name}))")
                assert typ == "OK", data
            else:
                client.create_folder(full)
        client.create_folder(server.personal("Archive"))
    finally:
        client.logout()


def put(server: Cyrus, user: str, folder: str, messages: list[bytes]) -> None:
    server.put(user, folder, messages)


def sync(server: Cyrus, user: str, store: Store | None = None, **options: object) -> Store:
    if store is None:
        store = Store.in_memory()
        store.set_configured_addresses([f"{user}@example.com"])
    report = Engine(store, Rules(), lambda: NOW).sync("work", connector(server, user, **options))
    assert report.error is None, report.error
    return store


def people(store: Store) -> set[str]:
    return {address for person in store.counted_people() for address in person.addresses}


def folder_of(source_id: str) -> str:
    return source_id.rsplit("/", 2)[0]


# --- folders ------------------------------------------------------------------------------------


@pytest.mark.parametrize("marked", [True, False], ids=["special-use", "names-only"])
def test_sent_is_read_first_and_junk_trash_drafts_never_in_either_namespace(cyrus, marked):  # noqa: F811
    server = cyrus
    user = server.new_user()
    make_folders(server, user, marked=marked)
    put(server, user, "INBOX", [mail(1, "alice@example.org", "old@example.com")])
    put(server, user, "Sent", [mail(2, "old@example.com", "bob@example.org")])
    put(server, user, "Archive", [mail(3, "carol@example.org", f"{user}@example.com")])
    put(server, user, "Junk", [mail(4, "junk@example.net", f"{user}@example.com")])
    put(server, user, "Trash", [mail(5, "trash@example.net", f"{user}@example.com")])
    put(server, user, "Drafts", [mail(6, f"{user}@example.com", "drafty@example.org")])
    pages, records, skipped, _ = pull_all(connector(server, user))
    assert skipped == []
    assert folder_of(records[0].source_id) == server.personal("Sent")
    assert records[0].folder_role is Role.SENT
    assert {folder_of(record.source_id) for record in records} == {
        "INBOX", server.personal("Sent"), server.personal("Archive")}
    assert pages[-1].my_addresses == frozenset({"old@example.com"})
    store = sync(server, user)
    assert people(store) == {"alice@example.org", "bob@example.org", "carol@example.org"}


def test_a_second_pass_reads_only_new_mail_and_a_recreated_folder_counts_no_one_twice(cyrus):  # noqa: F811
    server = cyrus
    user = server.new_user()
    make_folders(server, user, marked=True)
    put(server, user, "Archive", [mail(1, "alice@example.org", f"{user}@example.com")])
    source = connector(server, user)
    _, first, _, cursor = pull_all(source)
    put(server, user, "INBOX", [mail(2, "bob@example.org", f"{user}@example.com")])
    _, records, _, cursor = pull_all(source, cursor, [r.source_id for r in first])
    assert [record.message_id for record in records] == ["2@test"]
    _, records, _, cursor = pull_all(source, cursor)
    assert records == []
    store = sync(server, user)
    client = server.client(user)
    try:
        client.delete_folder(server.personal("Archive"))
        client.create_folder(server.personal("Archive"))
    finally:
        client.logout()
    put(server, user, "Archive", [mail(1, "alice@example.org", f"{user}@example.com")])
    before = {person.id: person.interactions for person in store.counted_people()}
    sync(server, user, store)
    assert {person.id: person.interactions for person in store.counted_people()} == before


def test_list_status_on_cyrus_gives_what_list_and_status_give(cyrus):  # noqa: F811
    """Cyrus 3.6 has LIST-STATUS (RFC 5819): the one-command listing equals LIST plus one
    STATUS per folder, special-use attributes and odd names included, and a no-change pass
    reads nothing (the fallback without it: tests/connectors/test_imap.py)."""
    server = cyrus
    user = server.new_user()
    make_folders(server, user, marked=True)
    client = server.client(user)
    try:
        client.create_folder(server.personal("Reisen Übersicht"))
    finally:
        client.logout()
    put(server, user, "Reisen Übersicht", [mail(7, "carol@example.org", f"{user}@example.com")])
    put(server, user, "INBOX", [mail(1, "alice@example.org", f"{user}@example.com")])
    source = connector(server, user)
    connection = Connection.open(source.settings, source._login())
    try:
        plain = connection.list_folders()
        assert connection.lists_status
        folders, statuses = connection.list_with_status()

        def same(folder: FolderInfo) -> tuple[str, frozenset[str]]:
            # \NonExistent (extended LIST) implies \Noselect (RFC 5258 §3.4).
            return folder.name, frozenset(
                "\\noselect" if flag == "\\nonexistent" else flag
                for flag in folder.attributes if flag not in ("\\haschildren",
                                                             "\\hasnochildren"))

        assert sorted(map(same, folders)) == sorted(map(same, plain))
        selectable = [folder.name for folder in plain if "\\noselect" not in folder.attributes]
        assert statuses == {name: connection.status(name) for name in selectable}
        assert statuses[server.personal("Reisen Übersicht")].messages == 1
    finally:
        connection.close()
    _, records, _, cursor = pull_all(source)
    assert sorted(record.message_id for record in records) == ["1@test", "7@test"]
    _, records, _, after = pull_all(source, cursor)
    assert records == [] and after == cursor


# --- other users' folders -----------------------------------------------------------------------


@pytest.fixture
def shared(cyrus) -> Iterator[tuple[Cyrus, str, str]]:  # noqa: F811
    """alice shares her INBOX and Sent with bob (read rights, RFC 4314); both have mail."""
    server = cyrus
    alice, bob = server.new_user("alice"), server.new_user("bob")
    make_folders(server, alice, marked=True)
    put(server, alice, "INBOX", [mail(100 + n, f"sender{n}@example.net", f"{alice}@example.com")
                                 for n in range(3)])
    put(server, alice, "Sent", [mail(200 + n, f"{alice}@example.com",
                                     f"friend{n}@example.net") for n in range(3)])
    client = server.client(alice)
    try:
        for folder in ("INBOX", server.personal("Sent")):
            client.setacl(folder, bob, "lrs")
    finally:
        client.logout()
    yield server, alice, bob


@pytest.mark.parametrize("marked", [True, False], ids=["special-use", "names-only"])
def test_folders_shared_by_another_user_are_not_read_and_nothing_of_theirs_becomes_mine(
        shared, marked):
    server, alice, bob = shared
    make_folders(server, bob, marked=marked)
    put(server, bob, "INBOX", [mail(300, f"{alice}@example.com", f"{bob}@example.com")])
    put(server, bob, "Sent", [mail(301, f"{bob}@example.com", "zoe@example.org")])
    client = server.client(bob)
    try:
        listed = {name for _, _, name in client.list_folders()}
    finally:
        client.logout()
    assert server.other_user(alice, "Sent") in listed  # the server does show them
    _, records, _, _ = pull_all(connector(server, bob))
    assert {folder_of(record.source_id) for record in records} == {
        "INBOX", server.personal("Sent"), server.personal("Archive")} - {
        server.personal("Archive")}
    store = sync(server, bob)
    assert f"{alice}@example.com" not in store.my_addresses()
    assert people(store) == {f"{alice}@example.com", "zoe@example.org"}


def test_another_users_folders_named_in_folders_are_read_but_never_as_mine(shared):
    server, alice, bob = shared
    make_folders(server, bob, marked=True)
    put(server, bob, "INBOX", [mail(300, f"{alice}@example.com", f"{bob}@example.com")])
    theirs = server.other_user(alice) + "*"
    _, records, _, _ = pull_all(connector(server, bob, folders=["INBOX", theirs]))
    assert {folder_of(record.source_id) for record in records} == {
        "INBOX", server.other_user(alice), server.other_user(alice, "Sent")}
    assert all(record.folder_role is not Role.SENT for record in records)
    store = sync(server, bob, folders=["INBOX", theirs])
    assert f"{alice}@example.com" not in store.my_addresses()
    # Her mail is between her and others: none of it is contact of mine.
    assert people(store) == {f"{alice}@example.com"}


# --- the rest of a pass -------------------------------------------------------------------------


def test_source_ids_dates_and_flags_on_cyrus(cyrus):  # noqa: F811
    server = cyrus
    user = server.new_user()
    put(server, user, "INBOX", [mail(1, date="Fri, 1 Mar 2024 10:00:00 +0100")])
    client = server.client(user)
    try:
        validity = client.folder_status("INBOX", ["UIDVALIDITY"])[b"UIDVALIDITY"]
        _, [record], _, _ = pull_all(connector(server, user))
        client.select_folder("INBOX", readonly=True)
        flags = client.get_flags([1])[1]
    finally:
        client.logout()
    assert record.source_id == f"INBOX/{validity}/1"
    assert record.date == datetime(2024, 3, 1, 9, tzinfo=UTC)
    assert record.received == datetime(2024, 3, 1, 12, tzinfo=UTC)
    assert b"\\Seen" not in flags  # BODY.PEEK


def test_an_account_listing_nothing_is_an_error_but_a_folder_emptied_alone_is_not(cyrus):  # noqa: F811
    server = cyrus
    user = server.new_user()
    make_folders(server, user, marked=True)
    put(server, user, "INBOX", [mail(1)])
    source = connector(server, user)
    _, _, _, cursor = pull_all(source)
    client = server.client(user)
    try:
        client.select_folder("INBOX")
        client.delete_messages([1])
        client.expunge()
    finally:
        client.logout()
    with pytest.raises(SourceEmpty, match="syncd sync work --full"):
        pull_all(source, cursor)
    put(server, user, "Sent", [mail(2, f"{user}@example.com", "bob@example.org")])
    _, records, _, _ = pull_all(source, cursor)
    assert [record.message_id for record in records] == ["2@test"]


def test_idle_on_cyrus_reports_new_mail(cyrus):  # noqa: F811
    server = cyrus
    user = server.new_user()
    source = connector(server, user)
    try:
        assert source.wait_for_changes(0.2) is False  # nothing arrived
        # Mail arrives while the source waits in IDLE (Cyrus polls every imapidlepoll = 1 s).
        arrival = threading.Timer(0.5, put, (server, user, "INBOX", [mail(1)]))
        arrival.start()
        try:
            assert source.wait_for_changes(20) is True
        finally:
            arrival.join()
    finally:
        source.close()
