"""The disk holding the state database fills up during a sync: the user gets one clear
sentence, and the next sync, once there is space, completes with nothing lost.

The state directory is a small tmpfs (mounted for the test: CI runs as root) that holds the
first commit of the sync (5,000 records and the messages kept for revisits: a 4,600 KB tmpfs
held it, 4,000 KB did not) but not the whole (8,000 KB did not); "making space" is remounting
it larger.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from fault_helpers import can_mount, canonical_dump, mailbox_layout, tmpfs, write_maildir

MESSAGES = 12_000


def sync(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "syncd", "-c", str(config), "sync"],
                          capture_output=True, text=True)


def config_for(directory: Path, maildir: Path, state: Path) -> Path:
    config = directory / f"{state.name}.toml"
    config.write_text(f'[general]\nstate_dir = "{state}"\n[me]\naddresses = ["me@example.com"]\n'
                      f'[sources.mail]\ntype = "maildir"\npath = "{maildir}"\n')
    return config


@pytest.fixture
def work():
    if not can_mount():
        if os.environ.get("CI"):
            pytest.fail("CI must run as root: this test mounts a small tmpfs")
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    directory = Path(tempfile.mkdtemp(prefix="syncd-full-", dir="/tmp"))
    try:
        with tmpfs(directory, "256m"):
            yield directory
    finally:
        os.rmdir(directory)


def test_a_full_disk_during_a_sync_is_one_clear_sentence_and_the_next_sync_loses_nothing(work):
    maildir = work / "Maildir"
    write_maildir(maildir, mailbox_layout(MESSAGES))
    reference = sync(config_for(work, maildir, work / "reference"))
    assert reference.returncode == 0, reference.stderr

    small = work / "small"
    with tmpfs(small, "5500k"):
        config = config_for(work, maildir, small / "state")
        full = sync(config)
        assert full.returncode == 1
        failure = [line for line in full.stderr.splitlines() if line.startswith("mail: FAILED")]
        assert len(failure) == 1
        assert "could not be written because its disk is full" in failure[0]
        assert "free some space there and run the sync again" in failure[0]
        assert "Traceback" not in full.stdout + full.stderr
        # Space again: the same file system, made larger.
        subprocess.run(["mount", "-o", "remount,size=64m", str(small)], check=True)
        again = sync(config)
        assert again.returncode == 0, again.stdout + again.stderr
        read = int(again.stdout.split("mail: ")[1].split(" read")[0])
        assert 0 < read < MESSAGES, "the first sync should have stored part of the mailbox"
        assert canonical_dump(small / "state" / "syncd.sqlite3") == canonical_dump(
            work / "reference" / "syncd.sqlite3")
