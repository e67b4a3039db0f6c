"""Calendar benchmark: expand + classify a 10,000-event calendar, and a no-change CalDAV poll.

Run: python bench/calendar_bench.py
Prints the time to read, expand and classify 10,000 events, 500 of them recurring series, over
the default window (3 years back, 30 days ahead), next to a baseline measured in the same
process: a plain icalendar parse of the same file (the fast path does not use it, so a ratio
below 1 means "faster than parsing alone"). Target: <= 2 s. Also prints the reference path
(icalendar + recurring-ical-events for everything) for comparison.
Then starts a Radicale on 127.0.0.1 with 3 calendars and counts the requests of a poll where
nothing changed. Target: one per calendar.
"""

from __future__ import annotations

import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.calendars._calendar import _library_occurrences, occurrences, window
from syncd.rules import Rules, classify_meeting

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ME = "me@example.org"


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def big_calendar(events: int = 10_000, series: int = 500, seed: int = 7) -> str:
    rng = random.Random(seed)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//syncd bench//EN"]
    rules = ["FREQ=WEEKLY", "FREQ=WEEKLY;INTERVAL=2", "FREQ=MONTHLY", "FREQ=DAILY;COUNT=200",
             "FREQ=WEEKLY;BYDAY=MO,TH"]
    for index in range(events):
        start = NOW - timedelta(days=rng.uniform(0, 3 * 365), minutes=rng.randrange(0, 600))
        start = start.replace(second=0, microsecond=0)
        people = rng.choice([1, 1, 2, 3, 5, 15])
        lines += ["BEGIN:VEVENT", f"UID:event-{index}@bench", "DTSTAMP:20260101T000000Z",
                  f"DTSTART:{stamp(start)}", f"DTEND:{stamp(start + timedelta(hours=1))}",
                  "SUMMARY:bench", f"ORGANIZER:mailto:{ME}",
                  f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{ME}"]
        lines += [f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:p{rng.randrange(3000)}@example.com"
                  for _ in range(people)]
        if index < series:
            lines.append(f"RRULE:{rules[index % len(rules)]}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


def bench_expand() -> None:
    import icalendar

    data = big_calendar().encode()
    started = time.perf_counter()
    icalendar.Calendar.from_ical(data)
    baseline = time.perf_counter() - started

    start, end = window(NOW, timedelta(days=3 * 365), timedelta(days=30))
    started = time.perf_counter()
    parsed = occurrences(data, "bench", ZoneInfo("Europe/Berlin"), start, end)
    rules = Rules()
    decisions = [classify_meeting(m, ME.__eq__, rules, NOW) for m in parsed.meetings]
    elapsed = time.perf_counter() - started
    counted = sum(d.counts for d in decisions)
    print(f"expand+classify 10,000 events (500 series): {elapsed:.2f} s -> "
          f"{len(parsed.meetings)} occurrences, {counted} counted (target <= 2 s)")
    print(f"baseline icalendar parse of the same file: {baseline:.2f} s; "
          f"ratio {elapsed / baseline:.2f}x")
    started = time.perf_counter()
    reference = _library_occurrences(data, "bench", ZoneInfo("Europe/Berlin"), start, end)
    elapsed_reference = time.perf_counter() - started
    same = sorted(map(repr, reference.meetings)) == sorted(map(repr, parsed.meetings))
    print(f"reference path (icalendar + recurring-ical-events), expand only: "
          f"{elapsed_reference:.2f} s; same occurrences: {same}")


def bench_poll() -> None:
    try:
        import radicale  # noqa: F401
        import requests
    except ImportError:
        print("radicale not installed: poll benchmark skipped")
        return
    from connectors.calendars.caldav import CaldavConnector

    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        (root / "users").write_text("bench:secret\n")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        (root / "config").write_text(
            f"[server]\nhosts = 127.0.0.1:{port}\n[auth]\ntype = htpasswd\n"
            f"htpasswd_filename = {root / 'users'}\nhtpasswd_encryption = plain\n"
            f"[storage]\nfilesystem_folder = {root / 'data'}\n")
        process = subprocess.Popen([sys.executable, "-m", "radicale", "--config",
                                    str(root / "config")], stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    requests.get(base, timeout=1)
                    break
                except requests.RequestException:
                    time.sleep(0.1)
            auth = ("bench", "secret")
            requests.request("PROPFIND", f"{base}/bench/", auth=auth, headers={"Depth": "0"})
            for number in range(3):
                url = f"{base}/bench/cal{number}/"
                requests.request("MKCALENDAR", url, auth=auth)
                for event in range(50):
                    start = NOW - timedelta(days=event)
                    body = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\n"
                            f"UID:{number}-{event}\r\nDTSTAMP:20260101T000000Z\r\n"
                            f"DTSTART:{stamp(start)}\r\nORGANIZER:mailto:{ME}\r\n"
                            "ATTENDEE:mailto:bob@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
                    requests.put(f"{url}{event}.ics", data=body, auth=auth)
            connector = CaldavConnector("bench", {"url": base + "/", "username": "bench",
                                                  "password_command": "echo secret"},
                                        ZoneInfo("UTC"), clock=lambda: NOW)
            pages = list(connector.pull(None, set()))
            cursor = pages[-1].cursor
            first = connector.requests_made
            started = time.perf_counter()
            list(connector.pull(cursor, set()))
            elapsed = time.perf_counter() - started
            poll = connector.requests_made - first
            print(f"CalDAV first sync of 3 calendars x 50 events: {first} requests")
            print(f"CalDAV no-change poll: {poll} requests for 3 calendars "
                  f"({poll / 3:.1f} per calendar, target 1) in {elapsed * 1000:.0f} ms")
        finally:
            process.terminate()
            process.wait(10)


if __name__ == "__main__":
    bench_expand()
    bench_poll()
