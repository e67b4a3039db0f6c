"""Rules for the IMAP source, against a real Dovecot (tests/servers/dovecot.py)."""

from __future__ import annotations

import contextlib
import json
import os
from datetime import UTC, datetime

import pytest
from imap_helpers import connector, deliver, mail, pull_all
from servers.dovecot import dovecot_plain, running_dovecot  # noqa: F401 - a fixture
from servers.proxy import cutting_proxy

import connectors.mail.imap as imap_source
from connectors.mail._imap_session import Connection
from syncd.engine import Engine
from syncd.errors import AuthError, SourceEmpty, SourceError
from syncd.model import Role
from syncd.rules import Rules
from syncd.store import Store
from syncd.testing import database_content

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def account(dovecot_plain):  # noqa: F811
    """A fresh user on the session's plain-text Dovecot and a logged-in client for setup."""
    user = dovecot_plain.new_user()
    client = dovecot_plain.client(user)
    yield dovecot_plain, user, client
    with contextlib.suppress(Exception):  # a test may have restarted the server
        client.logout()


def engine_with_store():
    store = Store.in_memory()
    store.set_configured_addresses(["me@example.com"])
    return Engine(store, Rules(), lambda: NOW), store


# --- first sync ---------------------------------------------------------------------------------


def test_first_sync_reads_every_message_once_sent_first(account):
    server, user, client = account
    for number in range(3):
        client.append("INBOX", mail(number))
    client.append("Sent", mail(10, "me@example.com", "bob@example.org"))
    pages, records, skipped, _ = pull_all(connector(server, user))
    assert skipped == []
    assert sorted(record.message_id for record in records) == ["0@test", "10@test", "1@test",
                                                               "2@test"]
    assert records[0].folder_role is Role.SENT
    assert pages[-1].my_addresses == frozenset({"me@example.com"})


def test_source_ids_are_folder_uidvalidity_uid_and_dates_are_utc(account):
    server, user, client = account
    client.append("INBOX", mail(1), msg_time=datetime(2024, 3, 2, 8, 30, tzinfo=UTC))
    validity = client.folder_status("INBOX", ["UIDVALIDITY"])[b"UIDVALIDITY"]
    _, [record], _, _ = pull_all(connector(server, user))
    assert record.source_id == f"INBOX/{validity}/1"
    assert record.date == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert record.received == datetime(2024, 3, 2, 8, 30, tzinfo=UTC)


def test_junk_trash_and_drafts_are_never_read_and_globs_select_folders(account):
    server, user, client = account
    client.create_folder("Archive/2023")
    client.create_folder("Lists")
    for number, folder in enumerate(("INBOX", "Junk", "Trash", "Drafts", "Archive/2023",
                                     "Lists")):
        client.append(folder, mail(number))
    _, records, _, _ = pull_all(connector(server, user))
    assert {record.source_id.rsplit("/", 2)[0] for record in records} == {
        "INBOX", "Archive/2023", "Lists"}
    _, records, _, _ = pull_all(connector(server, user, folders=["INBOX", "Archive/*"],
                                          exclude_folders=["Archive/2023"]))
    assert {record.source_id.split("/")[0] for record in records} == {"INBOX"}


def test_the_date_falls_back_to_internaldate_when_the_date_header_is_absurd(account):
    server, user, client = account
    client.append("INBOX", mail(1, date="Mon, 1 Jan 2120 00:00:00 +0000"),
                  msg_time=datetime(2024, 3, 2, 8, 30, tzinfo=UTC))
    _, [record], _, _ = pull_all(connector(server, user))
    assert record.date is None
    assert record.received == datetime(2024, 3, 2, 8, 30, tzinfo=UTC)


def test_reading_headers_never_marks_mail_seen(account):
    server, user, client = account
    client.append("INBOX", mail(1))
    pull_all(connector(server, user))
    client.select_folder("INBOX", readonly=True)
    assert b"\\Seen" not in client.get_flags([1])[1]


# --- incremental ----------------------------------------------------------------------------------


def test_a_second_pass_reads_only_new_mail(account):
    server, user, client = account
    client.append("INBOX", mail(1))
    source = connector(server, user)
    _, _, _, cursor = pull_all(source)
    client.append("INBOX", mail(2))
    _, records, _, cursor = pull_all(source, cursor)
    assert [record.message_id for record in records] == ["2@test"]
    _, records, _, _ = pull_all(source, cursor)
    assert records == []


def record_commands(monkeypatch) -> list[str]:
    """Return a list that fills with the IMAP commands the connector sends from now on."""
    commands: list[str] = []
    for name in ("examine", "status", "statuses", "list_folders", "list_with_status",
                 "uids_from", "send_fetch"):
        original = getattr(Connection, name)

        def spy(self, *args, _name=name, _original=original, **kwargs):
            commands.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(Connection, name, spy)
    return commands


def test_a_pass_with_nothing_new_sends_one_command_per_folder_and_nothing_else(account,
                                                                                 monkeypatch):
    server, user, client = account
    client.append("INBOX", mail(1))
    source = connector(server, user)
    _, _, _, cursor = pull_all(source)
    commands = record_commands(monkeypatch)
    pages, records, _, after = pull_all(source, cursor)
    assert records == [] and len(pages) == 1
    # INBOX opened first of all (before LIST: cheaper on Dovecot), then one LIST-STATUS for
    # every other folder (RFC 5819), and nothing else.
    assert commands == ["examine", "list_with_status"]
    assert json.loads(after) == json.loads(cursor)


#: Dovecot 2.3's own list after login, without LIST-STATUS (RFC 5819).
WITHOUT_LIST_STATUS = ("IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT MULTIAPPEND "
                       "UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE "
                       "QRESYNC ESEARCH SEARCHRES WITHIN MOVE LITERAL+ SPECIAL-USE")


@pytest.fixture(scope="module")
def dovecot_without_list_status():
    with running_dovecot(tls=False, capabilities=WITHOUT_LIST_STATUS) as server:
        yield server


def test_without_list_status_each_other_folder_gets_one_status(dovecot_without_list_status,
                                                               monkeypatch):
    server = dovecot_without_list_status
    user = server.new_user()
    client = server.client(user)
    client.append("INBOX", mail(1))
    client.create_folder("Lists")
    client.append("Lists", mail(2))
    source = connector(server, user)
    _, records, _, cursor = pull_all(source)
    assert sorted(record.message_id for record in records) == ["1@test", "2@test"]
    commands = record_commands(monkeypatch)
    _, records, _, after = pull_all(source, cursor)
    assert records == [] and json.loads(after) == json.loads(cursor)
    # Lists' and Sent's STATUS pipelined (one round trip), none asked again alone.
    assert commands == ["examine", "list_folders", "statuses"]
    client.append("Lists", mail(3))
    commands.clear()
    _, records, _, _ = pull_all(source, after)
    assert [record.message_id for record in records] == ["3@test"]
    assert commands == ["examine", "list_folders", "statuses", "examine", "uids_from",
                        "send_fetch"]
    client.logout()


def test_pipelined_status_answers_what_status_answers_and_a_refusal_is_refused(
        dovecot_without_list_status):
    server = dovecot_without_list_status
    user = server.new_user()
    client = server.client(user)
    names = ["Reisen/Übersicht", 'with "quotes" and space', "Lists"]
    for number, name in enumerate(names):
        client.create_folder(name)
        client.append(name, mail(number))
    client.logout()
    source = connector(server, user)
    connection = Connection.open(source.settings, source._login())
    try:
        assert not connection.lists_status
        every = [*names, "Sent", "INBOX"]
        assert connection.statuses(every) == {name: connection.status(name) for name in every}
        assert connection.statuses(["Lists"])["Lists"].messages == 1
        with pytest.raises(imap_source.Refused):
            connection.statuses(["Lists", "No such folder"])
        assert connection.statuses([]) == {}
        assert connection.status("Lists").messages == 1  # the connection still works
        many = [f"Many{number:03d}" for number in range(150)]  # more than one pipelined chunk
        setup = server.client(user)
        for name in many:
            setup.create_folder(name)
        setup.append(many[-1], mail(999))
        setup.logout()
        answered = connection.statuses(many)
        assert list(answered) == many and answered[many[-1]].messages == 1
        assert answered[many[70]] == connection.status(many[70])
    finally:
        connection.close()


def test_inbox_is_not_opened_when_the_globs_leave_it_out(account, monkeypatch):
    server, user, client = account
    client.append("INBOX", mail(1))
    client.append("Sent", mail(2, sender="me@example.com", to="bob@example.org"))
    source = connector(server, user, exclude_folders=["INBOX"])
    _, records, _, cursor = pull_all(source)
    assert [record.message_id for record in records] == ["2@test"]
    commands = record_commands(monkeypatch)
    _, records, _, _ = pull_all(source, cursor)
    assert records == [] and commands == ["list_with_status"]


def test_list_status_answers_what_status_answers_for_every_folder(account):
    """The one-command listing (RFC 5819) gives each folder, odd names included (modified
    UTF-7, RFC 3501 §5.1.3; spaces and quotes), the values its own STATUS gives."""
    server, user, client = account
    for name in ("Reisen/Übersicht", 'with "quotes" and space', "Lists"):
        client.create_folder(name)
        client.append(name, mail(len(name)))
    client.append("INBOX", mail(1))
    connection = Connection.open(connector(server, user).settings,
                                 connector(server, user)._login())
    try:
        assert connection.lists_status  # Dovecot has it
        folders, statuses = connection.list_with_status()
        # Extended LIST says \NonExistent where a plain one says \Noselect (RFC 5258 §3.4:
        # it implies \Noselect); every other attribute is the same.
        def same(folder):
            return folder.name, folder.delimiter, frozenset(
                "\\noselect" if flag == "\\nonexistent" else flag for flag in folder.attributes)

        assert sorted(map(same, folders)) == sorted(map(same, connection.list_folders()))
        assert any("\\sent" in folder.attributes for folder in folders)
        names = {folder.name for folder in folders}
        assert {"Reisen/Übersicht", 'with "quotes" and space', "Lists", "INBOX"} <= names
        selectable = {folder.name for folder in folders if not folder.attributes & {
            "\\noselect", "\\nonexistent"}}
        assert statuses == {name: connection.status(name) for name in selectable}
        assert statuses["Reisen/Übersicht"].messages == 1
    finally:
        connection.close()


def test_new_mail_in_inbox_is_read_without_opening_it_twice(account, monkeypatch):
    server, user, client = account
    client.append("INBOX", mail(1))
    source = connector(server, user)
    _, _, _, cursor = pull_all(source)
    client.append("INBOX", mail(2))
    commands = record_commands(monkeypatch)
    _, records, _, _ = pull_all(source, cursor)
    assert [record.message_id for record in records] == ["2@test"]
    assert commands == ["examine", "list_with_status", "uids_from", "send_fetch"]  # one EXAMINE


def test_every_page_carries_a_cursor_that_resumes_at_the_right_uid(account):
    server, user, _ = account
    deliver(server, user, "INBOX", [mail(number) for number in range(1200)])
    source = connector(server, user)
    pages = source.pull(None, set())
    first = next(pages)
    pages.close()  # a crash after the first page was stored
    assert 0 < len(first.records) <= 500
    _, rest, _, _ = pull_all(source, first.cursor)
    seen = [record.message_id for record in (*first.records, *rest)]
    assert len(seen) == len(set(seen)) == 1200


def test_uidnext_going_backwards_is_accepted(account):
    server, user, client = account
    client.append("INBOX", mail(1))
    source = connector(server, user)
    _, [record], _, cursor = pull_all(source)
    state = json.loads(cursor)
    state["folders"]["INBOX"]["next"] = 50  # as if the server had said UIDNEXT 50 before
    _, records, _, after = pull_all(source, json.dumps(state), known={record.source_id})
    assert records == []
    client.append("INBOX", mail(2))
    _, records, _, _ = pull_all(source, after, known={record.source_id})
    assert [record.message_id for record in records] == ["2@test"]


# --- server-side changes --------------------------------------------------------------------------


def test_a_recreated_folder_is_read_again_without_counting_anyone_twice(account):
    server, user, client = account
    client.create_folder("Archive")
    client.append("Archive", mail(1))
    client.append("Archive", mail(2, "me@example.com", "bob@example.org"))
    engine, store = engine_with_store()
    source = connector(server, user)
    first = engine.sync("work", source)
    assert first.new_contacts == 2
    stats = database_content(store)["stats"]
    client.delete_folder("Archive")
    client.create_folder("Archive")  # a new UIDVALIDITY (RFC 3501 §2.3.1.1)
    client.append("Archive", mail(1))
    client.append("Archive", mail(2, "me@example.com", "bob@example.org"))
    again = engine.sync("work", source)
    assert again.error is None
    assert again.records == 2 and again.new_contacts == 0
    assert database_content(store)["stats"] == stats


def test_expunged_and_moved_mail_never_retracts_a_contact(account):
    server, user, client = account
    client.create_folder("Archive")
    client.append("INBOX", mail(1))
    client.append("INBOX", mail(2, "carol@example.org"))
    engine, store = engine_with_store()
    source = connector(server, user)
    engine.sync("work", source)
    stats = database_content(store)["stats"]
    client.select_folder("INBOX")
    client.move([1], "Archive")
    client.delete_messages([2])
    client.expunge()
    report = engine.sync("work", source)
    assert report.error is None and report.records == 1 and report.new_contacts == 0
    assert database_content(store)["stats"] == stats


def test_a_folder_emptied_alone_is_fine_but_an_account_listing_nothing_is_an_error(account):
    server, user, client = account
    client.append("INBOX", mail(1))
    source = connector(server, user)
    _, _, _, cursor = pull_all(source)
    client.select_folder("INBOX")
    client.delete_messages([1])
    client.expunge()
    with pytest.raises(SourceEmpty, match="syncd sync work --full"):
        pull_all(source, cursor)
    client.append("Sent", mail(2, "me@example.com", "bob@example.org"))
    _, records, _, _ = pull_all(source, cursor)  # INBOX empty, Sent not: inbox zero is normal
    assert [record.message_id for record in records] == ["2@test"]


# --- faults ---------------------------------------------------------------------------------


def test_a_message_the_server_cannot_serve_is_skipped_and_retried_later(account):
    server, user, client = account
    good = deliver(server, user, "INBOX", [mail(1), mail(2)])
    [poisoned] = deliver(server, user, "INBOX", [mail(3)])
    deliver(server, user, "INBOX", [mail(4)])
    client.select_folder("INBOX", readonly=True)  # Dovecot assigns UIDs (no header read)
    assert good
    os.chmod(poisoned, 0)
    source = connector(server, user)
    _, records, skipped, cursor = pull_all(source)
    assert sorted(record.message_id for record in records) == ["1@test", "2@test", "4@test"]
    [skip] = skipped
    assert skip.source_id.endswith("/3") and "retried later" in skip.reason
    _, records, skipped, cursor = pull_all(source, cursor)
    assert records == [] and skipped == []  # not before its retry time
    os.chmod(poisoned, 0o600)
    source._clock = lambda: 10**10  # after the retry time
    _, records, skipped, cursor = pull_all(source, cursor)
    assert [record.message_id for record in records] == ["3@test"] and skipped == []
    assert json.loads(cursor)["folders"]["INBOX"]["q"] == {}


def test_a_poisoned_message_among_pipelined_batches_is_the_only_skip(account, monkeypatch):
    server, user, client = account
    monkeypatch.setattr(imap_source, "_BATCH", 2)  # many batches, the next always in flight
    deliver(server, user, "INBOX", [mail(number) for number in range(1, 6)])
    [poisoned] = deliver(server, user, "INBOX", [mail(6)])
    deliver(server, user, "INBOX", [mail(number) for number in range(7, 12)])
    client.select_folder("INBOX", readonly=True)
    os.chmod(poisoned, 0)
    _, records, skipped, _ = pull_all(connector(server, user))
    assert sorted(int(record.message_id.split("@")[0]) for record in records) == [
        1, 2, 3, 4, 5, 7, 8, 9, 10, 11]
    assert [skip.source_id.rsplit("/", 1)[1] for skip in skipped] == ["6"]


@pytest.mark.parametrize("cut_after", [5000, 60_000])
def test_a_connection_dropped_between_pipelined_batches_loses_nothing(account, monkeypatch,
                                                                      cut_after):
    server, user, client = account
    monkeypatch.setattr(imap_source, "_BATCH", 25)
    deliver(server, user, "INBOX", [mail(number) for number in range(300)])
    client.select_folder("INBOX", readonly=True)
    with cutting_proxy(server.port) as proxy:
        source = connector(server, user, port=proxy.port)
        proxy.cut_after(cut_after)
        _, records, skipped, _ = pull_all(source)
    assert proxy.cuts == 1 and skipped == []
    assert len({record.message_id for record in records}) == 300


def test_a_connection_dropped_mid_fetch_is_reopened_and_nothing_is_lost(account):
    server, user, client = account
    deliver(server, user, "INBOX", [mail(number) for number in range(300)])
    client.select_folder("INBOX", readonly=True)
    with cutting_proxy(server.port) as proxy:
        source = connector(server, user, port=proxy.port)
        proxy.cut_after(5000)  # well inside the first FETCH answer
        _, records, skipped, _ = pull_all(source)
    assert proxy.cuts == 1 and proxy.connections >= 2
    assert skipped == []
    assert len({record.message_id for record in records}) == 300


def test_a_server_restarted_mid_sync_is_waited_for(account):
    server, user, client = account
    deliver(server, user, "INBOX", [mail(number) for number in range(1200)])
    client.logout()
    source = connector(server, user)
    pages = source.pull(None, set())
    first = next(pages)
    server.restart()
    rest = list(pages)
    seen = [record.message_id for page in (first, *rest) for record in page.records]
    assert len(seen) == len(set(seen)) == 1200


def test_an_unreachable_server_is_one_clear_error(account):
    server, user, _ = account
    from servers.dovecot import free_port

    source = connector(server, user, port=free_port())
    with pytest.raises(SourceError, match=r"cannot connect to 127\.0\.0\.1:[0-9]+ .*host and port"):
        pull_all(source)


def test_a_wrong_password_is_an_auth_error_naming_syncd_auth(account):
    server, user, _ = account
    source = connector(server, user, password_command="echo wrong-password")
    with pytest.raises(AuthError, match="run: syncd auth work"):
        pull_all(source)
    with pytest.raises(AuthError):
        source.check_password("wrong-password")


def test_a_failed_auth_pauses_the_source_in_the_store(account):
    server, user, _ = account
    engine, store = engine_with_store()
    report = engine.sync("work", connector(server, user, password_command="echo nope"))
    assert report.error_kind == "auth" and "syncd auth work" in (report.error or "")
    assert store.is_paused("work")


def test_starttls_is_required_when_chosen(account):
    server, user, _ = account
    source = connector(server, user, tls="starttls")  # this Dovecot has ssl = no
    with pytest.raises(SourceError, match="does not offer STARTTLS"):
        pull_all(source)


# --- bad input ------------------------------------------------------------------------------


def test_malformed_headers_are_skips_not_failures(account):
    server, user, client = account
    odd = [
        b"no header block at all",
        b"From: \r\nTo: \r\n\r\nempty addresses\r\n",
        b"From: =?utf-8?q?broken?= <\r\nDate: 99 Foo 0000 99:99:99 +9999\r\n\r\n",
        b"From: ok@example.org\r\nTo: me@example.com\r\nDate: Tue, 31 Feb 2023 25:61:00 +0000\r\n"
        b"\r\n",
        "From: Jürgen <jürgen@example.org>\r\nTo: me@example.com\r\n\r\n".encode(),
        b"From: a@example.org\r\nTo: " + b"x@example.org, " * 2000 + b"\r\n\r\n",
    ]
    for raw in odd:
        client.append("INBOX", raw)
    _, records, skipped, _ = pull_all(connector(server, user))
    assert len(records) + len(skipped) == len(odd)
    assert all(skip.reason for skip in skipped)
    assert all(record.received is None or record.received.tzinfo is UTC for record in records)
