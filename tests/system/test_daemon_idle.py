"""`syncd run` with IMAP IDLE (RFC 2177): new INBOX mail is synced at once, not on `every`."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

from servers.dovecot import PASSWORD, dovecot_plain  # noqa: F401 - a fixture
from test_daemon_process import notify_socket, start_daemon, stop  # noqa: F401 - a fixture

from syncd.config import SourceConfig
from syncd.daemon import IdleWatcher
from syncd.daemon_idle import IdleWatchers
from syncd.errors import AuthError, SourceError, SyncdError


def message(number: int, sender: str) -> bytes:
    return (f"From: {sender}\r\nTo: me@example.org\r\nMessage-ID: <idle{number}@test>\r\n"
            f"Date: Fri, 1 Mar 2024 10:00:00 +0000\r\nSubject: {number}\r\n\r\nhi\r\n").encode()


def write_config(tmp: Path, server, user: str) -> Path:
    config = tmp / "idle.toml"
    config.write_text(
        f'[general]\nstate_dir = "{tmp / "state"}"\ntimezone = "UTC"\n'
        f'[me]\naddresses = ["me@example.org"]\n'
        f'[sources.work]\ntype = "imap"\nhost = "127.0.0.1"\nport = {server.port}\n'
        f'username = "{user}"\ntls = "none"\npassword_command = "echo {PASSWORD}"\n'
        f'every = "1h"\n'
        f'[notify]\nbackend = "log"\n')
    return config


def sync_lines(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if "syncd.engine: work:" in line]


def wait_until(condition, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    shown = f"; the daemon's log:\n{log.read_text()}" if log is not None else ""
    raise AssertionError(f"timed out waiting for {what}{shown}")


def test_new_inbox_mail_is_synced_within_seconds_not_on_the_hourly_interval(
        tmp_path, dovecot_plain, notify_socket):  # noqa: F811
    user = dovecot_plain.new_user("idle")
    client = dovecot_plain.client(user)
    client.append("INBOX", message(1, "old@example.com"))
    config = write_config(tmp_path, dovecot_plain, user)
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log, NOTIFY_SOCKET=str(notify_socket.path))
    try:
        notify_socket.wait_for("READY", "1")
        # ">= 1": the IDLE watcher also wakes when its connection is lost (by design: a sync
        # tells what happened), and such a quick no-op sync must not make the wait miss the
        # moment there was exactly one.
        wait_until(lambda: len(sync_lines(log)) >= 1, 20, "the first sync", log)
        assert "1 records read" in sync_lines(log)[0]
        # The first sync's login and the IDLE connection's login (Dovecot logs each one).
        wait_until(lambda: dovecot_plain.log().count(f"Login: user=<{user}>") >= 2, 20,
                   "the IDLE connection", log)
        time.sleep(0.5)  # from LOGIN to IDLE: an EXAMINE and the IDLE command

        before = len(sync_lines(log))
        client.append("INBOX", message(2, "new@example.com"))
        delivered = time.monotonic()
        wait_until(lambda: any("1 records read, 1 counted, 1 new contacts" in line
                               for line in sync_lines(log)[before:]), 10,
                   "a sync that reads the new mail", log)
        assert time.monotonic() - delivered < 10

        started = time.monotonic()
        assert stop(daemon) == 0
        assert time.monotonic() - started < 10
    finally:
        stop(daemon)
        client.logout()
    assert "waiting for new mail with IMAP IDLE" in log.read_text()


class FlakyServer:
    """Stands in for the IMAP connector: fails ``failures`` times, then reports mail once,
    then waits quietly (in slices, so the test can stop it)."""

    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors
        self.calls = 0
        self.closed = 0
        self.reported = False

    def wait_for_changes(self, timeout: float) -> bool:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        if not self.reported:
            self.reported = True
            return True
        time.sleep(min(timeout, 0.05))
        return False

    def close(self) -> None:
        self.closed += 1


def test_a_failing_idle_backs_off_doubling_and_recovers_without_ending_the_thread():
    server = FlakyServer([SourceError("cannot connect"), AuthError("refused"),
                          RuntimeError("anything else")])
    changes = threading.Event()
    watcher = IdleWatcher("work", server, changes.set, timeout=0.05, backoff=(0.1, 0.2))
    started = time.monotonic()
    watcher.start()
    assert changes.wait(5)
    # 0.1 + 0.2 + 0.2 (capped) seconds of backoff before the fourth call succeeded.
    assert time.monotonic() - started >= 0.5
    assert server.closed == 3  # the connection is dropped after each failure
    assert watcher.failures == 0 and watcher.thread.is_alive()
    watcher.stop()
    watcher.thread.join(2)
    assert not watcher.thread.is_alive()


def test_a_server_without_idle_ends_the_watcher_and_the_interval_remains():
    class NoIdle:
        closed = False

        def wait_for_changes(self, timeout: float) -> bool:
            return False  # what ImapConnector answers at once when IDLE is not offered

        def close(self) -> None:
            self.closed = True

    server = NoIdle()
    watcher = IdleWatcher("work", server, lambda: None, timeout=60)
    watcher.start()
    watcher.thread.join(2)
    assert not watcher.thread.is_alive() and server.closed


def test_stop_wakes_a_real_idle_at_once(dovecot_plain):  # noqa: F811
    from zoneinfo import ZoneInfo

    from connectors.mail.imap import ImapConnector

    user = dovecot_plain.new_user("idle")
    dovecot_plain.client(user).logout()
    connector = ImapConnector("work", dovecot_plain.options(user), ZoneInfo("UTC"))
    watcher = IdleWatcher("work", connector, lambda: None, timeout=600)
    watcher.start()
    wait_until(lambda: dovecot_plain.log().count(f"Login: user=<{user}>") >= 2, 10,
               "the IDLE connection")
    time.sleep(0.3)
    started = time.monotonic()
    watcher.stop()
    watcher.thread.join(5)
    assert not watcher.thread.is_alive()
    assert time.monotonic() - started < 2


class QuietServer:
    """Stands in for the IMAP connector: IDLEs until interrupted, never reporting mail."""

    def __init__(self) -> None:
        self.waiting = threading.Event()
        self.woken = threading.Event()
        self.closed = threading.Event()

    def wait_for_changes(self, timeout: float) -> bool:
        self.waiting.set()
        self.woken.wait(timeout)
        return False

    def interrupt(self) -> None:
        self.woken.set()

    def close(self) -> None:
        self.closed.set()


def imap(name: str, *, idle: bool = True, enabled: bool = True,
         every: timedelta = timedelta(hours=1)) -> SourceConfig:
    return SourceConfig(name, "imap", every, enabled, {"idle": idle})


def test_the_watchers_follow_the_config_one_per_idle_imap_source_restarted_when_it_changes(
        caplog):
    made: dict[str, list[QuietServer]] = {}
    requests: list[tuple[str, ...]] = []

    def connector(source: SourceConfig) -> object:
        if source.name == "broken":
            raise SyncdError("no password for broken")
        if source.name == "plain":
            return object()  # a connector that cannot IDLE
        made.setdefault(source.name, []).append(QuietServer())
        return made[source.name][-1]

    watchers = IdleWatchers(lambda *request: requests.append(request))
    sources = {"work": imap("work"), "other": imap("other", idle=False),
               "off": imap("off", enabled=False), "broken": imap("broken"),
               "plain": imap("plain"),
               "mail": SourceConfig("mail", "maildir", timedelta(hours=1), True, {"idle": True})}
    try:
        watchers.update(sources, connector)
        assert list(made) == ["work"] and made["work"][0].waiting.wait(5)
        assert "broken: no IMAP IDLE (no password for broken)" in caplog.text

        watchers.update(sources, connector)  # nothing changed: the same thread keeps waiting
        assert len(made["work"]) == 1 and not made["work"][0].closed.is_set()

        changed = {**sources, "work": imap("work", every=timedelta(minutes=5))}
        watchers.update(changed, connector)
        assert made["work"][0].closed.wait(5)  # the old one ends and drops its connection
        assert len(made["work"]) == 2 and made["work"][1].waiting.wait(5)

        watchers.update({}, connector)
        assert made["work"][1].closed.wait(5)
        assert requests == []  # no mail came: nothing was queued
    finally:
        watchers.stop()
