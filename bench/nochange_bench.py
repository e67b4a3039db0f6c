"""No-change IMAP benchmark: ``syncd sync`` when nothing changed, on both mailbox shapes.

The daemon's common case (issue 14: <= 0.25 s a whole process run). For each shape of
:mod:`imap_bench` ("folders": 50 folders; "big-inbox": INBOX 85% and Sent 15%) it loads a
loopback Dovecot Maildir, runs one first sync (not timed), then ``--rounds`` rounds of:

- the baseline, in this process: python start-up alone (``python -c pass``) plus the
  protocol floor of the probe in this already-warm interpreter (log in, EXAMINE INBOX, one
  LIST-STATUS, log out, with imapclient; imports not counted);
- a no-change ``syncd sync`` (the whole process, as a user or the daemon runs it).

It prints best and median of both and their ratio; ``--phases`` adds the log lines of one
no-change run stamped in milliseconds (where the time goes: imports, config, password, login,
folder listing, probes, store work, output).

``--before DIR`` also times another source tree of syncd (e.g. ``git archive main | tar -x -C
DIR``) in the same rounds, interleaved, on the same server (with its own state, first synced by
that tree): on a shared machine a before/after pair measured minutes apart says little.

Run: ``python bench/nochange_bench.py [--messages N] [--rounds R] [--shape folders|big-inbox]
[--before DIR] [--phases]`` (default 100,000 messages, both shapes, 7 rounds; ~2 min a shape,
most of it loading the mailbox and the first sync).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from imap_bench import (  # noqa: E402
    SHAPES,
    compile_tree,
    installed_environment,
    own_home,
    populate,
    run_sync,
)
from servers.dovecot import PASSWORD, running_dovecot  # noqa: E402


def startup() -> float:
    """Seconds of a bare ``python -c pass``: what any Python command pays."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True, env=installed_environment())
    return time.perf_counter() - started


def protocol_floor(server, user: str) -> float:
    """Seconds of the no-change probe's round trips alone, in this process, done the cheapest
    way this server allows: log in, EXAMINE INBOX first, one LIST-STATUS (RFC 5819) for every
    folder, log out (what any client pays; imports not counted)."""
    import imapclient

    started = time.perf_counter()
    client = imapclient.IMAPClient("127.0.0.1", server.port, ssl=False, timeout=30)
    client._imap.debug = 0
    client.login(user, PASSWORD)
    client.select_folder("INBOX", readonly=True)
    kind, _ = client._imap._simple_command(
        "LIST", '""', '"*"', "RETURN", "(SPECIAL-USE STATUS (UIDVALIDITY UIDNEXT MESSAGES))")
    assert kind == "OK"
    client.logout()
    return time.perf_counter() - started


#: Runs ``syncd sync`` in a fresh interpreter with every log line stamped in ms since start.
_STAMPED = """
import logging, sys, time
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                    format="%(relativeCreated)7.1f ms %(name)s: %(message)s")
for noisy in ("imapclient", "imaplib"):
    logging.getLogger(noisy).setLevel(logging.WARNING)
from syncd.cli import main
logging.getLogger("phase").info("syncd.cli imported")
try:
    main(sys.argv[1:])
except SystemExit:
    pass
logging.getLogger("phase").info("done")
"""


def phases(config: Path) -> None:
    """Print where one no-change run spends its time: its log lines, stamped (one run)."""
    environment = installed_environment()
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", _STAMPED, "-c", str(config), "sync"],
                            capture_output=True, text=True, env=environment, check=True)
    total = time.perf_counter() - started
    print(f"  phases of one run ({total:.3f} s; ms since the logging module was imported):")
    for line in result.stderr.splitlines():
        print(f"    {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--shape", choices=SHAPES, action="append",
                        help="a mailbox shape (repeatable; default both)")
    parser.add_argument("--phases", action="store_true",
                        help="also print where one run spends its time")
    parser.add_argument("--before", type=Path,
                        help="another syncd source tree to time in the same rounds")
    arguments = parser.parse_args()
    trees = [ROOT] + ([arguments.before.resolve()] if arguments.before else [])
    for tree in trees:
        compile_tree(tree)
    for shape in arguments.shape or SHAPES:
        with running_dovecot(tls=False) as server:
            user = "bench"
            server.client(user).logout()
            layout = populate(server, user, arguments.messages, shape)
            work = Path(server.root) / "bench-state"
            work.mkdir()
            os.environ.update(own_home(work))
            config = server.config_file(work / "config.toml", user, work / "state")
            first = run_sync(config)[0]
            run_sync(config)  # settles what the first no-change run alone does (caches)
            if arguments.before:
                # Its own state: an older tree may not open a database of a newer schema.
                before_config = server.config_file(work / "before.toml", user,
                                                   work / "before-state")
                run_sync(before_config, arguments.before.resolve())
                run_sync(before_config, arguments.before.resolve())
            baselines: list[float] = []
            runs: list[float] = []
            others: list[float] = []
            for _ in range(arguments.rounds):
                baselines.append(startup() + protocol_floor(server, user))
                elapsed, _rss, output, _cpu = run_sync(config)
                runs.append(elapsed)
                if arguments.before:
                    others.append(run_sync(before_config, arguments.before.resolve())[0])
            best, median = min(runs), statistics.median(runs)
            floor_best, floor_median = min(baselines), statistics.median(baselines)
            print(f"shape {shape}: {sum(layout.values())} messages in {len(layout)} folders "
                  f"(first sync {first:.1f} s, not timed) [{output}]")
            print(f"  no-change syncd sync: best {best:.3f} s, median {median:.3f} s, worst "
                  f"{max(runs):.3f} s (target <= 0.25 s)")
            print(f"  baseline (python start-up + in-process login/EXAMINE/LIST-STATUS): best "
                  f"{floor_best:.3f} s, median {floor_median:.3f} s")
            print(f"  ratio: best {best / floor_best:.2f}x, median {median / floor_median:.2f}x")
            if others:
                print(f"  the same rounds from {arguments.before}: best {min(others):.3f} s, "
                      f"median {statistics.median(others):.3f} s, worst {max(others):.3f} s")
            if arguments.phases:
                phases(config)


if __name__ == "__main__":
    main()
