"""Benchmark: `syncd report` for 500 tracked people over 50,000 people / 2,000,000 contacts.

Targets (issue 13): the whole `syncd report --out FILE` process <= 1 s; the HTML <= 2 MB.

The database is built with plain SQL (fast). The tracked people are the busy ones: a fifth of
all contacts are with them (~800 each over three years, ~530 in the 24 months the heat map
shows), in every direction, so the one monthly query aggregates ~270,000 index rows. Timed in
the same run:

- baseline: the whole `syncd due --json` process on the same database (start-up, imports and
  the same tracked people), as a user times it;
- in-process parts of a report: the monthly query, build_report, render_html;
- the whole `syncd report --out FILE` process; its ratio to the baseline.

The SQL-built database has no tie strengths (they are computed by a sync), so `syncd suggest`
finds nothing here and the report's suggestion rows cost only their empty query.

Run: python bench/report_bench.py [--people N] [--contacts N] [--tracked N] [--busy-share F]
[--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from syncd.app import App
from syncd.config import load_config
from syncd.report import build_report
from syncd.report_html import render_html
from syncd.store import Store

DIRECTIONS = ("outgoing", "incoming", "incoming", "outgoing", "meeting")


def build(state: Path, people: int, contacts: int, tracked: int, busy_share: float) -> None:
    Store.open(state).close()
    rng = random.Random(13)
    now = int(time.time())
    span = 3 * 365 * 86400
    busy = int(contacts * busy_share)  # with the tracked people
    db = sqlite3.connect(state / "syncd.sqlite3")
    db.execute("PRAGMA synchronous = OFF")
    with db:
        db.executemany("INSERT INTO people(id, name, tracked, tier) VALUES (?, ?, ?, ?)",
                       ((i, f"Person {i}", int(i <= tracked),
                         ("close" if i % 3 else "friends") if i <= tracked else None)
                        for i in range(1, people + 1)))
        db.executemany("INSERT INTO addresses(address, person_id) VALUES (?, ?)",
                       ((f"person{i}@example.com", i) for i in range(1, people + 1)))

        def rows():
            for i in range(1, contacts + 1):
                person = rng.randrange(1, tracked + 1) if i <= busy else rng.randrange(
                    tracked + 1, people + 1)
                # Some tracked people went quiet: their contacts stop months ago.
                stop = (person % 7) * 20 * 86400 if person <= tracked else 0
                yield (i, person, now - stop - rng.randrange(0, span),
                       DIRECTIONS[rng.randrange(len(DIRECTIONS))])

        db.execute("CREATE TEMP TABLE raw(id INTEGER PRIMARY KEY, person INTEGER, at INTEGER, "
                   "direction TEXT)")
        db.executemany("INSERT INTO raw VALUES (?, ?, ?, ?)", rows())
        db.execute("INSERT INTO interactions(id, key, at, direction, counts, rule, reason) "
                   "SELECT id, 'k' || id, at, direction, 1, direction, 'bench' FROM raw")
        db.execute("INSERT INTO contacts(interaction_id, address, person_id, at, direction, "
                   "counts, address_counts) SELECT id, 'person' || person || '@example.com', "
                   "person, at, direction, 1, 1 FROM raw")
        db.execute(
            "INSERT INTO person_stats(person_id, last_outgoing, last_incoming, last_meeting, "
            "last_contact, first_contact, interactions, inferred_days) SELECT person_id, "
            "max(CASE WHEN direction = 'outgoing' THEN at END), "
            "max(CASE WHEN direction = 'incoming' THEN at END), "
            "max(CASE WHEN direction = 'meeting' THEN at END), max(at), min(at), count(*), "
            "CASE WHEN count(*) >= 6 THEN 14.0 END FROM contacts GROUP BY person_id")
        db.execute("INSERT INTO sources(name, last_attempt, last_success, had_data) "
                   "VALUES ('mail', ?, ?, 1)", (now, now))
    db.close()


def best_of(runs: int, function) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def process_times(runs: int, command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Return the best wall-clock time and the best CPU time (user + system) of ``command``.

    CPU time is what the process itself costs: on a machine shared with other work the wall
    clock also counts the time it waited for a core.
    """
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return min(walls), min(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--contacts", type=int, default=2_000_000)
    parser.add_argument("--tracked", type=int, default=500)
    parser.add_argument("--busy-share", type=float, default=0.2,
                        help="share of all contacts that are with the tracked people (0.2)")
    parser.add_argument("--keep", type=Path, help="build the database here once and reuse it")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = (arguments.keep or Path(tmp)) / "state"
        if not (state / "syncd.sqlite3").exists():
            started = time.perf_counter()
            build(state, arguments.people, arguments.contacts, arguments.tracked,
                  arguments.busy_share)
            print(f"built {arguments.people:,} people ({arguments.tracked:,} tracked) / "
                  f"{arguments.contacts:,} contacts in {time.perf_counter() - started:.1f} s")
        config_file = Path(tmp) / "config.toml"
        config_file.write_text(f'[general]\nstate_dir = "{state}"\ntimezone = "Europe/Berlin"\n'
                               '[sources.mail]\ntype = "maildir"\npath = "/nonexistent"\n'
                               '[tiers]\nclose = "14d"\nfriends = "45d"\n')
        app = App.open(load_config(config_file))
        tracked_ids = [row.id for row in app.store.tracked_people()]
        rows_read = app.store._db.execute(
            "SELECT count(*) FROM contacts WHERE person_id <= ? AND at >= ?",
            (arguments.tracked, int(time.time()) - 730 * 86400)).fetchone()[0]
        monthly = best_of(5, lambda: app.monthly(tracked_ids))
        built = best_of(5, lambda: build_report(app))
        report = build_report(app)
        rendered = best_of(5, lambda: render_html(report))
        html = render_html(report)
        app.close()
        env = {**os.environ, "SYNCD_CONFIG": str(config_file)}
        out = Path(tmp) / "report.html"
        due = [sys.executable, "-m", "syncd", "due", "--json"]
        whole_report = [sys.executable, "-m", "syncd", "report", "--out", str(out)]
        subprocess.run(whole_report, env=env, check=True, stdout=subprocess.DEVNULL)  # warm
        baseline, baseline_cpu = process_times(5, due, env)
        whole, whole_cpu = process_times(5, whole_report, env)
        size = out.stat().st_size
        print(f"monthly query, {len(tracked_ids)} people, {rows_read:,} contacts in 24 months "
              f"{monthly * 1000:8.1f} ms")
        print(f"build_report (ties, monthly, meetings, sources)        {built * 1000:8.1f} ms")
        print(f"render_html ({len(report.rows)} rows)                              "
              f"{rendered * 1000:8.1f} ms")
        print(f"baseline: `syncd due --json` whole process             {baseline * 1000:8.1f} ms"
              f"  (CPU {baseline_cpu * 1000:.0f} ms)")
        print(f"`syncd report --out FILE` whole process                {whole * 1000:8.1f} ms"
              f"  (CPU {whole_cpu * 1000:.0f} ms)  ratio to baseline {whole / baseline:.2f}"
              "  (target <= 1000 ms)")
        print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"HTML size {size / 1e6:.2f} MB ({len(html):,} characters)  (target <= 2 MB)")


if __name__ == "__main__":
    main()
