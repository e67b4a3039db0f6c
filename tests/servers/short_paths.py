"""Short directories for sockets and server roots, whatever ``$TMPDIR`` is.

A unix socket's path must fit in ``sun_path``: 108 bytes on Linux, 104 on macOS, with the
terminating NUL (unix(7)). Under macOS's ``/var/folders/...`` or systemd's PrivateTmp a
``$TMPDIR`` is already ~50 characters, and pytest's ``tmp_path`` adds ~60 more, so a socket
there fails with "AF_UNIX path too long" and Dovecot, whose own sockets live under its
``base_dir``, answers APPEND with ``[SERVERBUG]``. Sockets and server roots therefore go in a
directory made for them directly in ``/tmp``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Where short directories are made: /tmp when it is usable, else the temporary directory.
SHORT_ROOT = "/tmp" if os.path.isdir("/tmp") and os.access("/tmp", os.W_OK) else None


def short_directory(prefix: str) -> Path:
    """Make and return a new private directory with a short path (the caller removes it)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=SHORT_ROOT))


@contextmanager
def short_tmp(prefix: str = "syncd-") -> Iterator[Path]:
    """A short private directory for the block; removed afterwards."""
    path = short_directory(prefix)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
