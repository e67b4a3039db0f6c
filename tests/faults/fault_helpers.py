"""Helpers shared by the fault-injection tests: a mailbox to sync, a canonical database dump."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

#: My address in every mailbox written here.
ME = "me@example.com"


def mailbox_layout(total: int) -> dict[str, int]:
    """Messages per folder for a mailbox of ``total`` messages: mostly INBOX, a Sent folder,
    an archive and a junk folder (never counted)."""
    sent = total // 6
    archive = total // 10
    junk = total // 50
    return {"INBOX": total - sent - archive - junk, "Sent": sent, "Archive": archive,
            "Junk": junk}


def message(rng: random.Random, number: int, folder: str) -> bytes:
    """One message of a realistic mix: repeated and one-off correspondents, Cc, list mail,
    mail without a Message-ID, the same message in two folders (by Message-ID)."""
    start = datetime(2023, 1, 1, tzinfo=UTC)
    when = start + timedelta(minutes=37 * number + rng.randrange(30))
    regular = rng.random() < 0.7
    friend = (f"friend{rng.randrange(400)}@example{rng.randrange(7)}.org" if regular
              else f"stranger{number}@elsewhere{rng.randrange(50)}.net")
    sender, to = (ME, friend) if folder == "Sent" else (friend, ME)
    lines = [f"From: Person {friend.split('@')[0]} <{sender}>" if folder != "Sent"
             else f"From: Me <{sender}>", f"To: {to}", f"Date: {format_datetime(when)}",
             f"Subject: note {number}"]
    if rng.random() < 0.2:
        lines.append(f"Cc: colleague{rng.randrange(60)}@work.example")
    if rng.random() < 0.1:
        lines.append("List-Id: <news.example.org>")
    if rng.random() < 0.97:
        # Now and then the same Message-ID as an earlier message (a copy kept in two folders).
        same = rng.randrange(number) if number and rng.random() < 0.03 else number
        lines.append(f"Message-ID: <{same}.fault@example.org>")
    return ("\r\n".join(lines) + "\r\n\r\nhello\r\n").encode()


def write_maildir(root: Path, layout: dict[str, int], seed: int = 14) -> int:
    """Write ``layout`` as Maildir++ files under ``root`` (INBOX at the top, ``.Folder``
    below); return how many messages were written."""
    rng = random.Random(seed)
    number = 0
    for folder, count in layout.items():
        base = root if folder == "INBOX" else root / f".{folder}"
        for sub in ("cur", "new", "tmp"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        for _ in range(count):
            raw = message(rng, number, folder)
            (base / "cur" / f"1700000000.M{number}P1.fault,S={len(raw)}:2,S").write_bytes(raw)
            number += 1
    return number


def canonical_dump(database: Path) -> dict[str, list[tuple[object, ...]]]:
    """Return what a user sees in a state database, independent of row ids and row order.

    People are named by their sorted addresses (ids depend on the order rows were made);
    ``people``: addresses, name, tracked, tier, ignored; ``person_stats``: every date and
    count; ``contacts``: interaction key, person, time, direction, counts; ``counted``: the
    number of counted interactions.
    """
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        names: dict[int, str] = {}
        for person_id, addresses in connection.execute(
                "SELECT person_id, group_concat(address, ' ') FROM "
                "(SELECT person_id, address FROM addresses ORDER BY address) "
                "GROUP BY person_id"):
            names[person_id] = addresses
        people = sorted(
            (names.get(row[0], f"#{row[0]} without an address"), *row[1:])
            for row in connection.execute(
                "SELECT id, name, tracked, tier, ignored FROM people"))
        stats = sorted(
            (names.get(row[0], f"#{row[0]}"), *row[1:])
            for row in connection.execute(
                "SELECT person_id, last_outgoing, last_incoming, last_meeting, last_manual, "
                "last_contact, first_contact, interactions, inferred_days FROM person_stats"))
        contacts = sorted(
            (row[0], names.get(row[1], f"#{row[1]}"), *row[2:])
            for row in connection.execute(
                "SELECT i.key, c.person_id, c.at, c.direction, c.counts FROM contacts c "
                "JOIN interactions i ON i.id = c.interaction_id"))
        counted = connection.execute(
            "SELECT count(*) FROM interactions WHERE counts").fetchone()
        return {"people": people, "person_stats": stats, "contacts": contacts,
                "counted": [tuple(counted)]}
    finally:
        connection.close()


@contextlib.contextmanager
def tmpfs(directory: Path, size: str, *, owner: str | None = None) -> Iterator[Path]:
    """Mount a fresh tmpfs of ``size`` (``"64m"``) on ``directory`` (made if missing), owned
    by the user ``owner`` (default: the current one), mode 0700; unmount it after the block.

    Needs root (``mount(8)``), as CI runs: raise :class:`RuntimeError` with mount's own
    message when the mount fails, so a test that needs one fails instead of passing quietly.
    """
    directory.mkdir(parents=True, exist_ok=True)
    uid, gid = os.getuid(), os.getgid()
    if owner is not None:
        import pwd

        entry = pwd.getpwnam(owner)
        uid, gid = entry.pw_uid, entry.pw_gid
    done = subprocess.run(["mount", "-t", "tmpfs", "-o",
                           f"size={size},mode=0700,uid={uid},gid={gid}",
                           "syncd-test", str(directory)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"cannot mount a tmpfs on {directory} (root is needed, as in CI): "
                           f"{done.stderr.strip()}")
    try:
        yield directory
    finally:
        # Lazy: a server process that still has a file open there must not fail the test.
        subprocess.run(["umount", "-l", str(directory)], check=False)


def can_mount() -> bool:
    """True when this process may mount file systems (root), as in CI."""
    return os.geteuid() == 0 and shutil.which("mount") is not None
