"""``syncd demo``: the real pipeline on bundled sample data, in a throw-away state directory."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from syncd.app import App
from syncd.config import load_config
from syncd.demo_data import DEMO_TIERS, SampleData, write_sample_data
from syncd.render import (
    SUGGESTION_HEADERS,
    TIE_HEADERS,
    due_rows,
    rule_summary,
    suggestion_row,
)

#: How many suggestions the demo shows after the due table.
DEMO_SUGGESTIONS = 5

Echo = Callable[[str], None]
Table = Callable[[str | None, Sequence[str], Sequence[Sequence[str]]], None]


def _ics_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def write_demo_calendar(path: Path, me: str, now: datetime) -> Path:
    """Write Sam's calendar: what counts as a meeting and what does not, one event each.

    - lunch with Theo in three days (upcoming: it holds Theo's reminder back);
    - climbing with Alex two days ago, in a booked room (counts for Alex, never the room);
    - coffee with Morgan that Sam declined, a dinner with Jordan that was cancelled;
    - a weekly team sync with twelve colleagues for half a year (too big to be a tie).
    """
    day = now.replace(hour=12, minute=0, second=0, microsecond=0)

    def event(uid: str, start: datetime, summary: str, *lines: str) -> list[str]:
        return ["BEGIN:VEVENT", f"UID:{uid}@demo.syncd", f"DTSTAMP:{_ics_time(now)}",
                f"DTSTART:{_ics_time(start)}", f"DTEND:{_ics_time(start + timedelta(hours=1))}",
                f"SUMMARY:{summary}", f"ORGANIZER:mailto:{me}", *lines, "END:VEVENT"]

    colleagues = [f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:colleague{n}@work.example"
                  for n in range(12)]
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//syncd//demo//EN",
        *event("lunch-theo", day + timedelta(days=3, minutes=30), "Lunch with Theo",
               "ATTENDEE;PARTSTAT=ACCEPTED:mailto:theo@rivera.example"),
        *event("climbing-alex", day - timedelta(days=2, hours=-6), "Climbing",
               "ATTENDEE;PARTSTAT=ACCEPTED:mailto:alex.chen@example.com",
               "ATTENDEE;CUTYPE=ROOM;PARTSTAT=ACCEPTED:mailto:wall-2@gym.example"),
        *event("coffee-morgan", day - timedelta(days=20), "Coffee",
               f"ATTENDEE;PARTSTAT=DECLINED:mailto:{me}",
               "ATTENDEE;PARTSTAT=ACCEPTED:mailto:morgan@example.net"),
        *event("dinner-jordan", day - timedelta(days=7, hours=-7), "Dinner", "STATUS:CANCELLED",
               "ATTENDEE;PARTSTAT=ACCEPTED:mailto:jordan.blake@example.com"),
        *event("team-sync", day - timedelta(days=182, hours=2), "Team sync",
               "RRULE:FREQ=WEEKLY;COUNT=26", *colleagues),
        "END:VCALENDAR",
    ]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


def demo_config_text(data: SampleData, state_dir: Path, calendar: Path | None = None) -> str:
    """Return the TOML config a user would write for the sample data."""
    def quoted(value: str) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = [
        "[general]", f"state_dir = {quoted(str(state_dir))}", 'timezone = "UTC"', "",
        "[me]", f"addresses = [{', '.join(quoted(a) for a in data.me)}]", "",
        "[sources.mail]", 'type = "maildir"', f"path = {quoted(str(data.maildir))}", "",
        "[sources.archive]", 'type = "mbox"', f"path = {quoted(str(data.mbox))}", "",
        *(["[sources.calendar]", 'type = "ics"', f"path = {quoted(str(calendar))}", ""]
          if calendar else []),
        "[tiers]", *(f"{name} = {quoted(value)}" for name, value in DEMO_TIERS.items()), "",
    ]
    for person in data.people:
        lines += ["[[people]]", f"name = {quoted(person.name)}",
                  f"addresses = [{', '.join(quoted(a) for a in person.addresses)}]"]
        if person.tier:
            lines.append(f"tier = {quoted(person.tier)}")
        if person.every:
            lines.append(f"every = {quoted(person.every)}")
        lines.append("")
    return "\n".join(lines)


def run_demo(keep: Path | None, *, echo: Echo, table: Table,
             now: datetime | None = None) -> list[str]:
    """Write sample data, sync it, print the due table and what each rule did.

    With ``keep`` everything stays in that directory (and ``syncd -c KEEP/config.toml ...``
    works on it afterwards); otherwise a temporary directory is removed at the end. Return the
    rule summary lines (for tests).
    """
    moment = now or datetime.now(UTC)
    root = keep or Path(tempfile.mkdtemp(prefix="syncd-demo-"))
    try:
        root.mkdir(parents=True, exist_ok=True)
        data = write_sample_data(root / "sample", now=moment)
        calendar = write_demo_calendar(root / "sample" / "calendar.ics", data.me[0], moment)
        config_file = root / "config.toml"
        config_file.write_text(demo_config_text(data, root / "state", calendar),
                               encoding="utf-8")
        app = App.open(load_config(config_file), clock=lambda: moment)
        try:
            if keep:
                echo(f"sample data: a Maildir, an mbox and a calendar in {root / 'sample'}")
            else:
                echo("sample data: a Maildir, an mbox and a calendar in a temporary directory, "
                     "removed when the demo ends (keep it with: syncd demo --keep DIR)")
            reports = app.sync()
            for report in reports:
                status = f"FAILED: {report.error}" if report.error else (
                    f"{report.records} items read, {report.counted} counted, "
                    f"{report.skipped} unreadable")
                echo(f"  {report.source}: {status}")
            ties = app.due()
            upcoming = app.store.next_meetings([tie.person.id for tie in ties], moment)
            echo("")
            table(f"due ({len(ties)} of {len(app.store.tracked_people())} tracked people)",
                  TIE_HEADERS, due_rows(ties, upcoming, moment, app.config.timezone))
            suggestions = app.suggest(DEMO_SUGGESTIONS)[:DEMO_SUGGESTIONS]
            if suggestions:
                echo("")
                echo("also worth keeping, found in the history itself (syncd suggest; "
                     "syncd track #ID to keep one):")
                table(None, SUGGESTION_HEADERS, [suggestion_row(item) for item in suggestions])
            echo("")
            echo("what the rules decided:")
            totals: dict[str, int] = {}
            for report in reports:
                for rule, count in report.rules.items():
                    totals[rule] = totals.get(rule, 0) + count
            lines = rule_summary(totals, sum(report.skipped for report in reports))
            for line in lines:
                echo(f"  {line}")
            if keep:
                echo("")
                echo(f"explore it: syncd -c {config_file} people --all")
            return lines
        finally:
            app.close()
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
