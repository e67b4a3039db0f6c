"""Durations as users write them: ``90m``, ``36h``, ``30d``, ``2w``, ``6mo``, ``1y``."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS: dict[str, timedelta] = {
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
    # Months and years are calendar-free on purpose: a cadence of "6mo" means ~183 days.
    "mo": timedelta(days=30.4375),
    "y": timedelta(days=365.25),
}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(mo|[smhdwy])", re.IGNORECASE)


def parse_duration(text: str) -> timedelta:
    """Return the duration written in ``text`` (e.g. ``"2w"`` or ``"1d12h"``).

    Raise ValueError with a sentence naming the accepted forms when ``text`` is not one.
    """
    cleaned = text.strip().lower().replace(" ", "")
    position = 0
    total = timedelta()
    for match in _PART.finditer(cleaned):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2).lower()]
        position = match.end()
    if not cleaned or position != len(cleaned) or total <= timedelta():
        raise ValueError(
            f"{text!r} is not a duration; write a number and a unit, "
            "e.g. 90m, 36h, 30d, 2w, 6mo, 1y"
        )
    return total


def format_duration(duration: timedelta) -> str:
    """Return a short human form of ``duration`` (``"3w"``, ``"45d"``, ``"6h"``)."""
    seconds = duration.total_seconds()
    days = seconds / 86400
    if days >= 365 and abs(days / 365.25 - round(days / 365.25)) < 0.02:
        return f"{round(days / 365.25)}y"
    if days >= 7 and days % 7 == 0:
        return f"{int(days // 7)}w"
    if days >= 1:
        return f"{round(days)}d"
    if seconds >= 3600:
        return f"{round(seconds / 3600)}h"
    return f"{max(1, round(seconds / 60))}m"
