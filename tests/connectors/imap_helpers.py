"""Helpers shared by the IMAP tests: messages, direct Maildir delivery, pulling."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from servers.dovecot import Dovecot

from connectors.mail.imap import ImapConnector

_counter = itertools.count(1)


def mail(number: int, sender: str = "alice@example.org", to: str = "me@example.com", *,
         date: str = "Fri, 1 Mar 2024 10:00:00 +0000", extra: str = "") -> bytes:
    """A small RFC 5322 message with Message-ID <number@test>."""
    return (f"From: {sender}\r\nTo: {to}\r\nMessage-ID: <{number}@test>\r\nDate: {date}\r\n"
            f"Subject: message {number}\r\n{extra}\r\nbody {number}\r\n").encode()


def deliver(server: Dovecot, user: str, folder: str, messages: Iterable[bytes]) -> list[str]:
    """Write ``messages`` straight into the user's Maildir (Dovecot indexes them on the next
    SELECT); return the file paths. ``folder`` "INBOX" or a Maildir++ folder name."""
    base = server.maildir(user) if folder == "INBOX" else server.maildir(user) / f".{folder}"
    for sub in ("cur", "new", "tmp"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    paths = []
    stamp = int(time.time())
    for raw in messages:
        name = f"{stamp}.M{next(_counter)}P{os.getpid()}.syncdtest,S={len(raw)}"
        path = base / "new" / name
        path.write_bytes(raw)
        paths.append(str(path))
    server.chown_mail(server.maildir(user))
    return paths


def connector(server: Dovecot, user: str, **options: object) -> ImapConnector:
    source = ImapConnector("work", server.options(user, **options), ZoneInfo("UTC"))
    source.backoff = (0.05, 0.1, 0.2, 0.5, 1.0)
    return source


def pull_all(source: ImapConnector, cursor: str | None = None, known: Iterable[str] = ()):
    """Return (pages, records, skips, final cursor) of one whole pass."""
    pages = list(source.pull(cursor, set(known)))
    records = [record for page in pages for record in page.records]
    skipped = [skip for page in pages for skip in page.skipped]
    return pages, records, skipped, pages[-1].cursor
