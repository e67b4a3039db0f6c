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
