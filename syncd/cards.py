"""Which tier an address-book card puts its person at: pure policy, no store.

A card's categories (vCard CATEGORIES, RFC 6350 §6.7.1; Google contact-group names and
"starred") map to tiers through ``[tiers.map]``; a category spelled like a tier name maps to
that tier as well. Matching ignores case. The first category that maps wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import MappingProxyType

from syncd.model import Birthday

#: ``syncd due`` lists birthdays this many days ahead (or ``[notify] birthdays``, if longer).
BIRTHDAY_WINDOW = timedelta(days=14)


@dataclass(frozen=True, slots=True)
class TierMap:
    """``[tiers]`` names plus ``[tiers.map]`` (category -> tier), matched case-insensitively."""

    tiers: frozenset[str] = frozenset()
    mapping: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def tier_for(self, categories: Iterable[str]) -> str | None:
        """Return the tier the first mapped category names, or None when none maps."""
        by_tier = {tier.lower(): tier for tier in self.tiers}
        by_category = {category.lower(): tier for category, tier in self.mapping.items()}
        for category in categories:
            key = category.strip().lower()
            if key in by_category:
                return by_category[key]
            if key in by_tier:
                return by_tier[key]
        return None


def next_birthday(birthday: Birthday, today: date) -> date:
    """Return the next date (today included) of ``birthday``; 29 February falls on
    28 February in other years."""
    for year in (today.year, today.year + 1):
        day = birthday.day
        if birthday.month == 2 and day == 29 and not _leap(year):
            day = 28
        moment = date(year, birthday.month, day)
        if moment >= today:
            return moment
    raise AssertionError("unreachable: a birthday comes within a year")


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def birthdays_within(birthdays: Mapping[int, Birthday], today: date,
                     window: timedelta) -> list[tuple[int, date, int | None]]:
    """Return (person id, date, age they turn or None) of every birthday from ``today`` to
    ``today + window`` included, soonest first."""
    last = today + window
    found = []
    for person_id, birthday in birthdays.items():
        on = next_birthday(birthday, today)
        if on <= last:
            age = on.year - birthday.year if birthday.year else None
            found.append((person_id, on, age))
    return sorted(found, key=lambda item: (item[1], item[0]))


def birthday_window(lead: timedelta | None) -> timedelta:
    """Return how far ahead ``syncd due`` lists birthdays: two weeks, or the notification
    lead when that is longer."""
    return max(BIRTHDAY_WINDOW, lead or timedelta())
