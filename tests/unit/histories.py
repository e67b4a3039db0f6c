"""Synthetic contact histories, written as the strength rule reads them (syncd/strength.py).

A history is a list of :class:`Contact` (when, which way, how many people besides me);
:func:`history_of` sums it the way the store does, and :func:`messages_of` turns it into mail
for the real engine, so the same history can be scored pure or end to end.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from syncd.model import Direction, History, Message, Role
from syncd.strength import MONTH_DAYS
from syncd.testing import message
from syncd.ties import infer_rhythm

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
ME = "me@example.org"


@dataclass(frozen=True, slots=True)
class Contact:
    at: datetime
    direction: Direction
    participants: int = 1


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def every(step_days: float, *, first_days_ago: float, last_days_ago: float = 0,
          participants: int = 1, answered: bool = True,
          quiet_between: tuple[float, float] | None = None) -> list[Contact]:
    """A contact every ``step_days`` from ``first_days_ago`` to ``last_days_ago``: I write, they
    answer the next time (``answered``), else they write and I never do; nothing in the
    ``quiet_between`` (older, newer) days-ago window (a long holiday)."""
    contacts = []
    index = 0
    age = first_days_ago
    while age >= last_days_ago:
        if not (quiet_between and quiet_between[1] < age < quiet_between[0]):
            mine = answered and index % 2 == 0
            contacts.append(Contact(days_ago(age), Direction.OUTGOING if mine
                                    else Direction.INCOMING, participants))
            index += 1
        age -= step_days
    return contacts


def bursts(starts_days_ago: Sequence[float], *, length_days: int,
           participants: int) -> list[Contact]:
    """A project: every day of each burst both ways, in threads of ``participants``."""
    return [Contact(days_ago(start - day) + timedelta(hours=hour), direction, participants)
            for start in starts_days_ago for day in range(length_days)
            for hour, direction in ((0, Direction.OUTGOING), (2, Direction.INCOMING))]


WEEKLY_FRIEND = every(7, first_days_ago=730, last_days_ago=3)
MONTHLY_FRIEND_WITH_A_HOLIDAY = every(30, first_days_ago=730, last_days_ago=10,
                                      quiet_between=(330, 200))
BURSTY_COLLEAGUE = bursts((560, 300, 50), length_days=10, participants=5)
DAILY_NEWSLETTER = every(1, first_days_ago=365, answered=False)
ONE_OFF_CONVERSATION = [Contact(days_ago(100) + timedelta(hours=hour), direction)
                        for hour, direction in ((0, Direction.INCOMING),
                                                (1, Direction.OUTGOING),
                                                (3, Direction.INCOMING))]
DORMANT_STRONG_TIE = every(7, first_days_ago=1500, last_days_ago=330)


def history_of(contacts: Iterable[Contact]) -> History:
    """Sum ``contacts`` as the store does, with the rhythm the engine would infer."""
    contacts = list(contacts)
    times = sorted(int(contact.at.timestamp()) for contact in contacts)
    month = round(MONTH_DAYS * 86400)
    return History(
        contact_days=len({time // 86400 for time in times}),
        two_way_days=len({int(c.at.timestamp()) // 86400 for c in contacts
                          if c.direction is not Direction.INCOMING}),
        active_months=len({time // month for time in times}),
        outgoing=sum(c.direction is Direction.OUTGOING for c in contacts),
        incoming=sum(c.direction is Direction.INCOMING for c in contacts),
        meetings=sum(c.direction is Direction.MEETING for c in contacts),
        personal=sum(1 / c.participants for c in contacts),
        interactions=len(contacts),
        first_contact=times[0] if times else None,
        last_contact=times[-1] if times else None,
        inferred_days=infer_rhythm(times))


def messages_of(person: str, contacts: Iterable[Contact], prefix: str = "") -> list[Message]:
    """Return the mail that makes ``contacts`` with ``person``: co-recipients fill the rest."""
    mail = []
    for index, contact in enumerate(contacts):
        others = [f"{prefix}colleague{n}@work.example" for n in range(contact.participants - 1)]
        source_id = f"{prefix}{person}/{index}"
        if contact.direction is Direction.OUTGOING:
            mail.append(message(source_id, ME, [person, *others], date=contact.at,
                                role=Role.SENT))
        else:
            mail.append(message(source_id, person, [ME], cc=others, date=contact.at))
    return mail
