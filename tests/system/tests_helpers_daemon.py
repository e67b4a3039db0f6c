"""Maildirs and configs for the daemon's process tests."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path


def write_maildir(root: Path, count: int) -> None:
    """Write ``count`` messages to and from 300 friends over the last year."""
    rng = random.Random(5)
    start = datetime.now(UTC) - timedelta(days=400)
    for folder in ("", ".Sent"):
        for sub in ("cur", "new", "tmp"):
            (root / folder / sub).mkdir(parents=True, exist_ok=True)
    for index in range(count):
        when = start + timedelta(minutes=30 * index)
        friend = f"friend{rng.randrange(300)}@example.com"
        folder = rng.choice(["", ".Sent"])
        sender, to = ("me@example.org", friend) if folder else (friend, "me@example.org")
        (root / folder / "cur" / f"{int(when.timestamp())}.{index}.test:2,S").write_text(
            f"From: {sender}\nTo: {to}\nDate: {format_datetime(when)}\n"
            f"Message-ID: <m{index}@example.com>\nSubject: hello\n\nhi\n")


def write_config(tmp: Path, maildir: Path, state: str, backend: str = "log") -> Path:
    """Write a config syncing ``maildir`` into ``tmp/state`` and tracking one friend."""
    config = tmp / f"{state}.toml"
    config.write_text(
        f'[general]\nstate_dir = "{tmp / state}"\ntimezone = "UTC"\n'
        f'[me]\naddresses = ["me@example.org"]\n'
        f'[sources.mail]\ntype = "maildir"\npath = "{maildir}"\nevery = "15m"\n'
        f'[notify]\nbackend = "{backend}"\n'
        f'[[people]]\nname = "Friend One"\naddresses = ["friend1@example.com"]\n'
        f'every = "1w"\n')
    return config
