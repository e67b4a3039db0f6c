"""Benchmark: what the choices journal costs a command, and what replaying it into a new
database costs.

Times, in the same process and the same state directory:
- baseline: ``App.open`` with no journal at all;
- ``App.open`` with a journal of N choices already applied (what every command pays: a stat);
- ``App.open`` of a new database that replays all N choices (once, after a rebuild).

Run: python bench/choices_bench.py [--choices N] [--rounds R]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from syncd.app import App
from syncd.choices import Choice, ChoiceJournal
from syncd.config import Config, parse_config

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def config_for(state: Path) -> Config:
    return parse_config({"general": {"state_dir": str(state), "timezone": "UTC"},
                         "me": {"addresses": ["me@example.org"]}}, environ={"HOME": "/h"})


def journal_of(count: int) -> list[Choice]:
    """A plausible mix: tracks, snoozes and logged contacts over count / 3 people."""
    choices = []
    for index in range(count):
        person = index // 3
        common = {"name": f"Person {person}", "addresses": (f"p{person}@example.com",)}
        kind = index % 3
        if kind == 0:
            choices.append(Choice(kind="track", every_days=30.0, **common))
        elif kind == 1:
            until = NOW + timedelta(days=7)
            choices.append(Choice(kind="snooze", until=f"{until:%Y-%m-%dT%H:%M:%S}Z", **common))
        else:
            choices.append(Choice(kind="done", at=f"{NOW:%Y-%m-%dT%H:%M:%S}Z", note="call",
                                  key=f"bench-{index}", **common))
    return choices


def timed(action: object, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        action()  # type: ignore[operator]
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--choices", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="syncd-choices-bench-"))
    try:
        plain, journaled = root / "plain", root / "journaled"
        App.open(config_for(plain)).close()
        ChoiceJournal(journaled).append(*journal_of(arguments.choices))

        def replay() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{journaled / 'syncd.sqlite3'}{suffix}").unlink(missing_ok=True)
            App.open(config_for(journaled)).close()

        baseline = timed(lambda: App.open(config_for(plain)).close(), arguments.rounds)
        replaying = timed(replay, max(1, arguments.rounds // 2))
        applied = timed(lambda: App.open(config_for(journaled)).close(), arguments.rounds)
        print(f"App.open, no journal (baseline):          {baseline * 1000:8.1f} ms")
        print(f"App.open, {arguments.choices} choices applied:       {applied * 1000:8.1f} ms"
              f"  ratio {applied / baseline:.2f}")
        print(f"App.open of a new database replaying them: {replaying * 1000:8.1f} ms"
              f"  ratio {replaying / baseline:.2f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
