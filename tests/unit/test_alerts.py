"""DESIGN §4 alert policy, with an injected clock: one rule per test."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from syncd.alerts import (
    AlertPolicy,
    human_cadence,
    in_quiet_hours,
    local_day_start,
    parse_quiet_hours,
    plan_alerts,
)
from syncd.store import PersonRow
from syncd.ties import evaluate

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 6, 10, 10, tzinfo=UTC)  # 12:00 in Berlin
POLICY = AlertPolicy(BERLIN)


def person(person_id: int, days_quiet: float = 47, every_days: float = 21,
           **changes) -> PersonRow:
    last = NOW - timedelta(days=days_quiet)
    base = PersonRow(id=person_id, name=f"Person {person_id}",
                     addresses=(f"p{person_id}@example.com",), tracked=True, tier=None,
                     every_days=every_days, snoozed_until=None, last_outgoing=last,
                     last_incoming=None, last_meeting=None, last_manual=None, last_contact=last,
                     first_contact=last, interactions=5, inferred_days=None)
    return replace(base, **changes)


def plan(people, now=NOW, policy=POLICY, last_alerted=None, sent_today=0, upcoming=None):
    ties = [evaluate(p, {}, now) for p in people]
    return plan_alerts(ties, policy=policy, now=now, last_alerted=last_alerted or {},
                       sent_today=sent_today, upcoming=upcoming or (lambda person_id: None))


def named(result) -> list[int]:
    return [alert.person_id for n in result.notifications for alert in n.alerts]


def test_a_quiet_tie_gives_one_alert_with_a_readable_message():
    result = plan([person(1, name="Alice Example", inferred_days=21, every_days=None)])
    [notification] = result.notifications
    assert notification.kind == "alert"
    assert notification.alerts[0].text == (
        "Alice Example: 47 days since you last talked (you usually talk every 3 weeks)")


def test_ties_that_are_not_quiet_never_alert():
    assert named(plan([person(1, days_quiet=10), person(2, tracked=False),
                       person(3, last_contact=None, last_outgoing=None)])) == []


def test_a_person_already_alerted_is_not_alerted_again_before_renotify_after():
    alerted = {1: NOW - timedelta(days=6)}
    result = plan([person(1)], last_alerted=alerted)
    assert named(result) == [] and result.held == {"already_alerted": 1}


def test_after_renotify_after_the_person_is_alerted_again():
    assert named(plan([person(1)], last_alerted={1: NOW - timedelta(days=7)})) == [1]


def test_a_contact_after_the_alert_starts_a_new_episode():
    # Alerted 30 days ago, then talked 25 days ago, now quiet again on a 3-week cadence.
    result = plan([person(1, days_quiet=25)], last_alerted={1: NOW - timedelta(days=30)},
                  policy=replace(POLICY, renotify_after=timedelta(days=60)))
    assert named(result) == [1]


def test_a_snoozed_person_is_silent_until_the_snooze_ends_then_alerted_again():
    alerted = {1: NOW - timedelta(days=3)}
    snoozed = person(1, snoozed_until=NOW + timedelta(hours=1))
    assert named(plan([snoozed], last_alerted=alerted)) == []
    later = NOW + timedelta(hours=2)
    assert named(plan([snoozed], now=later, last_alerted=alerted)) == [1]


def test_an_upcoming_meeting_with_the_person_suppresses_the_alert():
    meetings = {1: NOW + timedelta(days=2)}
    result = plan([person(1), person(2)], upcoming=meetings.get)
    assert named(result) == [2] and result.held == {"meeting_ahead": 1}


def test_nothing_is_sent_in_quiet_hours_and_it_waits_for_their_end():
    policy = replace(POLICY, quiet_hours=parse_quiet_hours("22:00-08:00"))
    night = datetime(2026, 6, 10, 21, 30, tzinfo=UTC)  # 23:30 in Berlin
    result = plan([person(1)], now=night, policy=policy)
    assert named(result) == [] and result.held == {"quiet_hours": 1}
    morning = datetime(2026, 6, 11, 6, 0, tzinfo=UTC)  # 08:00 in Berlin: quiet hours are over
    assert named(plan([person(1)], now=morning, policy=policy)) == [1]


def test_quiet_hours_across_midnight_cover_both_sides_and_nothing_else():
    policy = replace(POLICY, quiet_hours=(time(22), time(8)))
    local = [(21, 59, False), (22, 0, True), (23, 59, True), (0, 0, True), (7, 59, True),
             (8, 0, False), (12, 0, False)]
    for hour, minute, quiet in local:
        moment = datetime(2026, 6, 10, hour, minute, tzinfo=BERLIN)
        assert in_quiet_hours(moment, policy) is quiet, (hour, minute)


def test_quiet_hours_within_one_day():
    policy = replace(POLICY, quiet_hours=parse_quiet_hours("12:00-14:00"))
    assert in_quiet_hours(datetime(2026, 6, 10, 12, 30, tzinfo=BERLIN), policy)
    assert not in_quiet_hours(datetime(2026, 6, 10, 14, 0, tzinfo=BERLIN), policy)


def test_quiet_hours_follow_local_time_across_dst_changes():
    policy = replace(POLICY, quiet_hours=parse_quiet_hours("22:00-08:00"))
    # 06:30 UTC is 07:30 in Berlin in winter (quiet) but 08:30 in summer (not quiet).
    assert in_quiet_hours(datetime(2026, 3, 28, 6, 30, tzinfo=UTC), policy)  # CET
    assert not in_quiet_hours(datetime(2026, 3, 29, 6, 30, tzinfo=UTC), policy)  # CEST
    # The autumn night is 25 hours long; 02:30 local happens twice and is quiet both times.
    first = datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN, fold=0)
    second = datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN, fold=1)
    assert first.astimezone(UTC) != second.astimezone(UTC)
    assert in_quiet_hours(first.astimezone(UTC), policy)
    assert in_quiet_hours(second.astimezone(UTC), policy)


def test_the_day_for_max_per_day_starts_at_local_midnight_even_on_dst_days():
    spring = datetime(2026, 3, 29, 20, tzinfo=UTC)
    start = local_day_start(spring, BERLIN)
    assert start.astimezone(UTC) == datetime(2026, 3, 28, 23, tzinfo=UTC)  # 00:00 CET
    autumn = datetime(2026, 10, 25, 20, tzinfo=UTC)
    assert local_day_start(autumn, BERLIN).astimezone(UTC) == datetime(2026, 10, 24, 22,
                                                                       tzinfo=UTC)


def test_at_most_max_per_day_notifications_most_overdue_first():
    people = [person(1, days_quiet=30), person(2, days_quiet=60), person(3, days_quiet=45)]
    result = plan(people, policy=replace(POLICY, max_per_day=2))
    assert named(result) == [2, 3] and result.held == {"max_per_day": 1}
    assert named(plan(people, sent_today=3)) == []


def test_more_than_digest_over_alerts_at_once_become_one_digest():
    people = [person(index, days_quiet=30 + index) for index in range(1, 12)]
    result = plan(people)
    [digest] = result.notifications
    assert digest.kind == "digest" and len(digest.alerts) == 11
    assert digest.title == "11 people to get in touch with"
    assert digest.body.splitlines()[0] == "Person 11: 41 days"
    assert digest.body.splitlines()[-1] == "and 3 more: run syncd due"


def test_exactly_digest_over_alerts_stay_separate():
    people = [person(index) for index in range(1, 4)]
    assert [n.kind for n in plan(people).notifications] == ["alert"] * 3


def test_a_digest_counts_as_one_towards_max_per_day():
    people = [person(index) for index in range(1, 6)]
    assert len(plan(people, sent_today=2).notifications) == 1
    assert plan(people, sent_today=3).notifications == ()


def test_cadences_read_like_a_person_would_say_them():
    assert [human_cadence(timedelta(days=d)) for d in (1, 7, 21, 30, 45, 61, 90, 365)] == [
        "day", "week", "3 weeks", "month", "45 days", "2 months", "3 months", "12 months"]


def test_equal_quiet_hour_ends_mean_no_quiet_hours():
    assert parse_quiet_hours("08:00-08:00") is None


def test_birthdays_notify_from_their_lead_once_and_never_in_quiet_hours():
    from datetime import UTC, date, datetime, timedelta
    from zoneinfo import ZoneInfo

    from syncd.alerts import AlertPolicy, birthday_key, parse_quiet_hours, plan_birthdays
    from syncd.model import PersonRow
    from syncd.ties import evaluate

    now = datetime(2026, 4, 12, 12, 0, tzinfo=UTC)
    row = PersonRow(7, "Ann Lee", ("ann@example.com",), True, None, 30.0, None, None, None,
                    None, None, now - timedelta(days=10), now - timedelta(days=10), 1, None)
    tie = evaluate(row, {}, now)
    policy = AlertPolicy(ZoneInfo("UTC"))
    lead = timedelta(days=3)
    [sent] = plan_birthdays([(tie, date(2026, 4, 15), 46)], policy=policy, now=now,
                            lead=lead, notified=set())
    assert sent.kind == "birthday" and sent.title == "Ann Lee's birthday in 3 days"
    assert sent.body == "Wednesday 15 April, turning 46; you last talked 10 days ago"
    assert sent.alerts[0].due_at == birthday_key(date(2026, 4, 15))
    assert plan_birthdays([(tie, date(2026, 4, 16), 46)], policy=policy, now=now, lead=lead,
                          notified=set()) == ()
    assert plan_birthdays([(tie, date(2026, 4, 15), 46)], policy=policy, now=now, lead=lead,
                          notified={(7, date(2026, 4, 15))}) == ()
    quiet = AlertPolicy(ZoneInfo("UTC"), parse_quiet_hours("11:00-13:00"))
    assert plan_birthdays([(tie, date(2026, 4, 15), 46)], policy=quiet, now=now, lead=lead,
                          notified=set()) == ()
