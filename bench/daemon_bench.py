"""Daemon benchmarks (issue 5): idle cost, memory over many cycles, alert check at scale.

Run: python bench/daemon_bench.py [--cycles 10000] [--people 50000] [--idle 10]

1. Idle daemon: a real `syncd run` process after its first sync; CPU over --idle seconds and
   RSS (target: ~0% CPU, RSS <= 80 MB).
2. Scheduler cycles: one in-process daemon with a FakeConnector runs --cycles cycles (a sync
   request through the queue, every 10th failing so backoff reschedules the APScheduler job,
   then the alert check); RSS growth after a warm-up (target <= 5 MB).
3. Alert check over --people tracked people (10% quiet): the first check (one digest) and a
   second one (nothing new) (target <= 200 ms), with `due` alone as the baseline.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from syncd.config import parse_config  # noqa: E402
from syncd.daemon import Daemon  # noqa: E402
from syncd.notify import LogNotifier  # noqa: E402
from syncd.testing import FakeConnector, message  # noqa: E402


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_daemon(directory: Path, seconds: float) -> None:
    maildir = directory / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    for index in range(200):
        (maildir / "cur" / f"{index}.bench:2,S").write_text(
            f"From: friend{index % 20}@example.com\nTo: me@example.org\n"
            f"Date: Mon, 01 Jun 2026 12:00:00 +0000\nMessage-ID: <b{index}@x>\n\nhi\n")
    config = directory / "idle.toml"
    config.write_text(f'[general]\nstate_dir = "{directory / "idle"}"\ntimezone = "UTC"\n'
                      f'[me]\naddresses = ["me@example.org"]\n'
                      f'[sources.mail]\ntype = "maildir"\npath = "{maildir}"\n'
                      f'[notify]\nbackend = "log"\n')
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(directory / "notify"))
    notify.settimeout(30)
    process = subprocess.Popen([sys.executable, "-m", "syncd", "-c", str(config), "run"],
                               env={**os.environ, "NOTIFY_SOCKET": str(directory / "notify")},
                               stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        while b"STATUS=idle" not in notify.recv(4096):
            pass
        time.sleep(1)
        cpu_before, started = cpu_seconds(process.pid), time.monotonic()
        time.sleep(seconds)
        cpu = (cpu_seconds(process.pid) - cpu_before) / (time.monotonic() - started)
        print(f"idle daemon: CPU {cpu * 100:.2f}% over {seconds:.0f} s, "
              f"RSS {rss_mb(process.pid):.1f} MB (target <= 80 MB)")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        notify.close()


def make_daemon(directory: Path, connector: FakeConnector, name: str) -> Daemon:
    config = parse_config({
        "general": {"state_dir": str(directory / name), "timezone": "UTC"},
        "me": {"addresses": ["me@example.org"]},
        "sources": {"fake": {"type": "maildir", "path": str(directory)}},
        "notify": {"backend": "log", "max_per_day": 1000000}})
    return Daemon(lambda: config, connector_factory=lambda source: connector,
                  notifier=LogNotifier(), environ={})


def scheduler_cycles(directory: Path, cycles: int) -> None:
    now = datetime.now(UTC)
    records = [message(str(index), f"friend{index % 50}@example.com", ["me@example.org"],
                       date=now - timedelta(days=index % 90)) for index in range(500)]
    connector = FakeConnector(records, page_size=100)
    daemon = make_daemon(directory, connector, "cycles")
    daemon.start()
    try:
        daemon.process_pending()
        warm = max(1, cycles // 10)
        baseline = None
        started = time.perf_counter()
        for cycle in range(cycles):
            connector.fail_after_pages = 0 if cycle % 10 == 9 else None
            daemon.request("sync", "fake")
            daemon.process_pending()  # the sync, then the alert check it queues
            if cycle + 1 == warm:
                baseline = rss_mb()
        elapsed = time.perf_counter() - started
        growth = rss_mb() - (baseline or 0.0)
        print(f"{cycles} scheduler cycles: {elapsed / cycles * 1000:.2f} ms each, RSS "
              f"{baseline:.1f} MB after {warm} -> {rss_mb():.1f} MB after {cycles}: "
              f"growth {growth:+.2f} MB (target <= 5 MB)")
    finally:
        daemon.shutdown()


def alert_check(directory: Path, people: int) -> None:
    daemon = make_daemon(directory, FakeConnector([]), "alerts")
    daemon.start()
    try:
        now = daemon.clock()
        day = 86400
        epoch = int(now.timestamp())
        database = daemon.store._db
        with daemon.store.transaction():
            database.executemany(
                "INSERT INTO people(id, name, tracked, every_days) VALUES (?, ?, 1, 30)",
                [(index, f"Person {index}") for index in range(1, people + 1)])
            database.executemany("INSERT INTO addresses(address, person_id) VALUES (?, ?)",
                                 [(f"p{index}@example.com", index)
                                  for index in range(1, people + 1)])
            database.executemany(
                "INSERT INTO person_stats(person_id, last_outgoing, last_contact, "
                "first_contact, interactions) VALUES (?, ?, ?, ?, 3)",
                [(index, last, last, last - 400 * day) for index in range(1, people + 1)
                 for last in [epoch - (40 if index % 10 == 0 else 5) * day]])
        started = time.perf_counter()
        due = daemon.app.due()
        baseline = time.perf_counter() - started
        started = time.perf_counter()
        first = daemon.check_alerts()
        first_time = time.perf_counter() - started
        started = time.perf_counter()
        second = daemon.check_alerts()
        second_time = time.perf_counter() - started
        print(f"alert check over {people} tracked people ({len(due)} quiet): first "
              f"{first_time * 1000:.0f} ms ({first} notification), second "
              f"{second_time * 1000:.0f} ms ({second} sent); `due` alone "
              f"{baseline * 1000:.0f} ms; ratio second/due {second_time / baseline:.2f} "
              "(target <= 200 ms)")
    finally:
        daemon.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=10000)
    parser.add_argument("--people", type=int, default=50000)
    parser.add_argument("--idle", type=float, default=10.0)
    arguments = parser.parse_args()
    logging.disable(logging.WARNING)  # the failing cycles log a warning each
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        idle_daemon(directory, arguments.idle)
        alert_check(directory, arguments.people)
        scheduler_cycles(directory, arguments.cycles)


if __name__ == "__main__":
    main()
