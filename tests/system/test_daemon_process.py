"""`syncd run` as systemd runs it: a real process, a test-owned NOTIFY_SOCKET, real signals."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests_helpers_daemon import write_config, write_maildir

from syncd.store import Store
from syncd.testing import database_content


class NotifySocket:
    """A unix datagram socket standing in for systemd's notification socket."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(str(path))
        self.socket.settimeout(0.2)
        self.messages: list[dict[str, str]] = []

    def wait_for(self, key: str, value: str | None = None, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(key in m and (value is None or m[key].startswith(value))
                   for m in self.messages):
                return
            try:
                data = self.socket.recv(4096).decode()
            except TimeoutError:
                continue
            self.messages.append(dict(line.split("=", 1) for line in data.splitlines()))
        raise AssertionError(f"no {key}={value or ''}… from the daemon: {self.messages}")

    def close(self) -> None:
        self.socket.close()


@pytest.fixture
def notify_socket(socket_dir):
    sock = NotifySocket(socket_dir / "notify.sock")
    yield sock
    sock.close()


def syncd(config: Path, *arguments: str) -> list[str]:
    return [sys.executable, "-m", "syncd", "-c", str(config), *arguments]


def start_daemon(config: Path, stderr: Path, **env: str) -> subprocess.Popen[bytes]:
    environment = {**os.environ, **env}
    return subprocess.Popen(syncd(config, "run"), env=environment, stdout=subprocess.DEVNULL,
                            stderr=stderr.open("wb"))


def stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return process.wait(timeout=15)


def test_sigterm_during_a_sync_exits_0_within_10_s_and_loses_nothing(tmp_path, notify_socket):
    maildir = tmp_path / "Maildir"
    write_maildir(maildir, 16000)
    config = write_config(tmp_path, maildir, "daemon")
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log, NOTIFY_SOCKET=str(notify_socket.path))
    try:
        notify_socket.wait_for("READY", "1")
        notify_socket.wait_for("STATUS", "syncing mail")
        time.sleep(0.1)  # mid-sync: 16,000 messages take most of a second to store
        daemon.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert daemon.wait(timeout=15) == 0
        assert time.monotonic() - started < 10
    finally:
        stop(daemon)
    text = log.read_text()
    assert "stopping; what was read so far is stored" in text, text
    notify_socket.wait_for("STOPPING", "1")
    # What the daemon committed plus one more pass equals an uninterrupted sync.
    subprocess.run(syncd(config, "sync"), check=True, capture_output=True)
    reference = write_config(tmp_path, maildir, "reference")
    subprocess.run(syncd(reference, "sync"), check=True, capture_output=True)
    expected = database_content(Store.open(tmp_path / "reference"))
    actual = database_content(Store.open(tmp_path / "daemon"))
    del expected["cursors"], actual["cursors"]
    assert actual == expected


def test_one_daemon_per_state_dir_while_syncd_sync_stays_usable(tmp_path, notify_socket):
    maildir = tmp_path / "Maildir"
    write_maildir(maildir, 50)
    config = write_config(tmp_path, maildir, "state")
    daemon = start_daemon(config, tmp_path / "first.log",
                          NOTIFY_SOCKET=str(notify_socket.path))
    try:
        notify_socket.wait_for("READY", "1")
        second = subprocess.run(syncd(config, "run"), capture_output=True, text=True,
                                timeout=30)
        assert second.returncode == 1
        assert "another syncd run (pid " in second.stderr
        assert f"already uses {tmp_path / 'state'}" in second.stderr
        assert subprocess.run(syncd(config, "sync"), capture_output=True,
                              timeout=60).returncode == 0
        status = subprocess.run(syncd(config, "service", "status"), capture_output=True,
                                text=True, timeout=30, env={**os.environ,
                                                            "SYNCD_SYSTEMCTL": "/bin/false"})
        assert f"daemon: running (pid {daemon.pid})" in status.stdout
    finally:
        assert stop(daemon) == 0


def test_an_invalid_config_exits_78_so_systemd_does_not_restart(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[notify]\nbackend = "dekstop"\n')
    result = subprocess.run(syncd(config, "run"), capture_output=True, text=True, timeout=30)
    assert result.returncode == 78
    assert "did you mean 'desktop'" in result.stderr


def test_sighup_keeps_the_old_config_when_the_new_one_is_invalid_then_applies_a_good_one(
        tmp_path, notify_socket):
    maildir = tmp_path / "Maildir"
    write_maildir(maildir, 20)
    config = write_config(tmp_path, maildir, "state")
    good = config.read_text()
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log, NOTIFY_SOCKET=str(notify_socket.path))
    try:
        notify_socket.wait_for("READY", "1")
        notify_socket.wait_for("STATUS", "idle")
        config.write_text(good + "[rules]\nmax_recipient = 3\n")
        daemon.send_signal(signal.SIGHUP)
        wait_for_line(log, "keeping the old one")
        assert daemon.poll() is None
        config.write_text(good.replace('every = "15m"', 'every = "20m"'))
        daemon.send_signal(signal.SIGHUP)
        wait_for_line(log, "configuration reloaded (1 sources)")
    finally:
        assert stop(daemon) == 0
    assert "max_recipient: unknown key (did you mean 'max_recipients'?)" in log.read_text()


@pytest.mark.parametrize("wrong", ["every = 15", 'enabled = "yes"'])
def test_sighup_with_a_wrongly_typed_config_keeps_the_daemon_running_on_the_old_one(
        tmp_path, notify_socket, wrong):
    maildir = tmp_path / "Maildir"
    write_maildir(maildir, 5)
    config = write_config(tmp_path, maildir, "state")
    good = config.read_text()
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log, NOTIFY_SOCKET=str(notify_socket.path))
    try:
        notify_socket.wait_for("READY", "1")
        notify_socket.wait_for("STATUS", "idle")
        config.write_text(good.replace('every = "15m"', wrong))
        daemon.send_signal(signal.SIGHUP)
        wait_for_line(log, "keeping the old one")
        # Still serving signals on the old config: a second reload is refused the same way.
        daemon.send_signal(signal.SIGHUP)
        wait_for_line(log, "keeping the old one", count=2)
        assert daemon.poll() is None
    finally:
        assert stop(daemon) == 0
    text = log.read_text()
    assert f"sources.mail.{wrong.split()[0]}:" in text
    assert "Traceback" not in text and "configuration reloaded" not in text
    assert "syncd stopped" in text.splitlines()[-1]


def test_under_the_journal_lines_carry_a_priority_and_no_timestamp_and_the_watchdog_is_fed(
        tmp_path, notify_socket):
    maildir = tmp_path / "Maildir"
    write_maildir(maildir, 5)
    config = write_config(tmp_path, maildir, "state")
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log, NOTIFY_SOCKET=str(notify_socket.path),
                          JOURNAL_STREAM="8:12345", WATCHDOG_USEC="400000")
    try:
        notify_socket.wait_for("WATCHDOG", "1")
        notify_socket.wait_for("STATUS", "idle")
    finally:
        assert stop(daemon) == 0
    lines = log.read_text().splitlines()
    assert lines and all(line.startswith(("<6>syncd", "<4>syncd")) for line in lines), lines
    assert any(line.startswith("<6>syncd.daemon: syncd started: 1 sources") for line in lines)


def wait_for_line(path: Path, text: str, timeout: float = 20.0, count: int = 1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.read_text().count(text) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {path}: {path.read_text()}")
