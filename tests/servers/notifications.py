"""A real desktop notification server: Xvfb + a private session bus + dunst (RECIPES.md).

``desktop_session`` starts, once per test session, an Xvfb display (dunst needs one), a private
``dbus-daemon --session`` (never the user's bus) and ``dunst`` with a test config that:

- runs a script for every notification that arrives, appending summary and body to a file,
  so a test reads exactly what reached the server (:meth:`DesktopSession.arrived`);
- uses a "dmenu" script for its context menu that picks the action the test asked for, so
  ``dunstctl context`` makes dunst emit a real ``ActionInvoked`` signal on the bus, exactly as
  a click on a button does (:meth:`DesktopSession.invoke`).

The ``desktop`` fixture (per test) clears dunst and the record, and points
``DBUS_SESSION_BUS_ADDRESS`` and ``DISPLAY`` at the private session.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from servers.short_paths import short_directory

_RECORD = """#!/bin/sh
# dunst runs this for every notification (dunst(5), "script"); DUNST_* hold its fields.
printf '%s\\t%s\\n' "$DUNST_SUMMARY" "$(printf %s "$DUNST_BODY" | tr '\\n' ' ')" >> "{arrived}"
"""

_PICK = """#!/bin/sh
# dunst pipes its context-menu entries here (the dmenu setting) and invokes the line we print.
cat > "{menu}"
grep -i -- "$(cat "{want}")" "{menu}" | head -n 1
rm -f "{want}"
"""


@dataclass
class DesktopSession:
    """A running private desktop session; ``env`` reaches its bus and display."""

    directory: Path
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    baseline: int = 0

    @property
    def arrived_file(self) -> Path:
        return self.directory / "arrived.txt"

    def dunstctl(self, *arguments: str) -> str:
        result = subprocess.run(["dunstctl", *arguments], env=self.env, capture_output=True,
                                text=True, timeout=10, check=True)
        return result.stdout

    def count(self) -> int:
        """Return how many notifications dunst received since the last :meth:`reset`.

        dunst counts waiting, displayed and history (closed) ones; dunst 1.9 cannot clear its
        history, so the total at the last reset is subtracted.
        """
        return self._total() - self.baseline

    def _total(self) -> int:
        total = 0
        for line in self.dunstctl("count").splitlines():
            _, _, number = line.partition(":")
            total += int(number.strip() or 0)
        return total

    def arrived(self) -> list[tuple[str, str]]:
        """Return (summary, body) of every notification that reached dunst, in order."""
        with contextlib.suppress(FileNotFoundError):
            lines = self.arrived_file.read_text(encoding="utf-8").splitlines()
            return [tuple(line.split("\t", 1)) for line in lines]  # type: ignore[misc]
        return []

    def wait_arrived(self, count: int, timeout: float = 10.0) -> list[tuple[str, str]]:
        """Wait until at least ``count`` notifications arrived; return them all."""
        deadline = time.monotonic() + timeout
        while len(self.arrived()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.arrived()

    def invoke(self, action_title: str, timeout: float = 10.0) -> None:
        """Click the button titled ``action_title`` on the newest notification.

        dunst shows its context menu through our pick script, which chooses that action;
        dunst then emits ``org.freedesktop.Notifications.ActionInvoked`` on the bus.
        """
        want = self.directory / "want"
        want.write_text(action_title, encoding="utf-8")
        self.dunstctl("context")
        deadline = time.monotonic() + timeout
        while want.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if want.exists():
            raise AssertionError("dunst did not open its context menu")

    def reset(self) -> None:
        """Close every notification and start counting and recording afresh."""
        self.dunstctl("close-all")
        self.baseline = self._total()
        self.arrived_file.unlink(missing_ok=True)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _missing_tools() -> list[str]:
    return [tool for tool in ("Xvfb", "dbus-daemon", "dunst", "dunstctl")
            if shutil.which(tool) is None]


def start_desktop_session(directory: Path) -> DesktopSession:
    """Start Xvfb, a private session bus and dunst under ``directory``."""
    session = DesktopSession(directory, {})
    try:
        read_end, write_end = os.pipe()
        # -displayfd: Xvfb picks a free display and writes its number to the pipe.
        xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0",
                                 "1024x768x24", "-nolisten", "tcp"], pass_fds=(write_end,),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        session.processes.append(xvfb)
        os.close(write_end)
        with os.fdopen(read_end) as pipe:
            display = pipe.readline().strip()
        if not display:
            raise RuntimeError("Xvfb did not start")
        bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--nopidfile",
                                "--print-address=1"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
        session.processes.append(bus)
        assert bus.stdout is not None
        address = bus.stdout.readline().decode().strip()
        if not address:
            raise RuntimeError("dbus-daemon did not print its address")
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("DBUS_", "DISPLAY", "WAYLAND"))}
        env.update(DISPLAY=f":{display}", DBUS_SESSION_BUS_ADDRESS=address)
        session.env = env
        record, pick = directory / "record.sh", directory / "pick.sh"
        record.write_text(_RECORD.format(arrived=session.arrived_file), encoding="utf-8")
        pick.write_text(_PICK.format(menu=directory / "menu.txt", want=directory / "want"),
                        encoding="utf-8")
        record.chmod(0o755)
        pick.chmod(0o755)
        config = directory / "dunstrc"
        config.write_text(f"[global]\n    dmenu = {pick}\n    timeout = 0\n"
                          f"[record]\n    script = {record}\n", encoding="utf-8")
        dunst = subprocess.Popen(["dunst", "-config", str(config)], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        session.processes.append(dunst)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(subprocess.CalledProcessError):
                session.baseline = session._total()
                return session
            time.sleep(0.1)
        raise RuntimeError("dunst did not come up on the private bus")
    except BaseException:
        session.stop()
        raise


@pytest.fixture(scope="session")
def desktop_session() -> Iterator[DesktopSession]:
    """One private desktop session (display, bus, dunst) for the whole test run."""
    missing = _missing_tools()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"missing {', '.join(missing)}: scripts/test installs them")
        pytest.skip(f"missing {', '.join(missing)} (Debian: dbus dunst xvfb)")
    directory = short_directory("syncd-desktop-")
    session = start_desktop_session(directory)
    try:
        yield session
    finally:
        session.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def desktop(desktop_session: DesktopSession, monkeypatch: pytest.MonkeyPatch) -> DesktopSession:
    """The private desktop session, emptied, with this process's environment pointing at it."""
    desktop_session.reset()
    for key in ("DISPLAY", "DBUS_SESSION_BUS_ADDRESS"):
        monkeypatch.setenv(key, desktop_session.env[key])
    return desktop_session
