"""``syncd export``: people, addresses, tiers, cadences, dates, birthdays and the user's
choices, as JSON, CSV or vCard 4.0. Formatting only (the CLI writes the text); nothing here
reads the store. A birthday unknown to every address book is null (JSON), an empty field (CSV)
or no BDAY (vCard).

The choices (tracked by whom, tier, own cadence, snooze, untracked for good, ignore patterns
added with ``syncd ignore``) are there so a database rebuilt from the mail can be given them
back. The formats are described in the README ("Export").
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from syncd.durations import format_duration
from syncd.model import Birthday
from syncd.render import iso, tie_json
from syncd.store import Choices
from syncd.ties import Tie

FORMATS = ("json", "csv", "vcard")
#: The version of the JSON layout; a reader refuses versions it does not know.
EXPORT_VERSION = 1

CSV_COLUMNS = ("id", "name", "addresses", "tracked", "tracked_by", "tier", "every_days",
               "cadence_days", "cadence_source", "first_contact", "last_contact",
               "last_outgoing", "last_incoming", "last_meeting", "last_manual", "interactions",
               "due_at", "snoozed_until", "never_auto_track", "ignored", "track_reason",
               "birthday")

Exported = Sequence[tuple[Tie, Choices]]


def person_json(tie: Tie, choices: Choices) -> dict[str, Any]:
    """Return one person: the fields of ``syncd people --json`` plus every choice."""
    person = tie.person
    return {**tie_json(tie), "first_contact": iso(person.first_contact),
            "every_days": person.every_days, "tracked_by": choices.tracked_by,
            "never_auto_track": choices.never_auto_track, "ignored": choices.ignored,
            "track_reason": choices.track_reason, "birthday": birthday_text(choices.birthday)}


def birthday_text(birthday: Birthday | None) -> str | None:
    """Return a birthday as ISO 8601 ``YYYY-MM-DD``, or ``--MM-DD`` when the year is unknown
    (the reduced form vCard also allows, RFC 6350 §4.3.1); None stays None."""
    if birthday is None:
        return None
    month_day = f"{birthday.month:02d}-{birthday.day:02d}"
    return f"--{month_day}" if birthday.year is None else f"{birthday.year:04d}-{month_day}"


def to_json(people: Exported, *, tiers: Mapping[str, timedelta],
            ignore_patterns: Sequence[str], now: datetime) -> str:
    """Return the whole export as one JSON document."""
    return json.dumps({
        "syncd_export": EXPORT_VERSION,
        "exported_at": iso(now),
        "tiers": {name: format_duration(cadence) for name, cadence in tiers.items()},
        "ignore_patterns": list(ignore_patterns),
        "people": [person_json(tie, choices) for tie, choices in people],
    }, indent=2, ensure_ascii=False) + "\n"


def to_csv(people: Exported) -> str:
    """Return one CSV row per person (addresses joined by spaces; no ignore patterns)."""
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\r\n")  # RFC 4180 §2: CRLF
    writer.writerow(CSV_COLUMNS)
    for tie, choices in people:
        row = person_json(tie, choices)
        row["addresses"] = " ".join(row["addresses"])
        writer.writerow(["" if row[column] is None else
                         str(row[column]).lower() if isinstance(row[column], bool) else
                         row[column] for column in CSV_COLUMNS])
    return output.getvalue()


def to_vcard(people: Exported) -> str:
    """Return one vCard 4.0 (RFC 6350) per person with an address.

    CATEGORIES holds the tier, so ``syncd import vcard`` tracks them at it again; BDAY the
    birthday when an address book gave one (none otherwise); the other choices and dates are
    X- properties (§6.10), ignored by other programs.
    """
    cards = []
    for tie, choices in people:
        person = tie.person
        if not person.addresses:
            continue
        lines = ["BEGIN:VCARD", "VERSION:4.0", f"FN:{_text(person.name or person.shown[0])}"]
        lines += [f"EMAIL:{_text(address)}" for address in person.shown]
        if choices.birthday is not None:
            lines.append(f"BDAY:{_bday(choices.birthday)}")
        if person.tier:
            lines.append(f"CATEGORIES:{_text(person.tier)}")
        extras = {"X-SYNCD-TRACKED-BY": choices.tracked_by if person.tracked else None,
                  "X-SYNCD-EVERY": format_duration(timedelta(days=person.every_days))
                  if person.every_days else None,
                  "X-SYNCD-SNOOZED-UNTIL": iso(person.snoozed_until),
                  "X-SYNCD-NEVER-AUTO-TRACK": "true" if choices.never_auto_track else None,
                  "X-SYNCD-LAST-CONTACT": iso(person.last_contact),
                  "X-SYNCD-CADENCE": (f"{format_duration(tie.cadence)} "
                                      f"({tie.cadence_source})" if tie.cadence else None)}
        lines += [f"{name}:{_text(value)}" for name, value in extras.items() if value]
        lines.append("END:VCARD")
        cards.append("".join(_fold(line) + "\r\n" for line in lines))
    return "".join(cards)


def _bday(birthday: Birthday) -> str:
    # RFC 6350 §6.2.5 (BDAY) and §4.3.1: a date is YYYYMMDD, and --MMDD without a year.
    month_day = f"{birthday.month:02d}{birthday.day:02d}"
    return f"--{month_day}" if birthday.year is None else f"{birthday.year:04d}{month_day}"


def _text(value: str) -> str:
    # RFC 6350 §3.4: backslash, comma, semicolon and newline are escaped in TEXT values.
    return (value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
            .replace("\n", "\\n"))


def _fold(line: str) -> str:
    # RFC 6350 §3.2: lines SHOULD be at most 75 octets; continue with CRLF + one space, never
    # splitting a UTF-8 character.
    pieces = []
    current = ""
    limit = 75
    for character in line:
        if len((current + character).encode("utf-8")) > limit:
            pieces.append(current)
            current = ""
            limit = 74  # the leading space counts
        current += character
    pieces.append(current)
    return "\r\n ".join(pieces)
