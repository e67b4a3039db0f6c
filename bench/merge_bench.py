"""Benchmark: `syncd merge` of two people with 10,000 contacts each (target <= 200 ms).

Builds a database with plain SQL: a crowd of other people (so indexes are of a real size) and
two people of 10,000 counted contacts each over five years, a tenth of them on mails to both
(the case the contacts' address key exists for). Then, in the same process, on the same data:

- baseline: rebuilding those two people's stats from their contacts (``rebuild_stats`` and
  the history/strength/rhythm refresh), the least any merge must do;
- ``App.merge`` (journal line fsynced, contacts moved, counting rows re-chosen, stats,
  history, strength and rhythm recomputed), then ``App.split`` back; each run on a fresh copy
  of the database file.

Run: python bench/merge_bench.py [--contacts N] [--crowd N] [--runs N]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from syncd.app import App
from syncd.config import load_config
from syncd.engine import refresh_rhythms
from syncd.store import Store

DIRECTIONS = ("outgoing", "incoming", "incoming", "meeting")


def build(state: Path, contacts: int, crowd: int) -> None:
    Store.open(state).close()
    rng = random.Random(11)
    now = int(time.time())
    db = sqlite3.connect(state / "syncd.sqlite3")
    db.execute("PRAGMA synchronous = OFF")
    # person 1 = a@one.example, person 2 = a@two.example, the crowd 3.. with 20 contacts each
    people = crowd + 2
    addresses = ["a@one.example", "a@two.example",
                 *(f"p{i}@crowd.example" for i in range(3, people + 1))]
    rows: list[tuple[int, str, int, int, str, int]] = []
    interaction = 0
    for person in (1, 2):
        for index in range(contacts):
            # Person 2's first tenth is on person 1's first mails (mail to both: 2 people).
            shared = person == 2 and index < contacts // 10
            if not shared:
                interaction += 1
            rows.append((index + 1 if shared else interaction, addresses[person - 1], person,
                         now - rng.randrange(0, 5 * 365 * 86400), DIRECTIONS[index % 4],
                         2 if shared else 1))
    for person in range(3, people + 1):
        for _ in range(20):
            interaction += 1
            rows.append((interaction, addresses[person - 1], person,
                         now - rng.randrange(0, 5 * 365 * 86400), "incoming", 1))
    with db:
        db.executemany("INSERT INTO people(id, name) VALUES (?, ?)",
                       ((i, f"Person {i}") for i in range(1, people + 1)))
        db.executemany("INSERT INTO addresses(address, person_id, written) VALUES (?, ?, ?)",
                       ((address, i + 1, address) for i, address in enumerate(addresses)))
        times: dict[int, int] = {}
        for row in rows:
            times.setdefault(row[0], row[3])
        db.executemany("INSERT INTO interactions(id, key, at, direction, counts, rule, reason) "
                       "VALUES (?, ?, ?, 'incoming', 1, 'incoming', 'a reason')",
                       ((i, f"k{i}", at) for i, at in times.items()))
        db.executemany("INSERT INTO contacts(interaction_id, address, person_id, at, direction, "
                       "counts, participants, address_counts) VALUES (?, ?, ?, ?, ?, 1, ?, 1)",
                       ((i, address, person, times[i], direction, participants)
                        for i, address, person, _, direction, participants in rows))
    db.close()
    store = Store.open(state)
    with store.transaction():
        store.rebuild_stats(range(1, people + 1))
    refresh_rhythms(store)
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--crowd", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        built = Path(tmp) / "built"
        started = time.perf_counter()
        build(built, arguments.contacts, arguments.crowd)
        print(f"built 2 people x {arguments.contacts:,} contacts (a tenth on mails to both) "
              f"and {arguments.crowd:,} others x 20 in {time.perf_counter() - started:.1f} s")
        baselines, merges, splits = [], [], []
        for run in range(arguments.runs):
            state = Path(tmp) / f"run{run}"
            shutil.copytree(built, state)
            config_file = Path(tmp) / f"config{run}.toml"
            config_file.write_text(f'[general]\nstate_dir = "{state}"\n')
            app = App.open(load_config(config_file), lambda: datetime.now(UTC))
            started = time.perf_counter()
            with app.store.transaction():
                app.store.rebuild_stats([1, 2])
            refresh_rhythms(app.store)
            baselines.append(time.perf_counter() - started)
            one, two = app.find_person("#1"), app.find_person("#2")
            before = (one.interactions, two.interactions)
            started = time.perf_counter()
            merged = app.merge([one, two])
            merges.append(time.perf_counter() - started)
            expected = before[0] + before[1] - arguments.contacts // 10
            assert merged.interactions == expected, (merged.interactions, expected)
            started = time.perf_counter()
            app.split(merged, "a@two.example")
            splits.append(time.perf_counter() - started)
            assert (app.find_person("#1").interactions,
                    app.find_person("a@two.example").interactions) == before
            app.close()
        baseline, merge, split = min(baselines), min(merges), min(splits)
        print(f"baseline: rebuild both people's stats from contacts  {baseline * 1000:7.1f} ms")
        print(f"App.merge (journal, move, recount, refresh)          {merge * 1000:7.1f} ms  "
              f"ratio to baseline {merge / baseline:.2f}  (target <= 200 ms)")
        print(f"App.split back (journal, move, recount, refresh)     {split * 1000:7.1f} ms  "
              f"ratio to baseline {split / baseline:.2f}")
        print(f"best of {arguments.runs} runs; merged person {expected:,} interactions")


if __name__ == "__main__":
    main()
