"""IMAP benchmark: syncd against a loopback Dovecot holding 100,000 messages.

Measured in one run (issue 4 and 14 targets in brackets):
- baseline: the raw header FETCH of the same folders, one connection, no parsing;
- ``syncd sync`` (whole process, into SQLite) on the first pass  [<= 2x baseline, aim 1.3x];
- its peak RSS                                                 [<= 150 MB];
- a no-change ``syncd sync`` over every folder                 [<= 0.25 s];
- ``syncd sync`` after 10 new messages in the big folder        [<= 0.3 s], next to the
  server's own floor for it (log in, EXAMINE, FETCH the 10, in-process).

Run: ``python bench/imap_bench.py [--messages N] [--shape folders|big-inbox]
[--mail-format maildir|sdbox|mdbox]`` (needs dovecot; as root it runs the mail processes as
the dovecot user). ``--shape`` is the mailbox (:data:`SHAPES`): 50 folders with repeated
correspondents (the default), or one 85% INBOX and a 15% Sent with most correspondents
distinct, where syncd creates a person for most messages. ``--mail-format`` is how
Dovecot stores the mail (default Maildir, whose first open of a big folder after new mail
rescans its directory; the dbox formats keep everything in indexes). Mail is loaded the
fastest way for the format (:func:`populate`) and indexed by Dovecot before anything is timed.
The baseline and the first sync both start with Dovecot's header cache empty, as a user's
first sync does (:func:`forget_fetched_headers`).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from servers.dovecot import MAIL_FORMATS, running_dovecot  # noqa: E402

from connectors.mail._imap_fetch import fetch_items  # noqa: E402
from connectors.mail._mail import FETCH_HEADERS  # noqa: E402

FOLDERS = 50  # INBOX, Sent and 48 others
#: Mailbox shapes: "folders" (50 folders, ~95% in INBOX, 5% Sent, ~3,000 correspondents who
#: write again and again) and "big-inbox" (INBOX 85%, Sent 15%, most correspondents distinct).
SHAPES = ("folders", "big-inbox")


def message(rng: random.Random, number: int, sent: bool, shape: str = "folders") -> bytes:
    """One message of ``shape``: "folders" writes with ~3,000 repeated correspondents;
    "big-inbox" with many distinct ones (60% of mail from or to someone new)."""
    if shape == "big-inbox" and rng.random() < 0.6:
        friend = f"person{number}@domain{number % 997}.example"
    else:
        friend = f"friend{rng.randrange(3000)}@example{rng.randrange(40)}.org"
    sender, to = ("me@example.com", friend) if sent else (friend, "me@example.com")
    cc = f"Cc: other{rng.randrange(500)}@example.net\n" if rng.random() < 0.3 else ""
    extra = "List-Id: <news.example.org>\n" if rng.random() < 0.2 else ""
    day = 1 + number % 28
    return (f"Return-Path: <{sender}>\nReceived: from mx.example.org by mail.example.com\n"
            f"From: Friend {number} <{sender}>\nTo: {to}\n{cc}{extra}"
            f"Subject: message number {number} about things\n"
            f"Date: Mon, {day} Jan 2024 10:{number % 60:02d}:00 +0100\n"
            f"Message-ID: <{number}.{rng.randrange(10**9)}@example.org>\n"
            f"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n"
            f"Hello {number}\n" + "body text line\n" * 20).encode()


def write_maildir(root: Path, layout: dict[str, int], shape: str = "folders") -> None:
    """Write the messages of ``layout`` as files into the Maildir(++) ``root``, all seen."""
    rng = random.Random(7)
    number = 0
    for folder, count in layout.items():
        base = root if folder == "INBOX" else root / f".{folder}"
        for sub in ("cur", "new", "tmp"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        for _ in range(count):
            raw = message(rng, number, folder == "Sent", shape)
            (base / "cur" / f"1700000000.M{number}P1.bench,S={len(raw)}:2,S").write_bytes(raw)
            number += 1


def append_all(server, user: str, layout: dict[str, int], batch: int = 1000,
               shape: str = "folders") -> None:
    """APPEND the messages of ``layout`` over IMAP (MULTIAPPEND, ``batch`` a command), seen."""
    rng = random.Random(7)
    number = 0
    client = server.client(user)
    existing = {name for _flags, _separator, name in client.list_folders()}
    for folder, count in layout.items():
        if folder not in existing:
            client.create_folder(folder)
        while count:
            chunk = []
            for _ in range(min(batch, count)):
                chunk.append({"msg": message(rng, number, folder == "Sent", shape),
                              "flags": [b"\\Seen"]})
                number += 1
            client.multiappend(folder, chunk)
            count -= len(chunk)
    client.logout()


def layout_for(shape: str, total: int) -> dict[str, int]:
    """Messages per folder of a mailbox of ``shape`` (see :data:`SHAPES`)."""
    if shape == "big-inbox":
        sent = total * 15 // 100
        return {"INBOX": total - sent, "Sent": sent}
    small = 10
    sent = total // 20
    layout = {"INBOX": total - sent - small * (FOLDERS - 2), "Sent": sent}
    layout.update({f"Folder{index:02d}": small for index in range(FOLDERS - 2)})
    return layout


def populate(server, user: str, total: int, shape: str = "folders") -> dict[str, int]:
    """Load ``total`` messages in the folders of ``shape`` (the same ones, in order, on every
    format) and have Dovecot index them; return messages per folder.

    Each format its fastest way (measured with 100,000 messages on 2 shared cores):
    - maildir: the files written straight into the user's Maildir (7-10 s);
    - sdbox: the same Maildir written to a scratch directory, then ``doveadm import`` without
      fsync (23-34 s: one file per message, twice. MULTIAPPEND ~40 s as the server fsyncs
      every file; ``doveadm import`` of an mbox ~27 s);
    - mdbox: IMAP MULTIAPPEND (2.5 s; scratch Maildir + ``doveadm import`` ~20 s).
    """
    layout = layout_for(shape, total)
    if server.mail_format == "maildir":
        write_maildir(server.maildir(user), layout, shape)
        server.chown_mail(server.maildir(user))
    elif server.mail_format == "sdbox":
        scratch = server.scratch_maildir(user)
        write_maildir(scratch, layout, shape)
        server.import_maildir(user, scratch)
        shutil.rmtree(scratch)
    else:
        append_all(server, user, layout, shape=shape)
    client = server.client(user)
    for folder in layout:
        client.select_folder(folder, readonly=True)  # Dovecot indexes a Maildir now
    client.logout()
    return layout


def forget_fetched_headers(server, user: str) -> None:
    """Make the next FETCH of headers a first one: delete Dovecot's per-folder cache files.

    Dovecot keeps the header fields a client asked for in ``dovecot.index.cache`` (one per
    folder: next to the Maildir folder's ``cur``, in ``mailboxes/NAME/dbox-Mails/`` for dbox)
    and serves later FETCHes from there (3x faster here). A user's first sync meets a server
    that was never asked for them, so the baseline and the first sync are both measured after
    this. Dovecot rebuilds the file on demand (the message files stay in the OS page cache:
    written just before, for both).
    """
    for cache in server.mail_root(user).rglob("dovecot.index.cache"):
        cache.unlink()


def raw_fetch(server, user: str, folders: list[str], batch: int = 500) -> tuple[float, int]:
    """The physical limit: header FETCH of every folder, one connection, no parsing."""
    client = server.client(user)
    client._imap.debug = 0
    items = fetch_items(FETCH_HEADERS)
    count = 0
    started = time.perf_counter()
    for folder in folders:
        status = client.select_folder(folder, readonly=True)
        top = int(status[b"UIDNEXT"])
        for low in range(1, top, batch):
            kind, data = client._imap.uid("FETCH", f"{low}:{min(low + batch - 1, top)}", items)
            assert kind == "OK"
            count += sum(1 for item in data if isinstance(item, tuple))
    elapsed = time.perf_counter() - started
    client.logout()
    return elapsed, count


def library_fetch(server, user: str, folders: list[str], batch: int = 500) -> float:
    """For reference: the same FETCH through imapclient's ``fetch()``, which parses every
    answer into dicts (what a Python client without syncd's reader gets); seconds."""
    client = server.client(user)
    items = ["UID", "INTERNALDATE",
             "BODY.PEEK[HEADER.FIELDS (" + " ".join(FETCH_HEADERS).upper() + ")]"]
    started = time.perf_counter()
    for folder in folders:
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        for low in range(0, len(uids), batch):
            client.fetch(uids[low:low + batch], items)
    elapsed = time.perf_counter() - started
    client.logout()
    return elapsed


def raw_new_mail(server, user: str) -> float:
    """The server's floor for new mail: log in, EXAMINE INBOX, FETCH the 10 newest headers.

    In-process, no parsing: what any client pays. On Maildir mostly Dovecot syncing a
    directory of ~95k files after new mail (each first open of the folder rescans it); the
    dbox formats read only their indexes.
    """
    started = time.perf_counter()
    client = server.client(user)
    client._imap.debug = 0
    status = client.select_folder("INBOX", readonly=True)
    top = int(status[b"UIDNEXT"])
    kind, _ = client._imap.uid("FETCH", f"{max(1, top - 10)}:*", fetch_items(FETCH_HEADERS))
    assert kind == "OK"
    client.logout()
    return time.perf_counter() - started


def installed_environment() -> dict[str, str]:
    """The environment of ``syncd sync`` runs: this one, but with Python's bytecode cache on.

    An installed syncd runs from compiled bytecode (pip compiles it at install time). A
    development shell may set PYTHONDONTWRITEBYTECODE, which makes every run compile every
    module again (~30 ms of start-up here); :func:`main` compiles syncd first, as pip does.
    """
    environment = dict(os.environ)
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    return environment


def own_home(work: Path) -> dict[str, str]:
    """Environment variables that give the syncd runs a home of their own below ``work``
    (config, state, tokens) and no keyring."""
    home = work / "home"
    return {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_STATE_HOME": str(home / ".state"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}


def compile_tree(tree: Path = ROOT) -> None:
    """Compile the bytecode of syncd in ``tree`` once, as installing it does (see
    :func:`installed_environment`)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "syncd"),
                    str(tree / "connectors")], check=True, env=installed_environment())


def run_sync(config: Path, tree: Path | None = None) -> tuple[float, float, str, float]:
    """Run ``syncd sync`` as a user does; return wall seconds, peak RSS (MB), output, and CPU
    seconds (user + system, with its prefetch child): CPU says more than wall time on a busy
    machine. With ``tree``, syncd is run from that source tree instead (its directory first
    on the path, and the working directory, which ``python -m`` puts first)."""
    environment = installed_environment()
    if tree is not None:
        environment["PYTHONPATH"] = str(tree)
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "syncd", "-c", str(config), "sync"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, env=environment, cwd=tree)
    output = process.stdout.read().decode() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"syncd sync failed:\n{output}")
    return (elapsed, usage.ru_maxrss / 1024, output.strip(),
            usage.ru_utime + usage.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3,
                        help="(baseline, first sync) pairs to measure (default 3)")
    parser.add_argument("--mail-format", choices=MAIL_FORMATS, default="maildir",
                        help="Dovecot's storage format for the mail (default maildir)")
    parser.add_argument("--shape", choices=SHAPES, default="folders",
                        help="the mailbox: 50 folders with repeated correspondents (default), "
                             "or one big INBOX and Sent with many distinct correspondents")
    arguments = parser.parse_args()
    with running_dovecot(tls=False, mail_format=arguments.mail_format) as server:
        user = "bench"
        server.client(user).logout()  # creates the user's mail directory
        started = time.perf_counter()
        layout = populate(server, user, arguments.messages, arguments.shape)
        print(f"loaded and indexed {sum(layout.values())} messages in {len(layout)} folders "
              f"({server.mail_format}, shape {arguments.shape}: "
              + ", ".join(f"{name} {count}" for name, count in list(layout.items())[:2])
              + f") in {time.perf_counter() - started:.1f} s")
        folders = sorted(layout, key=lambda name: name != "Sent")
        work = Path(server.root) / "bench-state"
        work.mkdir()
        os.environ.update(own_home(work))
        compile_tree()
        # Rounds of (baseline, first sync into a fresh database), both from a cold header
        # cache: the machine is shared, so one pair alone says little.
        pairs = []
        for round_ in range(arguments.rounds):
            forget_fetched_headers(server, user)
            raw_seconds, fetched = raw_fetch(server, user, folders)
            config = server.config_file(work / "config.toml", user, work / f"state{round_}")
            forget_fetched_headers(server, user)
            first, rss, output, cpu = run_sync(config)
            pairs.append((first / raw_seconds, raw_seconds, first, rss))
            print(f"round {round_ + 1}: raw header FETCH {raw_seconds:.2f} s "
                  f"({fetched / raw_seconds:,.0f} msg/s); first syncd sync {first:.2f} s "
                  f"({fetched / first:,.0f} msg/s), CPU {cpu:.2f} s, peak RSS {rss:.0f} MB; "
                  f"ratio {first / raw_seconds:.2f}x  [{output}]")
        ratios = sorted(pair[0] for pair in pairs)
        print(f"first sync / raw FETCH: best {ratios[0]:.2f}x, median "
              f"{ratios[len(ratios) // 2]:.2f}x, worst {ratios[-1]:.2f}x (target <= 2x, aim 1.3x)")
        print(f"  peak RSS: {max(pair[3] for pair in pairs):.0f} MB (target <= 150 MB)")
        forget_fetched_headers(server, user)
        library_seconds = library_fetch(server, user, folders)
        print(f"  (for reference, imapclient's fetch() of the same items from a cold cache: "
              f"{library_seconds:.2f} s, {fetched / library_seconds:,.0f} msg/s)")
        warm_seconds, _ = raw_fetch(server, user, folders)
        print(f"  (the raw FETCH served from Dovecot's header cache, as a repeat is: "
              f"{warm_seconds:.2f} s, {fetched / warm_seconds:,.0f} msg/s)")
        times = [run_sync(config)[0] for _ in range(3)]
        print(f"no-change syncd sync over {len(layout)} folders: best {min(times):.3f} s, "
              f"worst {max(times):.3f} s (target <= 0.25 s)")
        client = server.client(user)
        rng = random.Random(11)
        timings = []
        floors = []
        for round_ in range(3):
            # The same fresh start for both: 10 messages the server has not opened since.
            for index in range(10):
                client.append("INBOX", message(rng, 10**7 + round_ * 20 + index, False,
                                               arguments.shape))
            floors.append(raw_new_mail(server, user))
            run_sync(config)  # reads those 10; not timed
            for index in range(10, 20):
                client.append("INBOX", message(rng, 10**7 + round_ * 20 + index, False,
                                               arguments.shape))
            timings.append(run_sync(config)[0])
        client.logout()
        print(f"10 new messages in the {layout['INBOX']}-message INBOX: best "
              f"{min(timings):.3f} s, worst {max(timings):.3f} s (target <= 0.3 s)")
        print(f"  server floor (in-process login + EXAMINE INBOX + FETCH of the 10): best "
              f"{min(floors):.3f} s, worst {max(floors):.3f} s")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        print(f"  (python start-up alone here: {time.perf_counter() - started:.3f} s)")


if __name__ == "__main__":
    main()
