"""How strong a tie is, from the person's own history alone. Pure: data and a clock in.

A score from 0 to 100 adds up points for (weights in :data:`WEIGHTS`):

- frequency: distinct contact days, on a log scale (100 days is full marks);
- regularity: the share of the tie's months that had a contact (a weekly friend fills every
  month; a colleague seen in two bursts fills few);
- reciprocity: both directions beat one, balanced beats lopsided, mail I only received is
  never a tie (:func:`lasting_score` returns None for it);
- how personal: the average of 1 / participants (1:1 beats a 15-person thread);
- meetings: counted meetings, six are full marks;
- span: from first to last contact, two years are full marks;
- recency, its own input: full marks today, nothing after :data:`RECENCY_HORIZON_DAYS`.

Regularity, reciprocity, personal and meetings say little about a tie of a day or two, so they
are weighed by the evidence: full weight from :data:`FULL_EVIDENCE_DAYS` contact days on.

Everything but recency is the *lasting* score, stored per person when their contacts change;
recency is added when reading, so the store can rank 50,000 people in one query (it mirrors
:func:`recency_points`). A tie is **dormant** (group "reconnect") when there has been no
contact for longer than max(6 months, 3 x the usual gap); else it is alive (group "track").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from syncd.model import History
from syncd.ties import Tie

DAY = 86400
WEIGHTS: Mapping[str, float] = MappingProxyType({
    "frequency": 25.0, "regularity": 15.0, "reciprocity": 20.0, "personal": 15.0,
    "meetings": 5.0, "span": 10.0, "recency": 10.0,
})
FULL_FREQUENCY_DAYS = 100
FULL_EVIDENCE_DAYS = 6
FULL_MEETINGS = 6
FULL_SPAN_DAYS = 730.0
RECENCY_HORIZON_DAYS = 365.0
#: A tie needs contact on at least this many days to be suggested (one day is an exchange).
MIN_CONTACT_DAYS = 2
#: Ties scoring below this are not suggested.
MIN_SCORE = 30.0
DORMANT_AFTER_DAYS = 182.0
DORMANT_GAPS = 3.0
#: Days per month for regularity (30.436875 = 365.2425 / 12); the store buckets by it too.
MONTH_DAYS = 30.436875

TRACK = "track"
RECONNECT = "reconnect"


@dataclass(frozen=True, slots=True)
class Strength:
    """A scored tie: 0-100, its group ("track" or "reconnect") and one line of why."""

    score: int
    group: str
    why: str


@dataclass(frozen=True, slots=True)
class Suggestion:
    """An untracked tie worth keeping: the person's tie now and how strong it is."""

    tie: Tie
    strength: Strength


def lasting_score(history: History) -> float | None:
    """Return every point but recency's (0-90), or None when the tie is never suggested.

    None for one-way incoming-only correspondents (nothing from my side, DESIGN §3) and for
    fewer than :data:`MIN_CONTACT_DAYS` contact days.
    """
    if history.two_way_days == 0 or history.contact_days < MIN_CONTACT_DAYS:
        return None
    if history.first_contact is None or history.last_contact is None:
        return None
    days = history.contact_days
    evidence = min(1.0, (days - 1) / (FULL_EVIDENCE_DAYS - 1))
    span_days = (history.last_contact - history.first_contact) / DAY
    months_spanned = math.floor(span_days / MONTH_DAYS) + 1
    points = {
        "frequency": min(1.0, math.log1p(days) / math.log1p(FULL_FREQUENCY_DAYS)),
        "regularity": evidence * min(1.0, history.active_months / months_spanned),
        "reciprocity": evidence * reciprocity(history),
        "personal": evidence * (history.personal / history.interactions
                                if history.interactions else 0.0),
        "meetings": evidence * min(1.0, history.meetings / FULL_MEETINGS),
        "span": min(1.0, span_days / FULL_SPAN_DAYS),
    }
    return sum(WEIGHTS[name] * value for name, value in points.items())


def reciprocity(history: History) -> float:
    """Return 0-1: 1 for mail both ways in balance, less when lopsided or one-way.

    Meetings and logged contacts are two-way by nature; mail I wrote that was never answered
    is a weaker tie than an exchange, and mail I only received is none.
    """
    sent, received = history.outgoing, history.incoming
    if sent and received:
        return 0.6 + 0.4 * min(sent, received) / max(sent, received)
    if history.meetings:
        return 0.7
    if history.two_way_days and not sent:
        return 0.5  # logged by hand (a call, a visit)
    return 0.35 if sent else 0.0


def recency_points(age_days: float) -> float:
    """Return recency's points: all of them today, none after the horizon, linear between."""
    return WEIGHTS["recency"] * max(0.0, 1.0 - max(0.0, age_days) / RECENCY_HORIZON_DAYS)


def usual_gap_days(history: History) -> float | None:
    """Return the usual days between contacts: the inferred rhythm, else the mean gap."""
    if history.inferred_days:
        return history.inferred_days
    if history.contact_days < 2 or history.first_contact is None or history.last_contact is None:
        return None
    return (history.last_contact - history.first_contact) / DAY / (history.contact_days - 1)


def dormant_after_days(history: History) -> float:
    """Return after how many quiet days the tie is dormant: max(6 months, 3 x usual gap)."""
    gap = usual_gap_days(history) or 0.0
    return max(DORMANT_AFTER_DAYS, DORMANT_GAPS * gap)


def strength(history: History, now: datetime) -> Strength | None:
    """Return the tie's score, group and why as of ``now``; None if never suggested."""
    lasting = lasting_score(history)
    if lasting is None or history.last_contact is None:
        return None
    age_days = (now.timestamp() - history.last_contact) / DAY
    score = round(min(100.0, lasting + recency_points(age_days)))
    group = RECONNECT if age_days > dormant_after_days(history) else TRACK
    return Strength(score, group, why(history, age_days))


def suggested(history: History, now: datetime) -> Strength | None:
    """Return the strength when the tie is worth suggesting (at least :data:`MIN_SCORE`)."""
    result = strength(history, now)
    return result if result is not None and result.score >= MIN_SCORE else None


def why(history: History, age_days: float) -> str:
    """Return one line: "41 two-way contact days over 2 years, usually every 3 weeks, last 5
    months ago" (with what else matters: all contact days, meetings, mostly 1:1 or groups)."""
    days = history.contact_days
    if (history.outgoing and history.incoming) or history.meetings:
        counted = f"{days} two-way contact days"
    elif history.incoming:
        counted = f"{days} contact days, {history.two_way_days} of them from your side"
    else:
        counted = f"{days} contact days, all from your side"
    assert history.first_contact is not None and history.last_contact is not None
    parts = [f"{counted} over {span_text((history.last_contact - history.first_contact) / DAY)}"]
    gap = usual_gap_days(history)
    if gap is not None:
        parts.append(f"usually every {span_text(gap)}")
    if history.meetings:
        parts.append(f"{history.meetings} meeting{'s' if history.meetings != 1 else ''}")
    if history.interactions:
        share = history.personal / history.interactions
        if share >= 0.75:
            parts.append("mostly 1:1")
        elif share < 0.34:
            parts.append(f"mostly in groups of about {round(1 / share)}")
    parts.append("last " + ("today" if age_days < 1 else f"{span_text(age_days)} ago"))
    return ", ".join(parts)


def span_text(days: float) -> str:
    """Return a rounded human span: "3 days", "3 weeks", "5 months", "2 years"."""
    if days < 1:
        return "a day"
    if days < 14 and round(days) != 7:
        count, unit = round(days), "day"
    elif days < 61:
        count, unit = round(days / 7), "week"
    elif days < 548:
        count, unit = round(days / MONTH_DAYS), "month"
    else:
        count, unit = round(days / 365.2425), "year"
    return f"{count} {unit}{'s' if count != 1 else ''}"
