"""Shared fixtures: every test runs with XDG directories, HOME and the keyring in tmp."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

#: The third-party corpus beside the checkout (../shared/corpus), when it exists.
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """Point HOME and the XDG directories at a temporary directory; never the user's own."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for variable, folder in (("XDG_CONFIG_HOME", ".config"), ("XDG_STATE_HOME", ".local/state"),
                             ("XDG_DATA_HOME", ".local/share"), ("XDG_CACHE_HOME", ".cache")):
        monkeypatch.setenv(variable, str(home / folder))
    monkeypatch.delenv("SYNCD_CONFIG", raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    return home


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    """A private directory with a short path, for unix sockets (see servers/short_paths.py)."""
    from servers.short_paths import short_tmp

    with short_tmp("syncd-sock-") as path:
        yield path


# --- the end-of-session secret sweep (tests/test_zz_secret_sweep.py) ------------------------

SWEEP_MODULE = "test_zz_secret_sweep.py"


def pytest_collection_modifyitems(items):
    """Run the secret sweep after every other test, whatever order they were collected in."""
    items.sort(key=lambda item: item.path.name == SWEEP_MODULE)


def pytest_runtest_logreport(report):
    """Keep what pytest captured of every test phase (output, log records, the error shown
    on failure) for the sweep, which greps it for every registered secret."""
    from secrets_registry import CAPTURED

    for name, text in report.sections:
        CAPTURED.append((f"{report.nodeid} [{name}]", text))
    if report.failed:
        CAPTURED.append((f"{report.nodeid} [error]", report.longreprtext))
