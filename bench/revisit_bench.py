"""What keeping messages for Engine.revisit costs a first sync, and what a revisit costs.

One run, same machine, same records (a FakeConnector, so only the engine and the store are
timed): a first sync into a SQLite file with the revisitable messages kept (as syncd does) and
one with keeping switched off (the baseline); the database sizes; then the revisit that learning
one alias causes, with that alias on 1% of the mail.

Run: ``python bench/revisit_bench.py [--messages N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from syncd.engine import Engine  # noqa: E402
from syncd.model import Message, Role  # noqa: E402
from syncd.rules import Rules  # noqa: E402
from syncd.store import Store  # noqa: E402
from syncd.testing import FakeConnector, message  # noqa: E402

ALIAS = "alias@me.example"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def records(count: int) -> list[Message]:
    rng = random.Random(7)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    result = []
    for number in range(count):
        friend = f"friend{rng.randrange(3000)}@example{rng.randrange(40)}.org"
        when = start + timedelta(minutes=number * 17)
        me = ALIAS if rng.random() < 0.01 else "me@example.com"
        headers = {"list-id": "<news.example.org>"} if rng.random() < 0.2 else {}
        if rng.random() < 0.3:
            result.append(message(f"Sent/{number}", "me@example.com", [friend], date=when,
                                  role=Role.SENT, message_id=f"{number}@bench"))
        else:
            cc = [f"other{rng.randrange(500)}@example.net"] if rng.random() < 0.3 else []
            result.append(message(f"INBOX/{number}", friend, [me], cc=cc, date=when,
                                  headers=headers, message_id=f"{number}@bench"))
    return result


def first_sync(path: Path, mail: list[Message], keep: bool) -> tuple[float, int, Store]:
    store = Store.open(path)
    store.set_configured_addresses(["me@example.com"])
    if not keep:
        apply = store.apply  # the same writes, without the kept messages
        store.apply = (  # type: ignore[method-assign]
            lambda *arguments, revisitable=None, **keywords: apply(*arguments, **keywords))
    engine = Engine(store, Rules(), lambda: NOW)
    started = time.perf_counter()
    engine.sync("mail", FakeConnector(mail, page_size=500))
    elapsed = time.perf_counter() - started
    size = sum(part.stat().st_size for part in path.glob("syncd.sqlite3*"))
    return elapsed, size, store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2)
    arguments = parser.parse_args()
    mail = records(arguments.messages)
    print(f"{arguments.messages} messages, {arguments.rounds} rounds (best of each)")
    best: dict[bool, float] = {}
    sizes: dict[bool, int] = {}
    revisit = 0.0
    changed = 0
    for _ in range(arguments.rounds):
        for keep in (False, True):
            with tempfile.TemporaryDirectory(dir="/var/tmp") as directory:
                elapsed, size, store = first_sync(Path(directory), mail, keep)
                best[keep] = min(best.get(keep, elapsed), elapsed)
                sizes[keep] = size
                if keep:
                    store.set_configured_addresses(["me@example.com", ALIAS])
                    started = time.perf_counter()
                    changed = Engine(store, Rules(), lambda: NOW).revisit([ALIAS])
                    took = time.perf_counter() - started
                    revisit = took if not revisit else min(revisit, took)
                store.close()
    print(f"first sync without keeping (baseline): {best[False]:.2f} s, "
          f"database {sizes[False] / 1e6:.1f} MB")
    print(f"first sync keeping revisitable mail:   {best[True]:.2f} s, "
          f"database {sizes[True] / 1e6:.1f} MB")
    print(f"ratio to baseline: time {best[True] / best[False]:.2f}x, "
          f"size {sizes[True] / sizes[False]:.2f}x")
    print(f"revisit after learning an alias on ~1% of the mail: {revisit * 1000:.0f} ms, "
          f"{changed} interactions changed")


if __name__ == "__main__":
    main()
