"""The IMAP source on servers laid out unlike the default Dovecot: Gmail (a real Dovecot with
Gmail's folders behind tests/servers/gmail.py) and Courier's ``INBOX.`` namespace with "." and
no SPECIAL-USE (a real Dovecot with ``prefix = INBOX.``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from imap_helpers import connector, mail, pull_all
from servers.dovecot import Dovecot, dovecot_plain, running_dovecot  # noqa: F401 - a fixture
from servers.gmail import GmailProxy, gmail_proxy

import connectors.mail.imap as imap_source
from syncd.engine import Engine
from syncd.model import Role
from syncd.rules import Rules
from syncd.store import Store

NOW = datetime(2026, 6, 1, tzinfo=UTC)
ALL_MAIL = "[Gmail]/All Mail"


@pytest.fixture(scope="module")
def gmail_dovecot() -> Iterator[Dovecot]:
    with running_dovecot(tls=False, layout="gmail") as server:
        yield server


@pytest.fixture(scope="module")
def courier_dovecot() -> Iterator[Dovecot]:
    with running_dovecot(tls=False, layout="inbox-prefix") as server:
        yield server


@pytest.fixture
def gmail(gmail_dovecot) -> Iterator[tuple[Dovecot, GmailProxy, str]]:
    with gmail_proxy(gmail_dovecot.port) as proxy:
        yield gmail_dovecot, proxy, gmail_dovecot.new_user()


def sync(server: Dovecot, user: str, port: int | None = None, **options: object) -> Store:
    """One sync of ``user``'s account (through ``port`` when given) into a new store."""
    store = Store.in_memory()
    store.set_configured_addresses(["me@example.com"])
    if port is not None:
        options["port"] = port
    source = connector(server, user, **options)
    report = Engine(store, Rules(), lambda: NOW).sync("work", source)
    assert report.error is None, report.error
    return store


def people(store: Store) -> set[str]:
    """The addresses of everyone with a counted contact."""
    found = set()
    for person in store.counted_people():
        found.update(person.addresses)
    return found


def put(server: Dovecot, user: str, folder: str, messages: list[bytes]) -> None:
    client = server.client(user)
    try:
        for raw in messages:
            client.append(folder, raw, msg_time=datetime(2024, 3, 1, 12, tzinfo=UTC))
    finally:
        client.logout()


# --- Gmail --------------------------------------------------------------------------------------


def gmail_mailbox(proxy: GmailProxy, server: Dovecot, user: str,
                  messages: list[tuple[bytes, tuple[str, ...]]]) -> None:
    """Put ``messages`` in All Mail in order (UIDs 1, 2 ...) with their Gmail labels."""
    put(server, user, ALL_MAIL, [raw for raw, _ in messages])
    proxy.labels = {uid: labels for uid, (_, labels) in enumerate(messages, start=1)}


def test_gmail_labels_in_every_syntax_say_what_is_sent_and_what_is_a_draft(gmail):
    server, proxy, user = gmail
    gmail_mailbox(proxy, server, user, [
        (mail(1, "alice@example.org"), ("\\Inbox", "Receipts 2024")),
        (mail(2, "me@example.com", "bob@example.org"), ("\\Sent", "a (b)")),
        (mail(3, "me@example.com", "drafty@example.org"), ("\\Draft",)),
        (mail(4, "me@example.com", "carol@example.org"), ("\\Sent", "\\Important")),
        (mail(5, "me@example.com", "erin@example.org"), ("\\Draft", "Family")),
        (mail(6, "alias@example.com", "frank@example.org"), ("\\Sent",)),
    ])
    # UIDs 1..6 cycle through quoted ("\\Sent"), atom (\Sent) and literal user labels.
    store = sync(server, user, proxy.port)
    assert proxy.label_fetches >= 1
    assert people(store) == {"alice@example.org", "bob@example.org", "carol@example.org",
                             "frank@example.org"}
    assert "alias@example.com" in store.my_addresses()


def test_gmail_reads_all_mail_once_and_each_label_gives_the_role(gmail):
    server, proxy, user = gmail
    gmail_mailbox(proxy, server, user, [
        (mail(1, "me@example.com", "bob@example.org"), ("\\Sent",)),
        (mail(2, "me@example.com", "drafty@example.org"), ("\\Draft",)),
        (mail(3, "alice@example.org"), ("Family",)),
    ])
    put(server, user, "[Gmail]/Sent Mail", [mail(1, "me@example.com", "bob@example.org")])
    _, records, skipped, _ = pull_all(connector(server, user, port=proxy.port))
    assert skipped == []
    assert {record.source_id.rsplit("/", 2)[0] for record in records} == {ALL_MAIL}
    assert [record.folder_role for record in records] == [Role.SENT, Role.DRAFTS, Role.ARCHIVE]


# --- INBOX. prefix, "." separator, no SPECIAL-USE -----------------------------------------------


def test_an_inbox_prefix_namespace_without_special_use_gets_roles_from_names_split_on_dot(
        courier_dovecot):
    server = courier_dovecot
    user = server.new_user()
    client = server.client(user)
    try:
        assert {name for _, _, name in client.list_folders()} >= {
            "INBOX", "INBOX.Sent", "INBOX.Junk", "INBOX.Trash", "INBOX.Drafts"}
        client.create_folder("INBOX.Archive")
    finally:
        client.logout()
    put(server, user, "INBOX", [mail(1, "alice@example.org", "old@example.com")])
    put(server, user, "INBOX.Sent", [mail(2, "old@example.com", "bob@example.org")])
    put(server, user, "INBOX.Archive", [mail(3, "carol@example.org")])
    put(server, user, "INBOX.Junk", [mail(4, "junk@example.net")])
    put(server, user, "INBOX.Trash", [mail(5, "trash@example.net")])
    put(server, user, "INBOX.Drafts", [mail(6, "me@example.com", "drafty@example.org")])
    _, records, _, _ = pull_all(connector(server, user))
    assert records[0].source_id.startswith("INBOX.Sent/")
    assert {record.source_id.rsplit("/", 2)[0] for record in records} == {
        "INBOX", "INBOX.Sent", "INBOX.Archive"}
    store = sync(server, user)
    # My old address, seen only as From in Sent, is learned before INBOX is read.
    assert "old@example.com" in store.my_addresses()
    assert people(store) == {"alice@example.org", "bob@example.org", "carol@example.org"}


# --- read order ---------------------------------------------------------------------------------

TO_ALIAS = mail(11, "dave@example.org", "alias@example.com")
FROM_ALIAS = mail(12, "alias@example.com", "frank@example.org")


@pytest.fixture
def one_message_per_page(monkeypatch):
    """Every message in its own FETCH and page, so the page that teaches my alias is not the
    page that needs it (on a real mailbox: 500-message pages)."""
    monkeypatch.setattr(imap_source, "_BATCH", 1)
    monkeypatch.setattr(imap_source, "_PAGE_SIZE", 1)


@pytest.mark.parametrize("alias_sent_first", [False, True], ids=["to-alias-first",
                                                                 "sent-first"])
def test_on_gmail_mail_to_an_alias_counts_whether_read_before_or_after_mail_sent_from_it(
        gmail, one_message_per_page, alias_sent_first):
    server, proxy, user = gmail
    messages = [(TO_ALIAS, ("\\Inbox",)), (FROM_ALIAS, ("\\Sent",))]
    gmail_mailbox(proxy, server, user, messages[::-1] if alias_sent_first else messages)
    store = sync(server, user, proxy.port)
    assert people(store) == {"dave@example.org", "frank@example.org"}
    assert "alias@example.com" in store.my_addresses()


@pytest.mark.parametrize("alias_sent_first", [False, True], ids=["to-alias-first",
                                                                 "sent-first"])
def test_on_a_plain_server_mail_to_an_alias_counts_whether_read_before_or_after_mail_sent_from_it(
        dovecot_plain, alias_sent_first):  # noqa: F811
    server = dovecot_plain
    user = server.new_user()
    store = Store.in_memory()
    store.set_configured_addresses(["me@example.com"])
    engine = Engine(store, Rules(), lambda: NOW)
    arrivals = [("INBOX", TO_ALIAS), ("Sent", FROM_ALIAS)]
    for folder, raw in arrivals[::-1] if alias_sent_first else arrivals:
        put(server, user, folder, [raw])  # one arrives, a sync runs, then the other
        assert engine.sync("work", connector(server, user)).error is None
    assert people(store) == {"dave@example.org", "frank@example.org"}
