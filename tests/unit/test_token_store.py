"""OAuth tokens: keyring first, else a 0600 file; systemd credentials win; nothing leaks."""

from __future__ import annotations

import stat

from secrets_registry import secret
from servers.memory_keyring import memory_keyring

from syncd.token_store import TokenStore, token_name

REFRESH_TOKEN = secret("1//secret-refresh-Tk8")
TOKEN = f'{{"refresh_token": "{REFRESH_TOKEN}"}}'


def test_without_a_keyring_the_token_goes_to_a_private_file(tmp_path):
    store = TokenStore(tmp_path / "state", environ={})
    saved = store.save("google-me@gmail.com", TOKEN)
    assert not saved.in_keyring
    path = tmp_path / "state" / "tokens" / "google-me@gmail.com.json"
    assert saved.where == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert store.load("google-me@gmail.com") == TOKEN


def test_with_a_keyring_the_token_goes_there_and_no_file_is_left(tmp_path):
    store = TokenStore(tmp_path, environ={})
    with memory_keyring() as keyring:
        store.save("work", "old")  # a file would be left behind by a keyring-less earlier run
        saved = store.save("work", TOKEN)
        assert saved.in_keyring
        assert keyring.passwords[("syncd-oauth", "work")] == TOKEN
        assert store.load("work") == TOKEN
        store.delete("work")
        assert store.load("work") is None
    assert not (tmp_path / "tokens" / "work.json").exists()


def test_systemd_credentials_win_and_are_never_written(tmp_path):
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "work").write_text(TOKEN + "\n")
    store = TokenStore(tmp_path / "state", environ={"CREDENTIALS_DIRECTORY": str(credentials)})
    assert store.load("work") == TOKEN
    store.save("work", "refreshed")
    assert (credentials / "work").read_text() == TOKEN + "\n"


def test_a_missing_token_is_none(tmp_path):
    assert TokenStore(tmp_path, environ={}).load("nobody") is None


def test_names_are_safe_for_files_and_shared_by_an_account():
    assert token_name("google", "me@gmail.com") == "google-me@gmail.com"
    assert token_name("microsoft", "a/../b c") == "microsoft-a_.._b_c"
