"""The secret sweep, run after every other test of the session (conftest.py puts it last):
no password or token a test gave syncd appears in any log, error message or database the
session produced.

What is searched:
- every file under pytest's base temporary directory (each test's ``tmp_path``: state
  databases with their WAL, logs, reports, exports), except files meant to hold a secret: the
  token store's ``tokens/`` files, what tests hand to syncd as input (``*.toml`` configs,
  which may carry a ``password_command``, systemd ``credentials/`` directories, the file a
  test's ``token_command`` prints), and the test servers' own password files (Radicale's
  htpasswd ``users``);
- everything pytest captured of every test (stdout, stderr, log records at any level, the error
  shown on a failure), and the outputs tests recorded with ``record_output``.
What is searched for: every value registered with :func:`secrets_registry.secret`, as is.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from secrets_registry import CAPTURED, known_secrets
from servers.dovecot import PASSWORD

#: Directories whose files hold a secret by design, or are syncd's input from a test.
MEANT_FOR_SECRETS = ("tokens", "credentials")
#: Files named so are inputs: the test servers' password files, a token_command's file.
INPUT_FILES = ("users", "token")


def produced_files(base: Path) -> Iterator[Path]:
    """Every file under ``base`` that syncd or a test produced, but those meant for secrets."""
    for path in base.rglob("*"):
        if (not path.is_file() or path.is_symlink() or path.suffix == ".toml"
                or path.name in INPUT_FILES):
            continue
        if any(part in MEANT_FOR_SECRETS for part in path.relative_to(base).parts[:-1]):
            continue
        yield path


def leaks(secrets: Iterable[str], files: Iterable[Path],
          texts: Iterable[tuple[str, str]]) -> list[str]:
    """Return "where: which secret" for every secret found in ``files`` or ``texts``."""
    wanted = [(value, value.encode()) for value in secrets]
    found = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        found += [f"{path}: {value[:3]}..." for value, raw in wanted if raw in data]
    for where, text in texts:
        found += [f"{where}: {value[:3]}..." for value, _ in wanted if value in text]
    return found


def test_the_sweep_finds_a_secret_in_a_database_a_log_and_captured_output():
    planted = Path(tempfile.mkdtemp(prefix="syncd-sweep-"))
    try:
        (planted / "state").mkdir()
        (planted / "state" / "syncd.sqlite3-wal").write_bytes(b"\0\1" + PASSWORD.encode())
        (planted / "syncd.log").write_text(f"login with {PASSWORD}")
        (planted / "tokens").mkdir()
        (planted / "tokens" / "work").write_text(PASSWORD)  # the token store's own place
        (planted / "config.toml").write_text(f'password_command = "echo {PASSWORD}"')
        found = leaks([PASSWORD], produced_files(planted),
                      [("a test [Captured log call]", f"DEBUG password={PASSWORD}")])
        assert sorted(found) == sorted([
            f"{planted / 'state' / 'syncd.sqlite3-wal'}: {PASSWORD[:3]}...",
            f"{planted / 'syncd.log'}: {PASSWORD[:3]}...",
            f"a test [Captured log call]: {PASSWORD[:3]}..."])
    finally:
        shutil.rmtree(planted)


def test_no_password_or_token_reached_a_log_an_error_or_a_database(tmp_path_factory):
    secrets = known_secrets()
    assert PASSWORD in secrets and len(secrets) >= 2, "secrets must be registered"
    base = tmp_path_factory.getbasetemp()
    files = list(produced_files(base))
    assert leaks(secrets, files, CAPTURED) == []
