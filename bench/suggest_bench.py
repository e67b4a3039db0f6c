"""Benchmark: `syncd suggest` over 50,000 people and 2,000,000 contacts (target <= 300 ms).

Builds the database with plain SQL (every person ~40 contacts over three years, mail both ways,
meetings, threads of 1-5 people, a quarter of the people one-way incoming only), lets the
engine refresh the histories, strengths and rhythms as after a first sync (timed), then times,
as medians of --runs rounds:
- the query alone (both groups' strongest untracked people, SQL only) and App.suggest
  in-process (the query, the policy's scores, the exclusions);
- whole processes, start-up and imports included, as a user times them (syncd's bytecode
  compiled as ``pip install`` leaves it): the baseline `python -c pass`, `syncd due --json` on
  the same database (1,000 tracked people), `syncd suggest` and `syncd suggest --json`.

Run: python bench/suggest_bench.py [--people N] [--contacts N] [--runs N] [--state DIR]
(--state keeps the database in DIR and reuses it when it is there.)
"""

from __future__ import annotations

import argparse
import compileall
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import connectors
import syncd
from syncd.app import App
from syncd.config import load_config
from syncd.engine import Engine
from syncd.rules import Rules
from syncd.store import Store

DIRECTIONS = ("outgoing", "incoming", "incoming", "outgoing", "meeting")


def build(state: Path, people: int, contacts: int, tracked: int) -> None:
    Store.open(state).close()
    rng = random.Random(7)
    now = int(time.time())
    db = sqlite3.connect(state / "syncd.sqlite3")
    db.execute("PRAGMA synchronous = OFF")

    def direction(index: int) -> str:
        person = index % people + 1
        return "incoming" if person % 4 == 0 else DIRECTIONS[index * 7 % len(DIRECTIONS)]

    with db:
        db.executemany("INSERT INTO people(id, name, tracked, tier) VALUES (?, ?, ?, ?)",
                       ((i, f"Person {i}", int(i <= tracked), "close" if i % 3 else "friends")
                        for i in range(1, people + 1)))
        db.executemany("INSERT INTO addresses VALUES (?, ?)",
                       ((f"person{i}@example.com", i) for i in range(1, people + 1)))
        db.executemany("INSERT INTO interactions(id, key, at, direction, counts, rule, reason) "
                       "VALUES (?, ?, ?, ?, 1, ?, 'a reason')",
                       ((i, f"k{i}", now - rng.randrange(0, 3 * 365 * 86400), direction(i),
                         direction(i)) for i in range(1, contacts + 1)))
        db.execute("INSERT INTO contacts(interaction_id, person_id, at, direction, counts, "
                   "participants) SELECT id, (id - 1) % ? + 1, at, direction, 1, id % 5 + 1 "
                   "FROM interactions", (people,))
        db.execute("INSERT INTO person_stats(person_id, last_outgoing, last_incoming, "
                   "last_meeting, last_contact, first_contact, interactions, rhythm_dirty) "
                   "SELECT person_id, max(CASE WHEN direction = 'outgoing' THEN at END), "
                   "max(CASE WHEN direction = 'incoming' THEN at END), "
                   "max(CASE WHEN direction = 'meeting' THEN at END), max(at), min(at), "
                   "count(*), 1 FROM contacts GROUP BY person_id")
    db.close()


def median_of(runs: int, function: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--contacts", type=int, default=2_000_000)
    parser.add_argument("--tracked", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--state", type=Path, help="keep (and reuse) the database here")
    arguments = parser.parse_args()
    for package in (syncd, connectors):   # as pip install leaves them: see startup_bench.py
        compileall.compile_dir(package.__path__[0], quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        state = arguments.state or Path(tmp) / "state"
        if not (state / "syncd.sqlite3").exists():
            prepare(state, arguments)
        config_file = Path(tmp) / "config.toml"
        config_file.write_text(f'[general]\nstate_dir = "{state}"\n'
                               '[tiers]\nclose = "14d"\nfriends = "45d"\n')
        env = {**os.environ, "SYNCD_CONFIG": str(config_file)}

        def run(*command: str) -> Callable[[], object]:
            return lambda: subprocess.run([sys.executable, *command], env=env,
                                          check=True, stdout=subprocess.DEVNULL)

        app = App.open(load_config(config_file))
        now = app.clock()

        def query() -> None:
            for dormant in (False, True):
                app.store.strongest_untracked(now, dormant=dormant, limit=30)

        alone = median_of(arguments.runs, query)
        in_process = median_of(arguments.runs, app.suggest)
        due_in_process = median_of(arguments.runs, app.due)
        app.close()
        run("-m", "syncd", "suggest")()    # warm the page cache as a second run finds it
        python = median_of(arguments.runs, run("-c", "pass"))
        due = median_of(arguments.runs, run("-m", "syncd", "due", "--json"))
        text = median_of(arguments.runs, run("-m", "syncd", "suggest"))
        as_json = median_of(arguments.runs, run("-m", "syncd", "suggest", "--json"))
        print(f"medians of {arguments.runs} runs")
        print(f"the query alone (both groups, SQL)    {alone * 1000:8.1f} ms")
        print(f"App.suggest in-process                {in_process * 1000:8.1f} ms  "
              f"(App.due {due_in_process * 1000:.1f} ms)")
        print(f"baseline: `python -c pass`            {python * 1000:8.1f} ms")
        for name, value in (("`syncd due --json`", due), ("`syncd suggest`", text),
                            ("`syncd suggest --json`", as_json)):
            target = "  (target <= 300 ms)" if name == "`syncd suggest`" else ""
            print(f"{name + ' whole process':37} {value * 1000:8.1f} ms  "
                  f"{value / python:5.2f}x python -c pass{target}")


def prepare(state: Path, arguments: argparse.Namespace) -> None:
    """Build the database and refresh what a first sync refreshes, printing the times."""
    started = time.perf_counter()
    build(state, arguments.people, arguments.contacts, arguments.tracked)
    print(f"built {arguments.people:,} people / {arguments.contacts:,} contacts "
          f"in {time.perf_counter() - started:.1f} s")
    store = Store.open(state)
    engine = Engine(store, Rules(), lambda: datetime.now(UTC))
    started = time.perf_counter()
    histories = store.refresh_histories()
    summed = time.perf_counter() - started
    engine.refresh_rhythms()
    refreshed = time.perf_counter() - started
    store.close()
    print(f"histories of {len(histories):,} people summed in one statement in "
          f"{summed:.2f} s; with strengths and rhythms (as after a first sync) "
          f"{refreshed:.1f} s")


if __name__ == "__main__":
    main()
