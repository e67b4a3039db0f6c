"""The peer benchmark: syncd against what a Linux power user would run instead to learn "who
did I last write to, and when", on the same Dovecot mailbox, in the same run.

The peer is three steps, each timed on its own:
1. ``mbsync -a`` (isync) mirrors the whole account into a local Maildir (bodies included:
   notmuch needs files);
2. ``notmuch new`` indexes that Maildir;
3. ``notmuch address --output=recipients --output=count from:ME`` lists who I wrote to (and
   how often), and ``notmuch show --format=json --body=false from:ME`` read by a few lines of
   Python (this script, timed with it) gives the date of the last message to each of them.

syncd is one step: a first ``syncd sync`` of the same account into a fresh database (it
answers more: incoming mail, every folder's rules, people merged by address). Each step runs
as its own process from a cold Dovecot header cache; wall time, CPU (user + system, the
process and the children it reaped) and peak RSS (of the largest process) are measured by
GNU time. Dovecot's own
CPU is not counted on either side (mbsync makes it read every body, syncd only headers).
The two answers are compared: for how many of the people I wrote to do both give the same
last date.

Run: ``python bench/peer_bench.py [--messages N] [--shape folders|big-inbox]``. Needs dovecot
(as for bench/imap_bench.py), isync, notmuch and GNU time; on Debian/Ubuntu:
``apt-get install -y --no-install-recommends isync notmuch time``. The tests need none of them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from imap_bench import (
    SHAPES,
    compile_tree,
    forget_fetched_headers,
    installed_environment,
    own_home,
    populate,
)
from servers.dovecot import PASSWORD, running_dovecot

ME = "me@example.com"


@dataclass
class Step:
    name: str
    wall: float
    cpu: float
    rss: float
    output: str


def run(name: str, command: list[str], env: dict[str, str] | None = None) -> Step:
    """Run ``command``; return wall seconds, CPU seconds (user + system) and peak RSS (MB) of
    it and the children it reaped, and its output.

    CPU and RSS come from GNU time (``/usr/bin/time``, Debian ``time``), a small C process:
    ``wait4(2)`` on a child this Python process started would report this process's own RSS
    (Linux carries the peak RSS of the old memory across ``execve``, and ``subprocess`` uses
    ``vfork``), which for notmuch's small steps is more than their own.
    """
    with tempfile.NamedTemporaryFile("r") as report:
        started = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", report.name, *command],
                              capture_output=True, stdin=subprocess.DEVNULL, env=env)
        wall = time.perf_counter() - started
        output = done.stdout.decode(errors="replace")
        if done.returncode != 0:
            raise SystemExit(f"{name} failed ({done.returncode}):\n{output[-1000:]}"
                             f"{done.stderr.decode(errors='replace')[-2000:]}")
        user, system, rss_kb = report.read().split()[-3:]
    return Step(name, wall, float(user) + float(system), int(rss_kb) / 1024, output)


def mbsync_config(path: Path, port: int, user: str, mail: Path) -> Path:
    path.write_text(f"""\
IMAPAccount bench
Host 127.0.0.1
Port {port}
User {user}
Pass {PASSWORD}
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account bench

MaildirStore local
Path {mail}/
Inbox {mail}/INBOX
SubFolders Verbatim

Channel bench
Far :remote:
Near :local:
Patterns *
Create Near
Sync Pull
SyncState *
""")
    return path


def notmuch_config(path: Path, mail: Path) -> Path:
    path.write_text(f"""\
[database]
path={mail}
[user]
name=Me
primary_email={ME}
[new]
tags=unread;inbox;
ignore=
[search]
exclude_tags=
[maildir]
synchronize_flags=false
""")
    return path


def last_written(show_json: str) -> dict[str, int]:
    """Fold ``notmuch show --format=json --body=false`` into recipient -> last timestamp."""
    last: dict[str, int] = {}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            headers = node.get("headers")
            if isinstance(headers, dict) and "timestamp" in node:
                for field in ("To", "Cc"):
                    for part in headers.get(field, "").split(","):
                        address = part.strip().rsplit("<", 1)[-1].rstrip(">").strip().lower()
                        if address:
                            last[address] = max(last.get(address, 0), int(node["timestamp"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(show_json))
    return last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--shape", choices=SHAPES, default="folders")
    arguments = parser.parse_args()
    with running_dovecot(tls=False) as server:
        user = "peer"
        server.client(user).logout()
        layout = populate(server, user, arguments.messages, arguments.shape)
        print(f"{sum(layout.values())} messages in {len(layout)} folders (shape "
              f"{arguments.shape}) on a loopback Dovecot (Maildir)")
        work = Path(server.root) / "peer-bench"
        work.mkdir()
        environment = {**installed_environment(), **own_home(work)}
        compile_tree()

        forget_fetched_headers(server, user)
        config = server.config_file(work / "syncd.toml", user, work / "state")
        syncd = run("syncd sync", [sys.executable, "-m", "syncd", "-c", str(config), "sync"],
                    environment)
        people = json.loads(run("syncd people", [sys.executable, "-m", "syncd", "-c",
                                                 str(config), "people", "--all", "--json"],
                                environment).output)

        forget_fetched_headers(server, user)
        mail = work / "mirror"
        mail.mkdir()
        rc = mbsync_config(work / "mbsyncrc", server.port, user, mail)
        mirror = run("mbsync -a", ["mbsync", "-c", str(rc), "-a", "-q"], environment)
        peer_env = dict(environment, NOTMUCH_CONFIG=str(notmuch_config(work / "notmuch", mail)))
        index = run("notmuch new", ["notmuch", "new", "--quiet"], peer_env)
        recipients = run("notmuch address", ["notmuch", "address", "--output=recipients",
                                          "--output=count", "--deduplicate=address",
                                          f"from:{ME}"], peer_env)
        started = time.perf_counter()
        cpu_before = time.process_time()
        show = run("notmuch show", ["notmuch", "show", "--format=json", "--body=false",
                                    "--entire-thread=false", f"from:{ME}"], peer_env)
        dates = last_written(show.output)
        fold = Step("  + fold in Python", time.perf_counter() - started - show.wall,
                    time.process_time() - cpu_before, 0.0, "")
        peer = [mirror, index, recipients, show, fold]

        total = Step("peer total", sum(s.wall for s in peer), sum(s.cpu for s in peer),
                     max(s.rss for s in peer), "")
        print(f"machine: {platform.node()}, {os.cpu_count()} cores, {platform.machine()}, "
              f"Linux {platform.release()}, Python {platform.python_version()}; "
              f"load average before: {os.getloadavg()[0]:.1f}")
        print()
        print("| step | wall (s) | CPU (s) | peak RSS (MB) |")
        print("|---|---|---|---|")
        for step in [*peer, total, syncd]:
            rss = f"{step.rss:.0f}" if step.rss else "-"
            print(f"| {step.name} | {step.wall:.2f} | {step.cpu:.2f} | {rss} |")
        print(f"| **peer / syncd** | **{total.wall / syncd.wall:.1f}x** | "
              f"**{total.cpu / syncd.cpu:.1f}x** | {total.rss / syncd.rss:.1f}x |")
        print()
        theirs = dates
        ours = {address.lower(): person["last_outgoing"] for person in people
                for address in person["addresses"] if person["last_outgoing"]}
        same = sum(1 for address, when in theirs.items()
                   if ours.get(address) == time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                          time.gmtime(when)))
        print(f"who I last wrote to: notmuch address lists "
              f"{len(recipients.output.splitlines())} recipients; the peer has a last date for "
              f"{len(theirs)}, syncd for {len(ours)} people; both give the same last date "
              f"for {same}")
        print(f"syncd said: {syncd.output.strip()}")


if __name__ == "__main__":
    main()
