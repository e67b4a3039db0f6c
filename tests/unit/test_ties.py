"""DESIGN §4: last contact, cadence precedence, due dates, snooze."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from syncd.store import PersonRow
from syncd.ties import DEFAULT_CADENCE, Status, due_ties, evaluate, infer_rhythm

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
TIERS = {"close": timedelta(days=14), "friends": timedelta(days=45)}


def person(**changes) -> PersonRow:
    base = PersonRow(id=1, name="Alice", addresses=("alice@example.com",), tracked=True,
                     tier=None, every_days=None, snoozed_until=None, last_outgoing=None,
                     last_incoming=None, last_meeting=None, last_manual=None,
                     last_contact=None, first_contact=None, interactions=0, inferred_days=None)
    return replace(base, **changes)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def test_a_persons_own_cadence_beats_their_tier():
    tie = evaluate(person(tier="close", every_days=30, last_contact=days_ago(1)), TIERS, NOW)
    assert tie.cadence == timedelta(days=30) and tie.cadence_source == "person"


def test_a_tier_beats_the_inferred_rhythm():
    tie = evaluate(person(tier="close", inferred_days=60, last_outgoing=days_ago(1),
                          last_contact=days_ago(1)), TIERS, NOW)
    assert tie.cadence == timedelta(days=14) and tie.cadence_source == "tier"


def test_the_inferred_rhythm_applies_only_to_two_way_ties():
    one_way = person(inferred_days=20, last_incoming=days_ago(1), last_contact=days_ago(1))
    two_way = replace(one_way, last_outgoing=days_ago(3))
    assert evaluate(one_way, TIERS, NOW).cadence_source == "default"
    assert evaluate(two_way, TIERS, NOW).cadence == timedelta(days=20)


def test_without_tier_or_history_the_default_cadence_applies():
    assert evaluate(person(last_contact=days_ago(1)), TIERS, NOW).cadence == DEFAULT_CADENCE
    custom = {**TIERS, "default": timedelta(days=30)}
    assert evaluate(person(last_contact=days_ago(1)), custom, NOW).cadence == timedelta(days=30)


def test_past_due_is_quiet_and_says_how_overdue():
    tie = evaluate(person(tier="close", last_contact=days_ago(20)), TIERS, NOW)
    assert tie.status is Status.QUIET
    assert tie.overdue == timedelta(days=6)
    assert tie.due_at == days_ago(6)


def test_within_the_warning_band_is_due_soon():
    assert evaluate(person(tier="close", last_contact=days_ago(13)), TIERS, NOW).status \
        is Status.DUE_SOON
    assert evaluate(person(tier="close", last_contact=days_ago(5)), TIERS, NOW).status is Status.OK


def test_a_snoozed_tie_is_not_due_until_the_snooze_ends():
    quiet = person(tier="close", last_contact=days_ago(40), snoozed_until=NOW + timedelta(days=3))
    assert evaluate(quiet, TIERS, NOW).status is Status.SNOOZED
    assert evaluate(quiet, TIERS, NOW + timedelta(days=4)).status is Status.QUIET


def test_due_lists_the_most_overdue_first_and_never_contacted_last():
    people = [
        person(id=1, name="A", tier="close", last_contact=days_ago(20)),
        person(id=2, name="B", tier="close", last_contact=days_ago(60)),
        person(id=3, name="C", tier="close"),
        person(id=4, name="D", tier="close", last_contact=days_ago(2)),
        person(id=5, name="E", tracked=False, last_contact=days_ago(400)),
    ]
    assert [tie.person.name for tie in due_ties(people, TIERS, NOW)] == ["B", "A", "C"]


def test_rhythm_needs_enough_history():
    assert infer_rhythm([day * 86400 for day in (0, 10, 20, 30, 40)]) is None
    assert infer_rhythm([day * 86400 for day in (0, 10, 20, 30, 40, 50)]) == 10


def test_rhythm_is_a_high_percentile_of_gaps_and_clamped():
    steady = [0, 10, 20, 30, 40, 50, 60, 70, 80, 180]  # one long silence among 10-day gaps
    assert infer_rhythm([d * 86400 for d in steady]) == 10
    drifting = [0, 10, 20, 30, 40, 100, 160, 220]  # the gaps grew to 60 days
    assert infer_rhythm([d * 86400 for d in drifting]) == 60
    yearly = [d * 86400 for d in range(0, 4000, 600)]
    assert infer_rhythm(yearly) == 365
    daily = [d * 86400 for d in range(30)]
    assert infer_rhythm(daily) == 7
    several_a_day = [d * 86400 + h * 3600 for d in range(0, 70, 10) for h in range(3)]
    assert infer_rhythm(several_a_day) == 10
