"""SIGKILL at random points of a 20,000-message IMAP first sync, then a resume, 20 times over:
every resumed database equals the one an uninterrupted run made (same people, same dates,
same counts).

One Dovecot, one mailbox (written as Maildir files onto a tmpfs: 20,000 small files take
~20 s on a busy disk here and ~2 s in memory), one uninterrupted reference run. Each trial
starts from an empty state directory, kills ``syncd sync`` (the parent; its prefetch child
dies with it) after a delay drawn from the trial's seed, then runs ``syncd sync`` again to
the end. Killing a process loses nothing the kernel has (the page cache survives), so the
database files may live on the tmpfs too.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from fault_helpers import can_mount, canonical_dump, mailbox_layout, tmpfs, write_maildir
from servers.dovecot import dovecot_plain  # noqa: F401 - a fixture

MESSAGES = 20_000
TRIALS = 20


def sync_command(config: Path) -> list[str]:
    return [sys.executable, "-m", "syncd", "-c", str(config), "sync"]


@pytest.fixture(scope="module")
def big_mailbox(dovecot_plain):  # noqa: F811
    """A Dovecot user holding MESSAGES messages in four folders, indexed; and a work dir."""
    server = dovecot_plain
    user = server.new_user("kill")
    work = Path(tempfile.mkdtemp(prefix="syncd-kill-", dir="/tmp"))
    mail = server.mail_root(user)
    try:
        if can_mount():
            with tmpfs(mail, "512m", owner="dovecot"), tmpfs(work / "state", "256m"):
                yield server, user, work / "state", _fill(server, user)
        else:
            (work / "state").mkdir()
            yield server, user, work / "state", _fill(server, user)
    finally:
        subprocess.run(["rm", "-rf", str(work)], check=False)


def _fill(server, user: str) -> int:
    layout = mailbox_layout(MESSAGES)
    written = write_maildir(server.maildir(user), layout)
    server.chown_mail(server.maildir(user))
    client = server.client(user)
    for folder in layout:
        client.select_folder(folder, readonly=True)  # Dovecot indexes the files now
    client.logout()
    return written


def test_sigkill_at_random_points_then_resume_equals_an_uninterrupted_first_sync(big_mailbox):
    server, user, work, written = big_mailbox
    assert written == MESSAGES
    reference_config = server.config_file(work / "reference.toml", user, work / "reference")
    started = time.monotonic()
    subprocess.run(sync_command(reference_config), check=True, capture_output=True)
    reference_seconds = time.monotonic() - started
    reference = canonical_dump(work / "reference" / "syncd.sqlite3")
    assert reference["counted"][0][0] > MESSAGES // 2, "the mailbox should hold real contact"

    killed = 0
    different: list[str] = []
    # Later runs read from Dovecot's header cache and are faster than the reference: each run
    # that ends before its kill lowers the estimate, so most kills land inside a sync.
    estimate = reference_seconds
    for seed in range(TRIALS):
        state = work / f"trial{seed}"
        config = server.config_file(work / f"trial{seed}.toml", user, state)
        delay = random.Random(seed).uniform(0.05, 0.9) * estimate
        started = time.monotonic()
        process = subprocess.Popen(sync_command(config), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        while time.monotonic() - started < delay and process.poll() is None:
            time.sleep(0.005)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            killed += 1
        else:
            estimate = min(estimate, time.monotonic() - started)
        process.wait()
        resumed = subprocess.run(sync_command(config), capture_output=True, text=True)
        assert resumed.returncode == 0, (f"trial {seed}: the resumed sync failed:\n"
                                         f"{resumed.stdout}{resumed.stderr}")
        dump = canonical_dump(state / "syncd.sqlite3")
        if dump != reference:
            tables = [name for name in reference if dump[name] != reference[name]]
            different.append(f"trial {seed} (killed after {delay:.2f} s): {tables}")
        # Compared: its files go, so the state tmpfs holds two databases, never TRIALS.
        shutil.rmtree(state, ignore_errors=True)
    print(f"{killed} of {TRIALS} SIGKILLs landed inside a first sync of {MESSAGES} messages; "
          f"{TRIALS - len(different)} of {TRIALS} resumed databases equal the reference")
    assert different == [], f"{len(different)} of {TRIALS} resumed databases differ: {different}"
    # A kill that came after the sync ended proves nothing; most must land inside it.
    assert killed >= TRIALS * 3 // 4, f"only {killed} of {TRIALS} kills landed inside a sync"
