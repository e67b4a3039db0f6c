"""Plausible dates on every mail source (PROTOCOL-NOTES rule 11, connectors.mail._mail).

A message's time is its Date header when that lies between 1990-01-01 and two days from now,
else its delivery time (IMAP INTERNALDATE, a Maildir file name or mtime, an mbox From_ line or
the file's mtime) when that does; else the message is skipped with "no plausible date", which
``syncd status`` lists. A Date from the future is never used, even when the server's
INTERNALDATE agrees with it (mail imported with its dates).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from imap_helpers import connector as imap_connector
from imap_helpers import deliver
from imap_helpers import mail as imap_mail
from imap_helpers import pull_all as imap_pull_all
from servers.dovecot import dovecot_plain  # noqa: F401 - a fixture

from connectors.mail._mail import NO_PLAUSIBLE_DATE
from connectors.mail.maildir import MaildirConnector
from connectors.mail.mbox import MboxConnector
from syncd.engine import Engine
from syncd.model import Message, Skip
from syncd.rules import Rules
from syncd.store import Store

NOW = datetime(2026, 6, 1, tzinfo=UTC)
PLAUSIBLE = datetime(2024, 3, 1, 12, tzinfo=UTC)
FUTURE = datetime(2044, 1, 4, 9, tzinfo=UTC)  # a client clock 42 years off
ANCIENT = datetime(1979, 12, 31, 23, tzinfo=UTC)  # an unset clock
FUTURE_DATE = "Mon, 4 Jan 2044 09:00:00 +0000"
ANCIENT_DATE = "Mon, 31 Dec 1979 23:00:00 +0000"


def outcome(records: list[object], skipped: list[Skip]) -> dict[str, object]:
    """Per sender: the time used (Date, else delivery time), or the skip reason."""
    result: dict[str, object] = {}
    for record in records:
        assert isinstance(record, Message) and record.sender is not None
        result[record.sender.email] = record.date or record.received
    return result | {skip.source_id: skip.reason for skip in skipped}


def test_imap_never_uses_a_future_time_even_when_internaldate_agrees(dovecot_plain):  # noqa: F811
    server = dovecot_plain
    user = server.new_user()
    # Dovecot takes a Maildir file's mtime as its INTERNALDATE (its APPEND would not accept a
    # time in the future): the mail was imported with its dates.
    for message, internaldate in (
            (imap_mail(1, "future@example.org", date=FUTURE_DATE), FUTURE),
            (imap_mail(2, "fallback@example.org", date=FUTURE_DATE), PLAUSIBLE),
            (imap_mail(3, "ancient@example.org", date=ANCIENT_DATE), ANCIENT),
            (imap_mail(4, "friend@example.org"), FUTURE)):
        [path] = deliver(server, user, "INBOX", [message])
        os.utime(path, (internaldate.timestamp(), internaldate.timestamp()))
    _, records, skipped, _ = imap_pull_all(imap_connector(server, user))
    found = outcome(records, skipped)
    assert found.pop("fallback@example.org") == PLAUSIBLE
    assert found.pop("friend@example.org") == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert list(found.values()) == [NO_PLAUSIBLE_DATE] * 2, found

    store = Store.in_memory()
    store.set_configured_addresses(["me@example.com"])
    Engine(store, Rules(), lambda: NOW).sync("work", imap_connector(server, user))
    [row] = store.sources()
    assert row.skipped == {NO_PLAUSIBLE_DATE: 2}  # what `syncd status` lists
    last = {address: person.last_contact for person in store.counted_people()
            for address in person.addresses}
    assert last == {"fallback@example.org": PLAUSIBLE,
                    "friend@example.org": datetime(2024, 3, 1, 10, tzinfo=UTC)}


def maildir_file(folder: Path, name: str, sender: str, date: str, mtime: datetime) -> None:
    path = folder / "cur" / name
    path.write_bytes(f"From: {sender}\nTo: me@example.com\nDate: {date}\n\nbody\n".encode())
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))


def test_maildir_never_uses_a_future_or_ancient_time_from_the_name_or_the_mtime(tmp_path):
    inbox = tmp_path / "INBOX"
    for sub in ("cur", "new", "tmp"):
        (inbox / sub).mkdir(parents=True)
    maildir_file(inbox, f"{int(FUTURE.timestamp())}.M1.host:2,", "future@example.org",
                 FUTURE_DATE, FUTURE)
    maildir_file(inbox, f"{int(PLAUSIBLE.timestamp())}.M2.host:2,", "fallback@example.org",
                 FUTURE_DATE, FUTURE)
    maildir_file(inbox, "no-time-in-this-name:2,", "ancient@example.org", ANCIENT_DATE, ANCIENT)
    maildir_file(inbox, "mtime-from-the-future:2,", "mtime@example.org", ANCIENT_DATE, FUTURE)
    pages = list(MaildirConnector("local", {"path": str(tmp_path)}, ZoneInfo("UTC"))
                 .pull(None, set()))
    found = outcome([r for p in pages for r in p.records], [s for p in pages for s in p.skipped])
    assert found.pop("fallback@example.org") == PLAUSIBLE
    assert list(found.values()) == [NO_PLAUSIBLE_DATE] * 3, found


@pytest.mark.parametrize("file_time", [FUTURE, ANCIENT])
def test_mbox_never_uses_a_future_or_ancient_time_from_the_from_line_or_the_file(tmp_path,
                                                                                  file_time):
    def message(sender: str, from_line_time: str, date: str) -> str:
        return (f"From {sender} {from_line_time}\nFrom: {sender}\nTo: me@example.com\n"
                f"Date: {date}\n\nbody\n")

    path = tmp_path / "box"
    path.write_text("\n".join([
        message("future@example.org", "Mon Jan  4 09:00:00 2044", FUTURE_DATE),
        message("fallback@example.org", "Fri Mar  1 12:00:00 2024", FUTURE_DATE),
        message("ancient@example.org", "Mon Dec 31 23:00:00 1979", ANCIENT_DATE),
        message("undated@example.org", "", ANCIENT_DATE),
    ]))
    os.utime(path, (file_time.timestamp(), file_time.timestamp()))
    pages = list(MboxConnector("archive", {"path": str(path)}, ZoneInfo("UTC")).pull(None, set()))
    found = outcome([r for p in pages for r in p.records], [s for p in pages for s in p.skipped])
    assert found.pop("fallback@example.org") == PLAUSIBLE
    assert list(found.values()) == [NO_PLAUSIBLE_DATE] * 3, found
