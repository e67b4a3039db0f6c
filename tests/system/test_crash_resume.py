"""Killing `syncd sync` at any moment and running it again gives the same database."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from syncd.store import Store
from syncd.testing import database_content


def write_maildir(root: Path, count: int) -> None:
    rng = random.Random(3)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for folder in ("", ".Sent", ".Archive"):
        for sub in ("cur", "new", "tmp"):
            (root / folder / sub).mkdir(parents=True, exist_ok=True)
    for index in range(count):
        when = start + timedelta(hours=index)
        friend = f"friend{rng.randrange(300)}@example.com"
        folder = rng.choice(["", ".Sent", ".Archive"])
        sender, to = ("me@example.org", friend) if folder == ".Sent" else (friend, "me@example.org")
        body = (f"From: {sender}\nTo: {to}\nDate: {format_datetime(when)}\n"
                f"Message-ID: <m{index}@example.com>\nSubject: hello {index}\n\nhi\n")
        (root / folder / "cur" / f"{int(when.timestamp())}.{index}.test:2,S").write_text(body)


def config_for(tmp: Path, maildir: Path, state: str) -> Path:
    config = tmp / f"{state}.toml"
    config.write_text(f'[general]\nstate_dir = "{tmp / state}"\n[me]\n'
                      f'addresses = ["me@example.org"]\n'
                      f'[sources.mail]\ntype = "maildir"\npath = "{maildir}"\n')
    return config


def sync_command(config: Path) -> list[str]:
    return [sys.executable, "-m", "syncd", "-c", str(config), "sync"]


def test_killing_sync_at_any_moment_then_resuming_equals_an_uninterrupted_run(tmp_path):
    maildir = tmp_path / "Maildir"
    write_maildir(maildir, 6000)
    reference_config = config_for(tmp_path, maildir, "reference")
    started = time.monotonic()
    subprocess.run(sync_command(reference_config), check=True, capture_output=True)
    full_run = time.monotonic() - started

    killed_config = config_for(tmp_path, maildir, "killed")
    kills = 0
    for fraction in (0.35, 0.5, 0.65, 0.8):
        process = subprocess.Popen(sync_command(killed_config), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        time.sleep(full_run * fraction)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            kills += 1
        process.wait()
    assert kills >= 2, "the sync finished before it could be killed; make the mailbox larger"
    subprocess.run(sync_command(killed_config), check=True, capture_output=True)

    reference = Store.open(tmp_path / "reference")
    resumed = Store.open(tmp_path / "killed")
    # Cursors hold directory mtimes that are only trusted once 2 s old, so they may differ by
    # when each run happened; everything a user sees must be identical.
    expected, actual = database_content(reference), database_content(resumed)
    del expected["cursors"], actual["cursors"]
    assert actual == expected
    assert sum(p.interactions for p in resumed.counted_people()) == 6000
