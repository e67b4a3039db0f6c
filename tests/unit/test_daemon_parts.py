"""The daemon's parts: sd_notify, backoff, clock jumps, paused sources, notifiers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syncd.alerts import Alert, Notification
from syncd.config import Config, parse_config
from syncd.daemon import Daemon, retry_delay
from syncd.errors import AuthError, NotifyError
from syncd.notify import CommandNotifier, LogNotifier
from syncd.sdnotify import SystemdNotifier
from syncd.testing import FakeConnector, message

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def test_sd_notify_sends_ready_status_and_watchdog_to_the_notify_socket(socket_dir):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(socket_dir / "notify"))
    server.settimeout(2)
    ticks = iter([0.0, 1.0, 2.5, 3.0])
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(socket_dir / "notify"),
                                "WATCHDOG_USEC": "3000000"}, monotonic=lambda: next(ticks))
    notifier.ready("started")
    first = server.recv(1024).decode().splitlines()
    assert first[:2] == ["READY=1", "STATUS=started"]
    notifier.heartbeat()  # t=0: first ping
    notifier.heartbeat()  # t=1: less than half of 3 s since the last one
    notifier.heartbeat()  # t=2.5: due again
    assert [server.recv(1024), server.recv(1024)] == [b"WATCHDOG=1", b"WATCHDOG=1"]
    server.settimeout(0.1)
    with pytest.raises(TimeoutError):
        server.recv(1024)
    notifier.close()
    server.close()


def test_sd_notify_understands_abstract_socket_names():
    name = f"syncd-test-{os.getpid()}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind("\0" + name)
    server.settimeout(2)
    SystemdNotifier({"NOTIFY_SOCKET": "@" + name}).status("hello")
    assert server.recv(1024) == b"STATUS=hello"
    server.close()


def test_sd_notify_does_nothing_outside_systemd():
    notifier = SystemdNotifier({})
    notifier.ready("x")
    notifier.heartbeat()
    assert not notifier.enabled and notifier.watchdog_interval is None


def test_backoff_starts_at_a_minute_doubles_and_is_capped():
    every = timedelta(minutes=15)
    delays = [retry_delay(n, every) for n in range(1, 9)]
    assert delays[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert delays[-1] == timedelta(hours=1)
    assert retry_delay(30, timedelta(hours=6)) == timedelta(hours=24)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def make_daemon(tmp_path: Path, connector: FakeConnector, wall=None, monotonic=None) -> Daemon:
    config = parse_config({
        "general": {"state_dir": str(tmp_path / "state"), "timezone": "UTC"},
        "me": {"addresses": ["me@example.org"]},
        "sources": {"fake": {"type": "maildir", "path": str(tmp_path)}},
        "notify": {"backend": "log"}})
    options = {} if wall is None else {"wall": wall, "monotonic": monotonic}
    return Daemon(lambda: config, clock=Clock(), connector_factory=lambda source: connector,
                  notifier=LogNotifier(), environ={}, **options)


def test_the_daemon_reads_a_first_pass_in_its_own_process_never_in_a_forked_child(
        tmp_path, monkeypatch):
    # Its IDLE watchers import connector modules in other threads: a child forked amid such an
    # import waits forever on that module's import lock (it hung on syncd.credentials).
    from syncd import prefetch

    class MaildirLike(FakeConnector):
        source_type = "maildir"  # a type a first pass would otherwise read in a child

    def no_fork(pull, label):
        raise AssertionError(f"the daemon forked a reader for {label}")

    monkeypatch.setattr(prefetch, "prefetched", no_fork)
    records = [message(str(index), "a@example.com", ["me@example.org"], date=NOW)
               for index in range(5)]
    daemon = make_daemon(tmp_path, MaildirLike(records))
    daemon.start()
    try:
        report = daemon.sync_source("fake")
        assert report is not None and report.error is None and report.records == 5
    finally:
        daemon.shutdown()


def test_a_failing_source_is_retried_with_growing_delays_and_recovers(tmp_path):
    connector = FakeConnector([message("1", "a@example.com", ["me@example.org"], date=NOW)],
                              fail_after_pages=0)
    daemon = make_daemon(tmp_path, connector)
    daemon.start()
    try:
        daemon.process_pending()
        first = daemon.next_run("fake")
        daemon.sync_source("fake")
        second = daemon.next_run("fake")
        now = datetime.now(UTC)
        assert timedelta(seconds=50) < first - now <= timedelta(minutes=1)
        assert timedelta(minutes=1, seconds=50) < second - now <= timedelta(minutes=2)
        connector.fail_after_pages = None
        assert daemon.sync_source("fake").error is None
        assert daemon.next_run("fake") - datetime.now(UTC) > timedelta(minutes=13)
    finally:
        daemon.shutdown()


def test_a_source_whose_credentials_were_refused_is_skipped_until_syncd_auth(tmp_path, caplog):
    class Refusing(FakeConnector):
        def pull(self, cursor, known):
            self.pulls += 1
            raise AuthError("the server refused the password; run: syncd auth fake")

    connector = Refusing()
    daemon = make_daemon(tmp_path, connector)
    daemon.start()
    try:
        daemon.process_pending()
        assert connector.pulls == 1 and daemon.store.is_paused("fake")
        assert daemon.sync_source("fake") is None and daemon.sync_source("fake") is None
        assert connector.pulls == 1
        assert sum("run: syncd auth fake" in r.message for r in caplog.records) >= 1
        daemon.store.clear_pause("fake")  # what `syncd auth fake` does
        daemon.sync_source("fake")
        assert connector.pulls == 2
    finally:
        daemon.shutdown()


def test_a_wall_clock_jump_after_sleep_syncs_every_source_at_once(tmp_path):
    times = {"wall": 1000.0, "mono": 50.0}
    connector = FakeConnector([])
    daemon = make_daemon(tmp_path, connector, wall=lambda: times["wall"],
                         monotonic=lambda: times["mono"])
    daemon.start()
    try:
        daemon.process_pending()
        assert connector.pulls == 1
        times["wall"] += 1.0
        times["mono"] += 1.0
        daemon._on_tick()
        assert daemon.process_pending() == 0  # time ran normally: nothing to do
        times["wall"] += 3 * 3600.0  # suspended for three hours
        times["mono"] += 1.0
        daemon._on_tick()
        daemon.process_pending()
        assert connector.pulls == 2
    finally:
        daemon.shutdown()


NOTE = Notification("alert", "Alice Example", "47 days since you last talked",
                    (Alert(7, "Alice Example", 47, NOW, "Alice Example",
                           "47 days since you last talked"),))


def test_the_command_backend_gets_json_on_stdin_and_syncd_variables(tmp_path):
    out = tmp_path / "out"
    script = tmp_path / "hook.py"
    script.write_text("import json, os, sys\n"
                      f"open({str(out)!r}, 'w').write(json.dumps({{'stdin': json.load(sys.stdin),"
                      " 'title': os.environ['SYNCD_TITLE'], 'people': os.environ['SYNCD_PEOPLE']"
                      "}))\n")
    CommandNotifier(f"{sys.executable} {script}").send(NOTE)
    received = json.loads(out.read_text())
    assert received["title"] == "Alice Example" and received["people"] == "Alice Example"
    assert received["stdin"]["people"][0] == {
        "id": 7, "name": "Alice Example", "days_since": 47, "due_at": "2026-06-01T12:00:00Z",
        "text": "Alice Example: 47 days since you last talked"}


def test_a_failing_or_missing_command_is_a_clear_error():
    with pytest.raises(NotifyError, match="exited with status 3: no token"):
        CommandNotifier(f"{sys.executable} -c \"import sys; sys.exit('no token') if 0 else "
                        "(sys.stderr.write('no token'), sys.exit(3))\"").send(NOTE)
    with pytest.raises(NotifyError, match="'/nonexistent/notify' was not found; fix"):
        CommandNotifier("/nonexistent/notify").send(NOTE)


def test_notify_test_uses_the_configured_backend(tmp_path):
    out = tmp_path / "out"
    config = tmp_path / "config.toml"
    config.write_text(f'[notify]\nbackend = "command"\ncommand = "sh -c \'cat > {out}\'"\n')
    result = subprocess.run([sys.executable, "-m", "syncd", "-c", str(config), "notify", "test"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "via command" in result.stdout
    assert json.loads(out.read_text())["title"] == "syncd"
    config.write_text('[notify]\nbackend = "command"\n')
    result = subprocess.run([sys.executable, "-m", "syncd", "-c", str(config), "notify", "test"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 78 and "notify.command" in result.stderr


def test_an_upcoming_meeting_in_the_store_holds_the_alert_back_until_it_is_gone(tmp_path):
    connector = FakeConnector([message("1", "me@example.org", ["alice@example.com"],
                                       date=NOW - timedelta(days=120))])
    daemon = make_daemon(tmp_path, connector)
    daemon.start()
    try:
        daemon.process_pending()
        alice = daemon.app.find_person("alice@example.com")
        daemon.store.set_tracking(alice.id, True, every_days=30)
        with daemon.store.transaction() as db:
            db.execute("INSERT INTO upcoming VALUES ('cal', 'e1', ?, 'k1', ?, 'meeting')",
                       (alice.id, int((NOW + timedelta(days=2)).timestamp())))
        assert daemon.check_alerts() == 0
        with daemon.store.transaction() as db:
            db.execute("DELETE FROM upcoming")
        assert daemon.check_alerts() == 1
    finally:
        daemon.shutdown()


def test_a_reload_that_fails_unexpectedly_while_reading_keeps_the_old_config(tmp_path, caplog):
    daemon = make_daemon(tmp_path, FakeConnector([]))
    daemon.start()
    try:
        old = daemon.app.config

        def broken() -> Config:
            raise RuntimeError("the disk went away")

        daemon._load_config = broken
        assert daemon.reload() is False
        assert daemon.app.config is old
        assert "keeping the old one" in caplog.text
    finally:
        daemon.shutdown()


def test_a_reload_that_fails_while_applying_the_new_config_restores_the_old_one(tmp_path):
    daemon = make_daemon(tmp_path, FakeConnector([]))
    daemon.start()
    try:
        old = daemon.app.config
        # A config the validator would never build: applying it to the store raises.
        faulty = replace(old, people=(object(),),  # type: ignore[arg-type]
                         sources={**old.sources, "other": replace(old.sources["fake"],
                                                                  name="other")})
        daemon._load_config = lambda: faulty
        assert daemon.reload() is False
        assert daemon.app.config is old
        assert daemon.next_run("other") is None and daemon.next_run("fake") is not None
        daemon.process_pending()  # still works: syncs and checks alerts
        assert daemon.sync_source("fake") is not None
    finally:
        daemon.shutdown()
