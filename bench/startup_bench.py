"""Benchmark: what every `syncd` command pays before its work (process start-up and imports).

Runs whole processes, as a user runs them, on a fresh small state (a config with two tiers, a
database with nobody in it), with syncd's bytecode compiled as ``pip install`` leaves it. It
prints each one's median wall time and CPU time (user + system) over --runs rounds and the
ratio to the baseline measured in the same run, round by round so that a loaded machine slows
every command alike:
- baseline `python -c pass` (the interpreter with site, as every console script pays it);
- for scale, `python -S -c pass` (no site) and `python -c "import sqlite3"`;
- `syncd --help`, `syncd due`, `syncd suggest`, `syncd status`.

It also counts the modules each command imports (``-X importtime``): a count that grows is the
first sign of an import that a command does not need.

Run: python bench/startup_bench.py [--runs N]
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import connectors
import syncd

BASELINES: dict[str, list[str]] = {
    "python -c pass": ["-c", "pass"],
    "python -S -c pass": ["-S", "-c", "pass"],
    'python -c "import sqlite3"': ["-c", "import sqlite3"],
}
COMMANDS: dict[str, list[str]] = {
    "syncd --help": ["--help"],
    "syncd due": ["due"],
    "syncd suggest": ["suggest"],
    "syncd status": ["status"],
}


def run_once(arguments: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Return the wall and CPU time of one ``python ARGUMENTS`` process, which must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, *arguments], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def modules_imported(arguments: list[str], env: dict[str, str]) -> int:
    """Return how many modules ``python -X importtime ARGUMENTS`` imported."""
    result = subprocess.run([sys.executable, "-X", "importtime", *arguments], env=env,
                            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    return sum(1 for line in result.stderr.splitlines()
               if line.startswith("import time:") and "[us]" not in line)


def compile_bytecode() -> None:
    """Write the .pyc files of syncd and its connectors, as ``pip install`` does.

    Without them (an editable install under PYTHONDONTWRITEBYTECODE=1, as in some CI and
    sandboxes) every process compiles every module from source again, which costs more than
    all the imports together and is no part of what a user pays.
    """
    for package in (syncd, connectors):
        compileall.compile_dir(package.__path__[0], quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    arguments = parser.parse_args()
    compile_bytecode()
    with tempfile.TemporaryDirectory() as tmp:
        config_file = Path(tmp) / "config.toml"
        config_file.write_text(f'[general]\nstate_dir = "{Path(tmp) / "state"}"\n'
                               '[tiers]\nclose = "14d"\nfriends = "45d"\n')
        env = {**os.environ, "SYNCD_CONFIG": str(config_file)}
        runs = {name: ["-m", "syncd", *command] for name, command in COMMANDS.items()}
        every = {**BASELINES, **runs}
        for command in every.values():     # the first run creates the state and warms caches
            run_once(command, env)
        walls: dict[str, list[float]] = {name: [] for name in every}
        cpus: dict[str, list[float]] = {name: [] for name in every}
        for _ in range(arguments.runs):
            for name, command in every.items():
                wall, cpu = run_once(command, env)
                walls[name].append(wall)
                cpus[name].append(cpu)
        wall_of = {name: statistics.median(values) for name, values in walls.items()}
        cpu_of = {name: statistics.median(values) for name, values in cpus.items()}
        wall_base, cpu_base = wall_of["python -c pass"], cpu_of["python -c pass"]
        print(f"{arguments.runs} rounds; medians; ratios to `python -c pass` in the same run")
        print(f"{'':28} {'wall ms':>8} {'(range)':>11} {'ratio':>6} {'CPU ms':>7} {'ratio':>6}"
              f" {'modules':>7}")
        for name, command in every.items():
            spread = f"{min(walls[name]) * 1000:.0f}-{max(walls[name]) * 1000:.0f}"
            print(f"{name:28} {wall_of[name] * 1000:8.1f} {spread:>11} "
                  f"{wall_of[name] / wall_base:5.2f}x {cpu_of[name] * 1000:7.1f} "
                  f"{cpu_of[name] / cpu_base:5.2f}x {modules_imported(command, env):7d}")


if __name__ == "__main__":
    main()
