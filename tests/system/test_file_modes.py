"""Everything syncd writes is the user's alone: files 0600, directories 0700, whatever the
umask, after `syncd init`, `syncd auth` (the test keyring), a first `syncd sync` and an OAuth
token saved to a file (no keyring)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from secrets_registry import record_output, secret
from servers.dovecot import PASSWORD, dovecot_plain  # noqa: F401 - a fixture
from servers.memory_keyring import memory_keyring

from syncd.cli import main
from syncd.token_store import TokenStore

OAUTH_TOKEN = secret('{"refresh_token": "1//modes-test-refresh-Rt5"}')


def run_cli(*args: str, input: str = "") -> tuple[int, str]:
    """Run the CLI in-process; return its exit code and output (kept for the secret sweep)."""
    runner = CliRunner()
    code = 0
    with runner.isolation(input=input) as (out, err, *_rest):
        try:
            main(list(args))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        output = out.getvalue().decode() + (err.getvalue().decode() if err else "")
    return code, record_output(f"syncd {' '.join(args)}", output)


def not_private(home: Path) -> dict[str, str]:
    """Every path under ``home`` that is not 0700 (directories) or 0600 (files), with its mode."""
    wrong = {}
    for path in [home, *home.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode != (0o700 if path.is_dir() else 0o600):
            wrong[str(path.relative_to(home))] = oct(mode)
    return wrong


@pytest.fixture
def permissive_umask():
    """A umask of 0: anything created without an explicit mode would be world-writable."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_config_state_and_token_files_are_0600_in_0700_directories(
        isolated_home, dovecot_plain, permissive_umask):  # noqa: F811
    home = isolated_home
    code, output = run_cli("init")
    assert code == 0, output
    config = home / ".config" / "syncd" / "config.toml"
    assert config.exists()
    assert not_private(home) == {}

    server = dovecot_plain
    user = server.new_user()
    client = server.client(user)
    client.append("INBOX", b"From: a@example.org\r\nTo: me@example.com\r\n"
                  b"Message-ID: <modes@test>\r\nDate: Fri, 1 Mar 2024 10:00:00 +0000\r\n\r\nhi\r\n")
    client.logout()
    state = home / ".local" / "state" / "syncd"
    # The user edits the file init wrote (an editor keeps its mode).
    server.config_file(config, user, state, password_command=False)
    with memory_keyring() as keyring:
        code, output = run_cli("auth", "work", input=PASSWORD + "\n")
        assert code == 0, output
        assert keyring.passwords == {("syncd", "work"): PASSWORD}
        assert not_private(home) == {}
        code, output = run_cli("sync")
        assert code == 0, output
    assert (state / "syncd.sqlite3").exists()
    assert not_private(home) == {}

    saved = TokenStore(state, environ={}).save("google-me", OAUTH_TOKEN)  # no keyring here
    assert not saved.in_keyring
    assert not_private(home) == {}
