"""The report outside the browser: `syncd report --open`, the daemon keeping `[report] path`
fresh after every sync, and a notification's *Open report* button (dunst on a private bus).

The "default browser" is a script named by ``$BROWSER`` (which Python's webbrowser, like
xdg-open's users, honours first) that records the address it was asked to show.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from servers.notifications import desktop, desktop_session  # noqa: F401 - fixtures

from syncd.config import load_config
from syncd.daemon import Daemon

NOW = datetime.now(UTC).replace(microsecond=0)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def write_mail(maildir: Path, index: int, to: str, when: datetime) -> None:
    for sub in ("cur", "new", "tmp"):
        (maildir / ".Sent" / sub).mkdir(parents=True, exist_ok=True)
    (maildir / ".Sent" / "cur" / f"{index}.test:2,S").write_text(
        f"From: me@example.org\nTo: {to}\nDate: {format_datetime(when)}\n"
        f"Message-ID: <m{index}@example.org>\nSubject: hi\n\nhello\n")


def setup(tmp_path: Path, *, report: Path | None, backend: str = "log") -> Path:
    """A Maildir where I last wrote Alice 47 days ago; Alice tracked every 3 weeks."""
    maildir = tmp_path / "Maildir"
    write_mail(maildir, 0, "alice@example.com", NOW - timedelta(days=47))
    config = tmp_path / "config.toml"
    config.write_text(
        f'[general]\nstate_dir = "{tmp_path / "state"}"\ntimezone = "UTC"\n'
        f'[me]\naddresses = ["me@example.org"]\n'
        f'[sources.mail]\ntype = "maildir"\npath = "{maildir}"\n'
        f'[notify]\nbackend = "{backend}"\n'
        + (f'[report]\npath = "{report}"\n' if report else "")
        + '[[people]]\nname = "Alice Example"\naddresses = ["alice@example.com"]\n'
          'every = "3w"\n')
    return config


def recording_browser(tmp_path: Path) -> tuple[Path, Path]:
    """Return (a browser script, the file where it writes each address it is asked to show)."""
    seen = tmp_path / "browser-saw.txt"
    script = tmp_path / "browser.sh"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{seen}"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, seen


def chip_of(html: str, name: str) -> str:
    """Return the status chip class of ``name``'s row of the heat map."""
    row = re.search(rf'<tr data-f="{name.lower()}[^>]*>(.*?)</tr>', html)
    assert row, f"no row for {name}"
    chip = re.search(r'class="chip (\w+)"', row.group(1))
    assert chip
    return chip.group(1)


def test_report_open_writes_the_file_and_shows_it_in_the_default_browser(tmp_path):
    config = setup(tmp_path, report=None)
    script, seen = recording_browser(tmp_path)
    env = {**os.environ, "BROWSER": str(script)}
    subprocess.run([sys.executable, "-m", "syncd", "-c", str(config), "sync"], check=True,
                   capture_output=True, env=env)
    result = subprocess.run([sys.executable, "-m", "syncd", "-c", str(config), "report",
                             "--open"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    written = tmp_path / "state" / "report.html"  # the default: beside the database
    assert result.stdout.strip() == f"wrote {written}"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600  # it names people
    assert seen.read_text().splitlines() == [written.as_uri()]


def test_report_to_an_unwritable_place_says_so_in_one_sentence_and_exits_1(tmp_path):
    config = setup(tmp_path, report=None)
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = subprocess.run([sys.executable, "-m", "syncd", "-c", str(config), "report",
                             "--out", str(blocker / "report.html")], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("syncd: cannot write the report to ")
    assert "choose another file with --out" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_daemon_rewrites_the_report_after_every_sync(tmp_path):
    report = tmp_path / "shown" / "ties.html"
    config = setup(tmp_path, report=report)
    clock = Clock(NOW)
    daemon = Daemon(lambda: load_config(config), clock=clock)
    daemon.start()
    try:
        daemon.process_pending()  # first sync, alert check, report
        assert chip_of(report.read_text(), "Alice Example") == "quiet"
        write_mail(tmp_path / "Maildir", 1, "alice@example.com", NOW - timedelta(hours=1))
        daemon.request("sync", "mail")
        daemon.process_pending()
        assert chip_of(report.read_text(), "Alice Example") == "ok"
    finally:
        daemon.shutdown()


def test_without_a_report_path_the_daemon_writes_no_report(tmp_path):
    config = setup(tmp_path, report=None)
    daemon = Daemon(lambda: load_config(config), clock=Clock(NOW))
    daemon.start()
    try:
        daemon.process_pending()
        assert daemon.write_report() is None
    finally:
        daemon.shutdown()
    assert not list(tmp_path.rglob("*.html"))


def test_open_report_on_the_notification_shows_the_report_in_the_browser(
        tmp_path, desktop, monkeypatch):  # noqa: F811
    script, seen = recording_browser(tmp_path)
    monkeypatch.setenv("BROWSER", str(script))
    report = tmp_path / "ties.html"
    config = setup(tmp_path, report=report, backend="desktop")
    daemon = Daemon(lambda: load_config(config), clock=Clock(NOW))
    daemon.start()
    try:
        daemon.process_pending()
        assert desktop.wait_arrived(1)[0][0] == "Alice Example"
        desktop.invoke("Open report")
        assert daemon.process_pending(wait=10) == 1
        assert seen.read_text().splitlines() == [report.as_uri()]
        alice = daemon.app.find_person("alice@example.com")
        assert alice.snoozed_until is None and alice.last_manual is None  # nothing else ran
    finally:
        daemon.shutdown()


def test_a_report_path_added_by_sighup_is_written_at_once(tmp_path):
    config = setup(tmp_path, report=None)
    daemon = Daemon(lambda: load_config(config), clock=Clock(NOW))
    daemon.start()
    try:
        daemon.process_pending()
        report = tmp_path / "later.html"
        config.write_text(config.read_text().replace(
            "[[people]]", f'[report]\npath = "{report}"\n[[people]]'))
        assert daemon.reload()
        daemon.process_pending()
        assert chip_of(report.read_text(), "Alice Example") == "quiet"
    finally:
        daemon.shutdown()
