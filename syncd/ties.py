"""Ties: last contact, cadence and due dates (DESIGN §4). Pure: data and an injected clock in.

Cadence comes from, strongest first: the person's own ``every``, their tier, the rhythm
inferred from their own history (only for two-way ties with enough history), else the
``default`` tier (90 days when no such tier is configured).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from syncd.model import PersonRow

DEFAULT_CADENCE = timedelta(days=90)
#: Rhythm inference needs this many distinct contact days (so at least this many - 1 gaps).
MIN_CONTACT_DAYS = 6
RHYTHM_PERCENTILE = 0.8
RHYTHM_BOUNDS_DAYS = (7.0, 365.0)


class Status(StrEnum):
    """Where a tie stands today."""

    QUIET = "quiet"          # past due
    DUE_SOON = "due_soon"    # within the warning band before the due date
    OK = "ok"
    SNOOZED = "snoozed"
    NEVER = "never"          # tracked, but no contact on record


@dataclass(frozen=True, slots=True)
class Tie:
    """A person's standing: cadence, due date, how overdue."""

    person: PersonRow
    cadence: timedelta | None
    cadence_source: str | None
    due_at: datetime | None
    overdue: timedelta | None
    status: Status

    @property
    def two_way(self) -> bool:
        """True when I ever wrote to or met this person (reciprocity, DESIGN §3)."""
        return is_two_way(self.person)


def is_two_way(person: PersonRow) -> bool:
    """Return True when I wrote to, met, or logged a contact with ``person``."""
    return (person.last_outgoing is not None or person.last_meeting is not None
            or person.last_manual is not None)


def exchanged_both_ways(person: PersonRow) -> bool:
    """Return True when contact went both ways: we met, a contact was logged (a call, a
    visit), or I wrote to them *and* they wrote to me. What ``--json`` calls ``two_way``."""
    return (person.last_meeting is not None or person.last_manual is not None
            or (person.last_outgoing is not None and person.last_incoming is not None))


def infer_rhythm(contact_times: Sequence[int]) -> float | None:
    """Return a person's usual gap in days, or None without enough history.

    Takes contact times (epoch seconds). Gaps are measured between distinct contact days; the
    rhythm is their 80th percentile (most contacts came sooner than that), clamped to 1w..1y.
    """
    if len(contact_times) < MIN_CONTACT_DAYS:
        return None  # fewer contacts than the days needed (most people after a first sync)
    days = sorted({moment // 86400 for moment in contact_times})
    if len(days) < MIN_CONTACT_DAYS:
        return None
    gaps = sorted(later - earlier for earlier, later in itertools.pairwise(days))
    index = min(len(gaps) - 1, int(RHYTHM_PERCENTILE * len(gaps)))
    low, high = RHYTHM_BOUNDS_DAYS
    return float(min(high, max(low, gaps[index])))


def warning_band(cadence: timedelta) -> timedelta:
    """Return how long before the due date a tie counts as due soon: 15%, 1 to 14 days."""
    return min(timedelta(days=14), max(timedelta(days=1), cadence * 0.15))


def cadence_for(person: PersonRow, tiers: Mapping[str, timedelta]) -> tuple[timedelta, str]:
    """Return (cadence, where it came from) for a tracked person."""
    if person.every_days:
        return timedelta(days=person.every_days), "person"
    if person.tier and person.tier in tiers:
        return tiers[person.tier], "tier"
    if person.inferred_days and is_two_way(person):
        return timedelta(days=person.inferred_days), "inferred"
    return tiers.get("default", DEFAULT_CADENCE), "default"


def evaluate(person: PersonRow, tiers: Mapping[str, timedelta], now: datetime) -> Tie:
    """Return the tie with ``person`` as of ``now``.

    Untracked people get a cadence only from their inferred rhythm (for display), never a
    status other than OK.
    """
    if not person.tracked:
        cadence = (timedelta(days=person.inferred_days)
                   if person.inferred_days and is_two_way(person) else None)
        due = person.last_contact + cadence if cadence and person.last_contact else None
        return Tie(person, cadence, "inferred" if cadence else None, due, None, Status.OK)
    cadence, source = cadence_for(person, tiers)
    if person.last_contact is None:
        status = Status.SNOOZED if _snoozed(person, now) else Status.NEVER
        return Tie(person, cadence, source, None, None, status)
    due_at = person.last_contact + cadence
    overdue = now - due_at
    if _snoozed(person, now):
        status = Status.SNOOZED
    elif overdue > timedelta():
        status = Status.QUIET
    elif -overdue <= warning_band(cadence):
        status = Status.DUE_SOON
    else:
        status = Status.OK
    return Tie(person, cadence, source, due_at, overdue, status)


def _snoozed(person: PersonRow, now: datetime) -> bool:
    return person.snoozed_until is not None and person.snoozed_until > now


def due_ties(people: Sequence[PersonRow], tiers: Mapping[str, timedelta],
             now: datetime) -> list[Tie]:
    """Return tracked ties that are quiet, due soon or never contacted; most overdue first."""
    wanted = (Status.QUIET, Status.DUE_SOON, Status.NEVER)
    ties = [tie for tie in (evaluate(p, tiers, now) for p in people if p.tracked)
            if tie.status in wanted]
    ties.sort(key=lambda tie: (tie.status is Status.NEVER,
                               -(tie.overdue or timedelta()).total_seconds(), tie.person.name))
    return ties
