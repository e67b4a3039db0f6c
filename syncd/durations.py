"""Durations as users write them: ``90m``, ``36h``, ``30d``, ``2w``, ``6mo``, ``1y``, or spelled
out: ``3 weeks``, ``1 year``, ``15 min``."""

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
#: Spelled-out units people write ("3weeks", "3 years", "15 min") and the short unit each means.
_WORDS: dict[str, str] = {
    **dict.fromkeys(("seconds", "second", "secs", "sec"), "s"),
    **dict.fromkeys(("minutes", "minute", "mins", "min"), "m"),
    **dict.fromkeys(("hours", "hour", "hrs", "hr"), "h"),
    **dict.fromkeys(("days", "day"), "d"),
    **dict.fromkeys(("weeks", "week", "wks", "wk"), "w"),
    **dict.fromkeys(("months", "month", "mos", "mon"), "mo"),
    **dict.fromkeys(("years", "year", "yrs", "yr"), "y"),
}
# Longest words first, so "months" is not read as "mo" followed by "nths".
_UNIT = "|".join(sorted([*_WORDS, "mo", "s", "m", "h", "d", "w", "y"], key=len, reverse=True))
_PART = re.compile(rf"(\d+(?:\.\d+)?)\s*({_UNIT})", re.IGNORECASE)


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
        unit = match.group(2).lower()
        total += float(match.group(1)) * _UNITS[_WORDS.get(unit, unit)]
        position = match.end()
    if not cleaned or position != len(cleaned) or total <= timedelta():
        raise ValueError(
            f"{text!r} is not a duration; write a number and a unit, "
            "e.g. 90m, 36h, 30d, 2w, 6mo, 1y or 3 weeks"
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
