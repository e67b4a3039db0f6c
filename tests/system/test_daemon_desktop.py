"""The daemon end to end with a real notification server (dunst on a private bus).

A tracked person past due gets exactly one notification; checks and restarts repeat nothing;
the notification's buttons (clicked through dunst, which emits ActionInvoked on the bus)
snooze the person or log a contact, and both are recorded in the store.
"""

from __future__ import annotations

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


def setup(tmp_path: Path, people: dict[str, str]) -> Path:
    """Write a Maildir where I last wrote each person 47 days ago, and a config tracking them."""
    maildir = tmp_path / "Maildir"
    entries = []
    for index, (name, email) in enumerate(people.items()):
        write_mail(maildir, index, email, NOW - timedelta(days=47))
        entries.append(f'[[people]]\nname = "{name}"\naddresses = ["{email}"]\nevery = "3w"\n')
    config = tmp_path / "config.toml"
    config.write_text(
        f'[general]\nstate_dir = "{tmp_path / "state"}"\ntimezone = "UTC"\n'
        f'[me]\naddresses = ["me@example.org"]\n'
        f'[sources.mail]\ntype = "maildir"\npath = "{maildir}"\n'
        f'[notify]\nbackend = "desktop"\n' + "".join(entries))
    return config


def started(config: Path, clock: Clock) -> Daemon:
    daemon = Daemon(lambda: load_config(config), clock=clock)
    daemon.start()
    daemon.process_pending()  # the first sync of every source, then the alert check
    return daemon


def test_a_quiet_tie_notifies_once_and_neither_a_second_check_nor_a_restart_repeats_it(
        tmp_path, desktop):  # noqa: F811
    config = setup(tmp_path, {"Alice Example": "alice@example.com"})
    clock = Clock(NOW)
    daemon = started(config, clock)
    try:
        arrived = desktop.wait_arrived(1)
        assert arrived == [("Alice Example", "47 days since you last talked "
                                             "(you wanted to talk every 3 weeks)")]
        assert desktop.count() == 1
        assert daemon.check_alerts() == 0
    finally:
        daemon.shutdown()
    restarted = started(config, clock)
    try:
        assert restarted.check_alerts() == 0
    finally:
        restarted.shutdown()
    assert desktop.arrived() == arrived and desktop.count() == 1


def test_snooze_on_the_notification_silences_the_person_until_the_snooze_ends(
        tmp_path, desktop):  # noqa: F811
    config = setup(tmp_path, {"Alice Example": "alice@example.com"})
    clock = Clock(NOW)
    daemon = started(config, clock)
    try:
        desktop.wait_arrived(1)
        desktop.invoke("Snooze 1 week")
        assert daemon.process_pending(wait=10) == 1
        alice = daemon.app.find_person("alice@example.com")
        assert alice.snoozed_until == NOW + timedelta(weeks=1)
        assert [kind for kind, _, _ in daemon.store.alert_actions(alice.id)] == [
            "alert", "snooze"]
        clock.now = NOW + timedelta(days=6)
        assert daemon.check_alerts() == 0
        clock.now = NOW + timedelta(days=7, minutes=1)
        assert daemon.check_alerts() == 1
    finally:
        daemon.shutdown()
    arrived = desktop.wait_arrived(2)
    assert [summary for summary, _ in arrived] == ["Alice Example", "Alice Example"]
    assert "54 days since" in arrived[1][1]


def test_done_on_the_notification_logs_a_contact_and_the_tie_is_no_longer_quiet(
        tmp_path, desktop):  # noqa: F811
    config = setup(tmp_path, {"Alice Example": "alice@example.com", "Bob": "bob@example.com"})
    clock = Clock(NOW)
    daemon = started(config, clock)
    try:
        desktop.wait_arrived(2)
        newest = desktop.arrived()[-1][0]
        desktop.invoke("Done")
        assert daemon.process_pending(wait=10) == 1
        person = daemon.app.find_person(newest)
        assert person.last_manual == NOW and person.last_contact == NOW
        assert daemon.store.timeline(person.id)[0].note == (
            "marked done from the notification")
        assert [kind for kind, _, _ in daemon.store.alert_actions(person.id)] == [
            "alert", "done"]
        clock.now = NOW + timedelta(days=8)  # renotify_after has passed: only the other alerts
        assert daemon.check_alerts() == 1
    finally:
        daemon.shutdown()
    summaries = [summary for summary, _ in desktop.wait_arrived(3)]
    assert summaries.count(newest) == 1 and len(summaries) == 3


def test_without_a_notification_service_the_desktop_backend_falls_back_to_the_log(
        tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus'}")
    config = setup(tmp_path, {"Alice Example": "alice@example.com"})
    caplog.set_level("INFO")
    daemon = started(config, Clock(NOW))
    try:
        assert daemon.check_alerts() == 0  # the first check sent it, to the log
    finally:
        daemon.shutdown()
    warnings = [r.message for r in caplog.records if "no desktop notification service" in
                r.message]
    assert len(warnings) == 1
    assert any("alert: Alice Example: 47 days since you last talked" in r.message
               for r in caplog.records)


def test_notify_test_shows_one_notification_on_the_desktop(tmp_path, desktop):  # noqa: F811
    import subprocess
    import sys

    config = tmp_path / "config.toml"
    config.write_text('[notify]\nbackend = "desktop"\n')
    result = subprocess.run([sys.executable, "-m", "syncd", "-c", str(config), "notify", "test"],
                            capture_output=True, text=True, timeout=60, env=desktop.env)
    assert result.returncode == 0, result.stderr
    assert "via desktop" in result.stdout
    assert desktop.wait_arrived(1)[0][0] == "syncd"


def test_a_birthday_notifies_once_its_lead_before_and_a_restart_never_repeats_it(
        tmp_path, desktop):  # noqa: F811
    from syncd.cards import TierMap
    from syncd.store import Store
    from syncd.vcard import import_cards

    config = setup(tmp_path, {})
    config.write_text(config.read_text().replace(
        '[notify]\nbackend = "desktop"\n',
        '[notify]\nbackend = "desktop"\nbirthdays = "3d"\n[tiers]\nclose = "14d"\n'))
    birthday = (NOW + timedelta(days=5)).date()
    write_mail(tmp_path / "Maildir", 1, "ann@example.com", NOW - timedelta(days=2))
    store = Store.open(tmp_path / "state")
    import_cards(store, (f"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:ann\r\nFN:Ann Lee\r\n"
                         f"EMAIL:ann@example.com\r\nCATEGORIES:close\r\n"
                         f"BDAY:--{birthday:%m%d}\r\nEND:VCARD\r\n").encode(),
                 TierMap(frozenset({"close"})))
    store.close()
    clock = Clock(NOW)
    daemon = started(config, clock)
    try:
        assert desktop.count() == 0  # five days ahead: not yet
        clock.now = NOW + timedelta(days=2)
        assert daemon.check_alerts() == 1
        [(title, body)] = desktop.wait_arrived(1)
        assert title == "Ann Lee's birthday in 3 days"
        assert body.startswith(f"{birthday:%A %-d %B}; you last talked 4 days ago")
        assert daemon.check_alerts() == 0
    finally:
        daemon.shutdown()
    clock.now = NOW + timedelta(days=4)
    restarted = started(config, clock)
    try:
        assert restarted.check_alerts() == 0
    finally:
        restarted.shutdown()
    assert desktop.count() == 1
