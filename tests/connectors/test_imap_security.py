"""IMAP security rules: TLS verified (CA or SHA-256 pin, never "ignore"), secrets never shown,
and ``syncd auth`` end to end, against a real Dovecot."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import secrets_registry
from click.testing import CliRunner
from imap_helpers import connector, mail, pull_all
from servers.dovecot import PASSWORD, Certificates, dovecot_plain, dovecot_tls  # noqa: F401
from servers.memory_keyring import memory_keyring

from syncd.cli import main
from syncd.errors import AuthError, SourceError
from syncd.store import Store

STALE_PASSWORD = secrets_registry.secret("stale-pw-St4-syncd")


@pytest.fixture
def tls_account(dovecot_tls):  # noqa: F811
    user = dovecot_tls.new_user()
    client = dovecot_tls.client(user)
    client.append("INBOX", mail(1))
    client.logout()
    return dovecot_tls, user


def test_implicit_tls_with_the_ca_that_signed_the_certificate_works(tls_account):
    server, user = tls_account
    _, records, _, _ = pull_all(connector(server, user))
    assert [record.message_id for record in records] == ["1@test"]


def test_a_certificate_from_another_ca_is_refused(tls_account, tmp_path):
    server, user = tls_account
    other = Certificates.make(tmp_path, "another CA")
    source = connector(server, user, ca_file=str(other.ca))
    with pytest.raises(SourceError, match=r"could not be verified .*ca_file.*fingerprint"):
        pull_all(source)


def test_the_system_trust_store_refuses_a_private_ca(tls_account):
    server, user = tls_account
    options = server.options(user)
    del options["ca_file"]
    source = connector(server, user)
    source.settings = type(source.settings)(**{**_fields(source.settings), "ca_file": None})
    with pytest.raises(SourceError, match="could not be verified"):
        pull_all(source)


def test_a_pinned_fingerprint_is_enough_and_a_wrong_one_is_refused(tls_account):
    server, user = tls_account
    pinned = connector(server, user, ca_file=None, fingerprint=server.certificates.fingerprint)
    _, records, _, _ = pull_all(pinned)
    assert len(records) == 1
    wrong = connector(server, user, ca_file=None, fingerprint="ab" * 32)
    with pytest.raises(SourceError, match="not the pinned one"):
        pull_all(wrong)


def test_tls_none_is_refused_for_a_remote_host(tls_account):
    server, user = tls_account
    with pytest.raises(SourceError, match="only for a server on this machine"):
        connector(server, user, host="imap.example.org", tls="none")


def _fields(settings):
    return {name: getattr(settings, name) for name in settings.__dataclass_fields__}


# --- secrets --------------------------------------------------------------------------------------


def test_the_password_never_reaches_logs_errors_or_the_database(dovecot_plain, tmp_path,  # noqa: F811
                                                                caplog):
    server = dovecot_plain
    user = server.new_user()
    client = server.client(user)
    client.append("INBOX", mail(1))
    client.logout()
    caplog.set_level(logging.DEBUG)
    logging.getLogger("imapclient").setLevel(logging.DEBUG)
    store = Store.open(tmp_path / "state")
    from syncd.engine import Engine
    from syncd.rules import Rules

    engine = Engine(store, Rules(), lambda: __import__("datetime").datetime.now(
        __import__("datetime").UTC))
    report = engine.sync("work", connector(server, user))
    assert report.error is None and report.records == 1
    wrong = secrets_registry.secret("Wr0ng-" + PASSWORD[::-1])
    failed = engine.sync("work", connector(server, user, password_command=f"echo {wrong}"))
    assert failed.error_kind == "auth"
    with pytest.raises(AuthError) as refused:
        connector(server, user).check_password(wrong)
    store.close()
    text = caplog.text + str(refused.value) + (failed.error or "")
    assert "LOGIN" in text.upper() or caplog.records  # the debug log did capture something
    for secret in (PASSWORD, wrong):
        assert secret not in text
        for path in (tmp_path / "state").iterdir():
            assert secret.encode() not in path.read_bytes()


# --- syncd auth -----------------------------------------------------------------------------------


def _config(tmp_path: Path, server, user: str, *, password_command: bool = False) -> Path:
    return server.config_file(tmp_path / "config.toml", user, tmp_path / "state",
                              password_command=password_command)


def run_cli(*args: str, input: str = "") -> tuple[int, str]:
    """Run the real CLI entry point in-process; return its exit code and all its output."""
    runner = CliRunner()
    with runner.isolation(input=input) as (out, err, *_rest):
        try:
            main(list(args))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        output = out.getvalue().decode() + (err.getvalue().decode() if err else "")
    return code, output


def test_syncd_auth_checks_the_password_stores_it_and_sync_uses_it(dovecot_plain, tmp_path,  # noqa: F811
                                                                   caplog):
    caplog.set_level(logging.DEBUG)
    server = dovecot_plain
    user = server.new_user()
    client = server.client(user)
    client.append("INBOX", mail(1))
    client.logout()
    config = str(_config(tmp_path, server, user))
    with memory_keyring() as keyring:
        code, output = run_cli("-c", config, "-v", "sync")
        assert code == 1 and "syncd auth work" in output
        code, output = run_cli("-c", config, "-v", "auth", "work", input="not-it\n")
        assert code == 1 and "refused the login" in output and "syncd auth work" in output
        assert keyring.passwords == {}
        code, output = run_cli("-c", config, "-v", "auth", "work", input=PASSWORD + "\n")
        assert code == 0, output
        assert "checked and stored" in output
        assert keyring.passwords == {("syncd", "work"): PASSWORD}
        code, output = run_cli("-c", config, "-v", "sync")
        assert code == 0, output
        assert "work: 1 read" in output or "work: 1 new" in output
        assert PASSWORD not in output and PASSWORD not in caplog.text


def test_syncd_auth_without_a_keyring_points_at_password_command(dovecot_plain, tmp_path,  # noqa: F811
                                                                 monkeypatch):
    import keyring
    from keyring.backends import fail

    server = dovecot_plain
    user = server.new_user()
    config = str(_config(tmp_path, server, user))
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        code, output = run_cli("-c", config, "auth", "work", input=PASSWORD + "\n")
    finally:
        keyring.set_keyring(previous)
    assert code == 1
    assert "no usable keyring" in output and "password_command" in output
    assert PASSWORD not in output


def test_a_failed_auth_pauses_until_syncd_auth(dovecot_plain, tmp_path):  # noqa: F811
    server = dovecot_plain
    user = server.new_user()
    config = str(_config(tmp_path, server, user))
    with memory_keyring() as keyring:
        keyring.set_password("syncd", "work", STALE_PASSWORD)
        code, output = run_cli("-c", config, "sync")
        assert code == 1 and "run: syncd auth work" in output
        store = Store.open(tmp_path / "state")
        assert store.is_paused("work")
        store.close()
        code, output = run_cli("-c", config, "status")
        assert "paused until you run: syncd auth work" in output
        code, _ = run_cli("-c", config, "auth", "work", input=PASSWORD + "\n")
        assert code == 0
        store = Store.open(tmp_path / "state")
        assert not store.is_paused("work")
        store.close()
