"""Benchmark: storing an address book whose cards make people of addresses mail already knows.

Builds a database with plain SQL: PEOPLE people seen in mail, two addresses each (home and
work) held as two people, with a few counted contacts per address. Then, on a fresh copy of
that file each time, in this process:

- baseline: what storing the cards cost before splits were kept (``merge_addresses`` of each
  card's addresses, then its row in ``cards``), all in one transaction;
- ``Store.apply_cards`` of the same cards (each card merges its two people: their tracking is
  settled like ``syncd merge`` does), with no address kept apart;
- the same with a tenth of the cards' address pairs kept apart by ``syncd split`` (those cards
  then stay with their first address);
- a second ``apply_cards`` of the same cards (a full re-sync that changes nothing), with the
  pairs kept apart.

Run: python bench/cards_bench.py [--cards N] [--contacts N] [--runs N]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from syncd.engine import refresh_rhythms
from syncd.model import Address, Card
from syncd.store import Store


def home(index: int) -> str:
    return f"p{index}@example.com"


def work(index: int) -> str:
    return f"person.{index}@work.example"


def build(state: Path, people: int, contacts: int) -> None:
    Store.open(state).close()
    rng = random.Random(7)
    now = int(time.time())
    db = sqlite3.connect(state / "syncd.sqlite3")
    db.execute("PRAGMA synchronous = OFF")
    addresses = [address for index in range(people) for address in (home(index), work(index))]
    with db:
        db.executemany("INSERT INTO people(id, name) VALUES (?, ?)",
                       ((number, f"Person {number}") for number in range(1, len(addresses) + 1)))
        db.executemany("INSERT INTO addresses(address, person_id, written) VALUES (?, ?, ?)",
                       ((address, number, address)
                        for number, address in enumerate(addresses, start=1)))
        rows = [(interaction, address, number, now - rng.randrange(0, 3 * 365 * 86400))
                for number, address in enumerate(addresses, start=1)
                for interaction in range((number - 1) * contacts + 1, number * contacts + 1)]
        db.executemany("INSERT INTO interactions(id, key, at, direction, counts, rule, reason) "
                       "VALUES (?, ?, ?, 'incoming', 1, 'incoming', 'a reason')",
                       ((interaction, f"k{interaction}", at) for interaction, _, _, at in rows))
        db.executemany("INSERT INTO contacts(interaction_id, address, person_id, at, direction, "
                       "counts, participants, address_counts) VALUES (?, ?, ?, ?, 'incoming', "
                       "1, 1, 1)", rows)
    db.close()
    store = Store.open(state)
    with store.transaction():
        store.rebuild_stats(range(1, len(addresses) + 1))
    refresh_rhythms(store)
    store.close()


def cards(count: int) -> list[tuple[Card, str | None]]:
    return [(Card(source_id=f"card-{index}", uid=f"card-{index}", name=f"Card Person {index}",
                  addresses=(Address(home(index)), Address(work(index)))), None)
            for index in range(count)]


def old_identity_path(store: Store, book: list[tuple[Card, str | None]]) -> None:
    """The card path's identity work before kept-apart addresses: one merge_addresses a card."""
    with store.transaction():
        for card, tier in book:
            person_id = store.merge_addresses(card.name, [a.email for a in card.addresses])
            store._db.execute("INSERT OR REPLACE INTO cards VALUES (?, ?, ?, ?, ?, ?, 0, NULL, "
                              "NULL, NULL)", ("book", card.source_id, person_id, card.uid,
                                              card.name, tier))


def timed(built: Path, copy: Path, work_on: Callable[[Store], None]) -> float:
    shutil.copytree(built, copy)
    store = Store.open(copy)
    started = time.perf_counter()
    work_on(store)
    elapsed = time.perf_counter() - started
    store.close()
    shutil.rmtree(copy)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=5_000)
    parser.add_argument("--contacts", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    book = cards(arguments.cards)
    kept = arguments.cards // 10

    def keep_apart(store: Store) -> None:
        with store.transaction():
            for index in range(kept):
                store._keep_apart(home(index), [work(index)])

    def apply(store: Store) -> None:
        with store.transaction():
            store.apply_cards("book", book)

    def apply_kept_apart(store: Store) -> None:
        apply(store)
        people = store._db.execute("SELECT count(*) FROM people").fetchone()[0]
        assert people == arguments.cards + kept, people

    with tempfile.TemporaryDirectory() as tmp:
        built, split = Path(tmp) / "built", Path(tmp) / "split"
        started = time.perf_counter()
        build(built, arguments.cards, arguments.contacts)
        shutil.copytree(built, split)
        store = Store.open(split)
        keep_apart(store)
        store.close()
        resynced = Path(tmp) / "resynced"
        shutil.copytree(split, resynced)
        store = Store.open(resynced)
        apply(store)
        store.close()
        print(f"built {arguments.cards:,} people x 2 addresses x {arguments.contacts} contacts "
              f"in {time.perf_counter() - started:.1f} s")
        results: dict[str, list[float]] = {"baseline": [], "apply": [], "kept": [],
                                           "again": []}
        for run in range(arguments.runs):
            copy = Path(tmp) / f"run{run}"
            results["baseline"].append(timed(built, copy, lambda s: old_identity_path(s, book)))
            results["apply"].append(timed(built, copy, apply))
            results["kept"].append(timed(split, copy, apply_kept_apart))
            results["again"].append(timed(resynced, copy, apply))
        baseline = min(results["baseline"])
        print(f"baseline: merge_addresses per card (the old card path)   "
              f"{baseline * 1000:8.1f} ms")
        for key, label in (("apply", "apply_cards, nothing kept apart"),
                           ("kept", f"apply_cards, {kept:,} pairs kept apart"),
                           ("again", "apply_cards again, same cards (kept apart)")):
            best = min(results[key])
            print(f"{label:<55}{best * 1000:8.1f} ms  ratio to baseline {best / baseline:.2f}")
        print(f"best of {arguments.runs} runs; {arguments.cards:,} cards of 2 addresses")


if __name__ == "__main__":
    main()
