"""Calendars through the CLI: an .ics source synced, `due` and `show` know the next meeting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from calendar_helpers import calendar, vevent

NOW = datetime.now(UTC).replace(microsecond=0)


def syncd(config, *args):
    result = subprocess.run([sys.executable, "-m", "syncd", "-c", str(config), *args],
                            capture_output=True, text=True, timeout=120, env=os.environ.copy(),
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result.stdout


def test_a_quiet_tie_with_a_meeting_ahead_is_marked_not_alerted(tmp_path):
    lunch = NOW + timedelta(days=3)
    (tmp_path / "cal.ics").write_text(calendar(
        vevent("past", NOW - timedelta(days=60), organizer="me@example.org",
               attendees=("carol@example.com",)),
        vevent("lunch", lunch, organizer="me@example.org", attendees=("carol@example.com",)),
        vevent("allhands", NOW - timedelta(days=1), organizer="ceo@example.com",
               attendees=tuple(f"p{n}@example.com" for n in range(40)))))
    config = tmp_path / "config.toml"
    config.write_text(f"""
[general]
state_dir = "{tmp_path / 'state'}"
timezone = "Europe/Berlin"
[me]
addresses = ["me@example.org"]
[sources.cal]
type = "ics"
path = "{tmp_path / 'cal.ics'}"
[tiers]
close = "14d"
[[people]]
name = "Carol"
addresses = ["carol@example.com"]
tier = "close"
""")
    assert "cal: " in syncd(config, "sync")
    [carol] = json.loads(syncd(config, "due", "--json"))
    assert carol["name"] == "Carol" and carol["status"] == "quiet"
    assert carol["upcoming_meeting"] == lunch.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert carol["last_meeting"] == (NOW - timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "you will see Carol on" in syncd(config, "due")
    shown = syncd(config, "show", "Carol")
    assert "upcoming:" in shown and "an upcoming meeting with 1 person" in shown
    assert json.loads(syncd(config, "show", "Carol", "--json"))["upcoming"][0]["start"]
    assert json.loads(syncd(config, "people", "--all", "--json"))[0]["name"] == "Carol", (
        "the all-hands with 40 people counted for no one")
