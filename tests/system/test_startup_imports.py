"""What a command imports before it works: every `syncd` process pays its module imports.

Each case runs one command in a fresh interpreter and lists the modules it left in
``sys.modules``. A command that never syncs must not load a connector, an SDK, the sync engine
or the daemon's parts; ``syncd sync`` loads the connector of its own source and no other.
Not a timing: a module count that grows is what a slow start-up is made of (the numbers are
in bench/startup_bench.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from servers.dovecot import Dovecot, dovecot_plain  # noqa: F401 - a fixture

#: Never needed by a command that does not sync: SDKs, protocol clients, the scheduler, the
#: keyring, and syncd's own sync machinery (engine, prefetcher, message codec, connectors).
HEAVY = ("googleapiclient", "google_auth_oauthlib", "google.auth", "imapclient", "apscheduler",
         "keyring", "icalendar", "recurring_ical_events", "requests", "caldav", "httplib2",
         "vobject", "desktop_notifier", "dbus_next", "msal", "email.parser", "rich",
         "syncd.engine", "syncd.prefetch", "syncd.message_codec", "syncd.daemon",
         "syncd.daemon_schedule", "syncd.daemon_idle", "syncd.daemon_alerts",
         "connectors.base", "connectors.mail", "connectors.calendars", "connectors.google")
# (difflib and uuid are not listed: click imports uuid, and difflib whenever it parses a short
# option such as -c, so syncd's own lazy imports of them save only the commands without -c.)

#: Runs the CLI in this interpreter, then writes the names in sys.modules to argv[1].
PROBE = """
import json, sys
target, arguments = sys.argv[1], sys.argv[2:]
from syncd.cli import main
try:
    main(arguments)
except SystemExit as exit:
    code = exit.code
with open(target, "w") as file:
    json.dump({"code": code, "modules": sorted(sys.modules)}, file)
"""


def modules_after(tmp_path: Path, config: Path, *arguments: str) -> set[str]:
    """Return the modules a fresh interpreter holds after ``syncd -c CONFIG ARGUMENTS``."""
    target = tmp_path / "modules.json"
    subprocess.run([sys.executable, "-c", PROBE, str(target), "-c", str(config), *arguments],
                   check=True, capture_output=True, text=True, timeout=120,
                   env=os.environ.copy(), stdin=subprocess.DEVNULL)
    result = json.loads(target.read_text())
    assert result["code"] == 0, result
    return set(result["modules"])


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """Return which of ``names`` (or their submodules) are in ``modules``."""
    return sorted(name for name in names
                  if any(module == name or module.startswith(name + ".") for module in modules))


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config with one source of each heavy kind (none of them reachable) and two tiers."""
    mail = tmp_path / "Mail"
    for part in ("cur", "new", "tmp"):
        (mail / part).mkdir(parents=True)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[general]\nstate_dir = "{tmp_path / "state"}"\n'
        '[tiers]\nclose = "14d"\nfriends = "45d"\n'
        f'[sources.local]\ntype = "maildir"\npath = "{mail}"\n'
        '[sources.work]\ntype = "imap"\nhost = "127.0.0.1"\nport = 1\n'
        'username = "me"\nenabled = false\n'
        '[sources.cal]\ntype = "caldav"\nurl = "http://127.0.0.1:1/cal/"\n'
        'username = "me"\nenabled = false\n')
    return path


@pytest.mark.parametrize("arguments", [
    ("--help",), ("due",), ("due", "--json"), ("suggest",), ("suggest", "--json"),
    ("people",), ("status",), ("status", "--json"), ("config", "check"), ("sync", "--help"),
])
def test_commands_that_do_not_sync_import_nothing_heavy(tmp_path: Path, config: Path,
                                                        arguments: tuple[str, ...]) -> None:
    assert loaded(modules_after(tmp_path, config, *arguments), HEAVY) == []


def test_sync_imports_only_its_own_connector(tmp_path: Path, config: Path) -> None:
    modules = modules_after(tmp_path, config, "sync", "local")
    # The probe is honest: syncing did load the engine and the one connector it needs.
    assert loaded(modules, ("syncd.engine", "connectors.mail.maildir")) == [
        "connectors.mail.maildir", "syncd.engine"]
    assert loaded(modules, ("connectors.mail.imap", "connectors.calendars",
                            "connectors.google", "imapclient", "googleapiclient",
                            "icalendar", "caldav", "requests", "apscheduler", "keyring")) == []


def test_an_imap_password_sync_imports_no_oauth_and_no_listing_helpers(tmp_path: Path,
                                                                       config: Path) -> None:
    """The daemon's common case, a no-change IMAP pass, pays for none of: the OAuth token
    sources (a password source) and merge suggestions (``people --duplicates`` only)."""
    config.write_text(config.read_text().replace(
        'port = 1\nusername = "me"\nenabled = false\n',
        'port = 1\nusername = "me"\ntls = "none"\npassword_command = "echo pw"\n'))
    target = tmp_path / "modules.json"
    subprocess.run([sys.executable, "-c", PROBE, str(target), "-c", str(config), "sync", "work"],
                   check=True, capture_output=True, text=True, timeout=120,
                   env=os.environ.copy(), stdin=subprocess.DEVNULL)
    result = json.loads(target.read_text())
    assert result["code"] == 1  # nothing listens on port 1: the source fails, after importing
    modules = set(result["modules"])
    # (A first pass connects in the prefetch child: the parent holds the connector module.)
    assert loaded(modules, ("connectors.mail.imap",)) == ["connectors.mail.imap"]
    assert loaded(modules, ("connectors.mail._imap_oauth", "syncd.token_store",
                            "syncd.duplicates", "connectors.google")) == []


def _mail(number: int) -> bytes:
    return (f"From: friend{number}@example.org\r\nTo: me@example.com\r\n"
            f"Message-ID: <{number}@test>\r\nDate: Fri, 1 Mar 2024 10:00:00 +0000\r\n"
            f"\r\nhello\r\n").encode()


def test_an_imap_sync_with_nothing_new_loads_neither_the_header_parser_nor_the_prefetcher(
        tmp_path: Path, dovecot_plain: Dovecot) -> None:  # noqa: F811
    """The daemon's usual pass finds no new mail: it lists folders, reads no header and forks
    no child, so it pays for neither module. Each is loaded where it is needed (checked, so
    the probe is honest): the prefetcher by a first sync, the parser by a pass with new mail."""
    user = dovecot_plain.new_user()
    client = dovecot_plain.client(user)
    client.append("INBOX", _mail(1))
    config = dovecot_plain.config_file(tmp_path / "config.toml", user, tmp_path / "state")
    parser, prefetcher = ("connectors.mail._mail",), ("syncd.prefetch",)

    assert loaded(modules_after(tmp_path, config, "sync"), prefetcher) == list(prefetcher)
    client.append("INBOX", _mail(2))
    assert loaded(modules_after(tmp_path, config, "sync"), parser) == list(parser)
    client.logout()

    nothing_new = modules_after(tmp_path, config, "sync")
    assert loaded(nothing_new, ("connectors.mail.imap",)) == ["connectors.mail.imap"]
    assert loaded(nothing_new, (*parser, *prefetcher, "syncd.activity")) == []

