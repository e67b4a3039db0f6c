"""The wall clock jumps under the daemon (a resume after weeks asleep, a clock set a year
ahead and then corrected, a small step back): no alert storm, no missed alert, and nothing
shows a negative duration.

The daemon runs with an injected clock and a notifier that records what it was asked to send;
the alert checks are driven one by one, as the scheduler would after a jump.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from syncd.config import parse_config
from syncd.daemon import Daemon
from syncd.model import Role
from syncd.render import due_rows, tie_row
from syncd.testing import FakeConnector, message

T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)
#: Days since the last contact with each friend at T0; everyone is tracked every 30 days.
LAST_CONTACT_DAYS = (5, 15, 25, 40, 50, 60)
NEGATIVE = re.compile(r"(?<![\w-])-\s?\d")


class Recorder:
    """A notifier that keeps what it was asked to send, with the daemon's clock at the time."""

    name = "recorder"

    def __init__(self, clock) -> None:
        self.clock = clock
        self.sent: list[tuple[datetime, object]] = []

    def send(self, notification) -> None:
        self.sent.append((self.clock(), notification))

    def close(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def daemon(tmp_path):
    clock = Clock()
    friends = [f"friend{index}@example.com" for index in range(len(LAST_CONTACT_DAYS))]
    mail = [message(f"Sent/{index}", "me@example.org", [friend], role=Role.SENT,
                    date=T0 - timedelta(days=days))
            for index, (friend, days) in enumerate(zip(friends, LAST_CONTACT_DAYS, strict=True))]
    config = parse_config({
        "general": {"state_dir": str(tmp_path / "state"), "timezone": "UTC"},
        "me": {"addresses": ["me@example.org"]},
        "sources": {"mail": {"type": "maildir", "path": str(tmp_path)}},
        "people": [{"name": f"Friend {index}", "addresses": [friend], "every": "30d"}
                   for index, friend in enumerate(friends)],
        "notify": {"backend": "log", "max_per_day": 3, "renotify_after": "7d",
                   "digest_over": 3}})
    recorder = Recorder(clock)
    daemon = Daemon(lambda: config, clock=clock, notifier=recorder, environ={},
                    connector_factory=lambda source: FakeConnector(mail))
    daemon.start()
    daemon.process_pending()  # the first sync and alert check
    yield daemon, clock, recorder
    daemon.shutdown()


def named(recorder: Recorder, since: int = 0) -> list[str]:
    """Names in the notifications sent since index ``since``."""
    return sorted(alert.name for _, notification in recorder.sent[since:]
                  for alert in notification.alerts)


def shown(daemon: Daemon) -> list[str]:
    """Every text a user can see now: notifications sent, `syncd due` and `people` rows."""
    now = daemon.clock()
    config = daemon.app.config
    rows = due_rows(daemon.app.due(), {}, now, config.timezone)
    rows += [tie_row(tie, now) for tie in daemon.app.people(everyone=True)]
    return [" | ".join(row) for row in rows]


def check_at(daemon: Daemon, clock: Clock, moment: datetime) -> int:
    clock.now = moment
    return daemon.check_alerts()


def assert_no_negative_durations(daemon: Daemon, recorder: Recorder) -> None:
    texts = shown(daemon) + [notification.text for _, notification in recorder.sent]
    negative = [text for text in texts if NEGATIVE.search(text)]
    assert negative == []
    assert all(alert.days_since >= 0 for _, note in recorder.sent for alert in note.alerts)


def test_a_resume_after_weeks_asleep_sends_one_digest_not_a_storm(daemon):
    daemon, clock, recorder = daemon
    assert named(recorder) == ["Friend 3", "Friend 4", "Friend 5"]
    for minutes in range(10, 60, 10):  # the checks after it: nothing new is quiet
        assert check_at(daemon, clock, T0 + timedelta(minutes=minutes)) == 0
    before = len(recorder.sent)
    # Asleep for 40 days: every tie is now quiet at once; one digest names them all.
    assert check_at(daemon, clock, T0 + timedelta(days=40)) == 1
    assert [notification.kind for _, notification in recorder.sent[before:]] == ["digest"]
    assert len(named(recorder, before)) == 6
    for hours in range(1, 48, 6):  # and nothing again within renotify_after
        assert check_at(daemon, clock, T0 + timedelta(days=40, hours=hours)) == 0
    assert_no_negative_durations(daemon, recorder)


def test_a_small_step_back_repeats_nothing_and_shows_no_negative_duration(daemon):
    daemon, clock, recorder = daemon
    before = len(recorder.sent)
    for moment in (T0 - timedelta(minutes=30), T0 - timedelta(days=2), T0 - timedelta(days=6)):
        assert check_at(daemon, clock, moment) == 0
        assert_no_negative_durations(daemon, recorder)
    assert len(recorder.sent) == before


def test_a_clock_set_a_year_ahead_then_corrected_neither_storms_nor_silences_alerts(daemon):
    daemon, clock, recorder = daemon
    assert named(recorder) == ["Friend 3", "Friend 4", "Friend 5"]
    # The clock is wrongly set a year ahead: everyone is quiet, one digest.
    before = len(recorder.sent)
    assert check_at(daemon, clock, T0 + timedelta(days=365)) == 1
    assert len(named(recorder, before)) == 6
    # Corrected an hour later: those alerts went out a moment ago, nothing is repeated ...
    for minutes in (60, 70, 80):
        assert check_at(daemon, clock, T0 + timedelta(minutes=minutes)) == 0
        assert_no_negative_durations(daemon, recorder)
    # ... and once renotify_after has really passed, the ties still quiet alert again: the
    # year-ahead stamps must not silence them (nor use up every day's max_per_day) for a year.
    before = len(recorder.sent)
    assert check_at(daemon, clock, T0 + timedelta(days=8)) >= 1
    # (Friend 2 went quiet meanwhile: 33 days since.)
    assert named(recorder, before) == ["Friend 2", "Friend 3", "Friend 4", "Friend 5"]
    assert check_at(daemon, clock, T0 + timedelta(days=8, hours=1)) == 0
    assert_no_negative_durations(daemon, recorder)
