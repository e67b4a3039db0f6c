"""The daemon's state-directory lock: one ``syncd run`` per state directory.

:class:`StateLock` is what the daemon holds while it runs; :func:`daemon_pid` is how other
commands (``syncd status``) learn whether one runs, without taking the lock from it. Both use
``flock(2)`` on ``STATE_DIR/daemon.lock``, which holds the owner's pid as text.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from syncd.errors import AlreadyRunning

LOCK_NAME = "daemon.lock"


class StateLock:
    """An exclusive ``flock(2)`` on ``STATE_DIR/daemon.lock``: one daemon per state directory.

    The kernel drops the lock when the process dies, so a crash never leaves a stale lock.
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`AlreadyRunning` naming the holder's pid."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise AlreadyRunning(
                f"another syncd run (pid {holder}) already uses {self.path.parent}; stop it "
                "first (systemctl --user stop syncd), or use syncd sync for a one-off pass"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Drop the lock."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def daemon_pid(state_dir: Path) -> int | None:
    """Return the pid of the daemon holding ``state_dir``'s lock, or None when none does."""
    path = state_dir / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            # A shared lock fails only while the daemon holds its exclusive one.
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 32).decode(errors="replace").strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
