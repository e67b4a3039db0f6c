"""Benchmark: `syncd due --json` over 50,000 people and 2,000,000 contacts (target <= 200 ms).

Builds the database with plain SQL (fast), then times, in the same process:
- baseline: one full scan of the contacts table (what a naive `due` would at least cost);
- `due` in-process (App.due + JSON), the work `syncd due --json` does after start-up;
- the whole `syncd due --json` process, start-up and imports included, as a user times it.

Run: python bench/due_bench.py [--people N] [--contacts N] [--tracked N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from syncd.app import App
from syncd.config import parse_config
from syncd.render import tie_json
from syncd.store import Store


def build(state: Path, people: int, contacts: int, tracked: int) -> None:
    Store.open(state).close()
    rng = random.Random(7)
    now = int(time.time())
    db = sqlite3.connect(state / "syncd.sqlite3")
    db.execute("PRAGMA synchronous = OFF")
    with db:
        db.executemany("INSERT INTO people(id, name, tracked, tier) VALUES (?, ?, ?, ?)",
                       ((i, f"Person {i}", int(i <= tracked), "close" if i % 3 else "friends")
                        for i in range(1, people + 1)))
        db.executemany("INSERT INTO addresses(address, person_id) VALUES (?, ?)",
                       ((f"person{i}@example.com", i) for i in range(1, people + 1)))
        db.executemany("INSERT INTO interactions(id, key, at, direction, counts, rule, reason) "
                       "VALUES (?, ?, ?, 'outgoing', 1, 'outgoing', 'I wrote')",
                       ((i, f"k{i}", now - rng.randrange(0, 400 * 86400))
                        for i in range(1, contacts + 1)))
        db.execute("INSERT INTO contacts(interaction_id, address, person_id, at, direction, "
                   "counts, address_counts) SELECT id, 'person' || ((id % ?1) + 1) || "
                   "'@example.com', (id % ?1) + 1, at, direction, 1, 1 FROM interactions",
                   (people,))
        db.execute("INSERT INTO person_stats(person_id, last_outgoing, last_contact, "
                   "first_contact, interactions) SELECT person_id, max(at), max(at), min(at), "
                   "count(*) FROM contacts GROUP BY person_id")
    db.close()


def best_of(runs: int, function) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--contacts", type=int, default=2_000_000)
    parser.add_argument("--tracked", type=int, default=1_000,
                        help="how many of the people are tracked (default 1,000)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        started = time.perf_counter()
        build(state, arguments.people, arguments.contacts, arguments.tracked)
        print(f"built {arguments.people:,} people ({arguments.tracked:,} tracked) / "
              f"{arguments.contacts:,} contacts "
              f"in {time.perf_counter() - started:.1f} s")
        config_file = Path(tmp) / "config.toml"
        config_file.write_text(f'[general]\nstate_dir = "{state}"\n'
                               '[tiers]\nclose = "14d"\nfriends = "45d"\n')
        config = parse_config({"general": {"state_dir": str(state)},
                               "tiers": {"close": "14d", "friends": "45d"}})
        app = App(config, Store.open(state))

        def scan() -> None:
            app.store._db.execute("SELECT count(*), max(at) FROM contacts").fetchone()

        def due() -> None:
            json.dumps([tie_json(tie) for tie in app.due()])

        baseline = best_of(3, scan)
        in_process = best_of(5, due)
        env = {**os.environ, "SYNCD_CONFIG": str(config_file)}
        command = [sys.executable, "-m", "syncd", "due", "--json"]
        whole = best_of(5, lambda: subprocess.run(command, env=env, check=True,
                                                  stdout=subprocess.DEVNULL))
        listed = len(app.due())
        print(f"baseline: full scan of contacts      {baseline * 1000:8.1f} ms")
        print(f"due in-process ({listed:,} due)        {in_process * 1000:8.1f} ms  "
              f"ratio to baseline {in_process / baseline:.2f}")
        print(f"`syncd due --json` whole process     {whole * 1000:8.1f} ms  "
              f"ratio to baseline {whole / baseline:.2f}  (target <= 200 ms)")


if __name__ == "__main__":
    main()
