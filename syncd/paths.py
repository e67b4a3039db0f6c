"""Where syncd keeps its files (XDG Base Directory Specification)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def _xdg(variable: str, fallback: str, environ: Mapping[str, str]) -> Path:
    # The spec says a relative value must be ignored, as if unset.
    value = environ.get(variable, "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path(environ.get("HOME", str(Path.home()))) / fallback


def default_config_path(environ: Mapping[str, str] = os.environ) -> Path:
    """Return ``$SYNCD_CONFIG`` or ``$XDG_CONFIG_HOME/syncd/config.toml``."""
    explicit = environ.get("SYNCD_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    return _xdg("XDG_CONFIG_HOME", ".config", environ) / "syncd" / "config.toml"


def default_state_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Return ``$XDG_STATE_HOME/syncd`` (``~/.local/state/syncd``)."""
    return _xdg("XDG_STATE_HOME", ".local/state", environ) / "syncd"


def expand(path: str, environ: Mapping[str, str] = os.environ) -> Path:
    """Expand ``~`` and ``$VARS`` in a path written in the config file."""
    home = environ.get("HOME")
    text = path
    if text.startswith("~") and home:
        text = home + text[1:]
    return Path(os.path.expandvars(text)).expanduser()


def private_directory(path: Path) -> Path:
    """Create ``path`` and each missing parent with mode 0700; return ``path``.

    The XDG Base Directory Specification asks for 0700 on directories it makes ("should be
    created with permission 0700"): config, state and tokens are the user's alone. Existing
    directories are left as they are (``-c ./config.toml`` must not change the working
    directory's mode); the store and the token store make their own directory 0700.
    """
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)
        os.chmod(directory, 0o700)  # mkdir's mode is masked by the umask
    return path


def write_private_file(path: Path, text: str) -> None:
    """Write ``text`` to the new file ``path``, created 0600 (never readable by others, not
    even for a moment); its missing directories are made 0700. Raise FileExistsError when
    ``path`` exists."""
    private_directory(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
