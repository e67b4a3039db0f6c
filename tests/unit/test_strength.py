"""Tie strength (syncd/strength.py) on synthetic histories written as the rule reads."""

from __future__ import annotations

from dataclasses import replace

from syncd.strength import MIN_SCORE, RECONNECT, TRACK, strength, suggested
from tests.unit.histories import (
    BURSTY_COLLEAGUE,
    DAILY_NEWSLETTER,
    DORMANT_STRONG_TIE,
    MONTHLY_FRIEND_WITH_A_HOLIDAY,
    NOW,
    ONE_OFF_CONVERSATION,
    WEEKLY_FRIEND,
    Contact,
    every,
    history_of,
)


def scored(contacts: list[Contact]):
    result = strength(history_of(contacts), NOW)
    assert result is not None
    return result


def test_a_weekly_friend_for_two_years_is_a_strong_live_tie():
    friend = scored(WEEKLY_FRIEND)
    assert friend.group == TRACK
    assert friend.score >= 85
    assert friend.why == ("104 two-way contact days over 2 years, usually every 1 week, "
                          "mostly 1:1, last 9 days ago")


def test_a_monthly_friend_with_one_long_holiday_stays_alive_and_strong():
    friend = scored(MONTHLY_FRIEND_WITH_A_HOLIDAY)
    assert friend.group == TRACK
    assert 60 <= friend.score < scored(WEEKLY_FRIEND).score


def test_a_bursty_project_colleague_in_group_threads_is_weaker_than_a_regular_friend():
    colleague = scored(BURSTY_COLLEAGUE)
    assert colleague.group == TRACK  # the last burst was 7 weeks ago
    assert colleague.score < scored(MONTHLY_FRIEND_WITH_A_HOLIDAY).score
    assert "mostly in groups of about 5" in colleague.why


def test_a_newsletter_that_writes_daily_is_never_suggested():
    assert strength(history_of(DAILY_NEWSLETTER), NOW) is None


def test_a_one_off_conversation_is_never_suggested():
    assert suggested(history_of(ONE_OFF_CONVERSATION), NOW) is None


def test_a_strong_tie_quiet_for_eleven_months_is_one_to_reconnect():
    tie = scored(DORMANT_STRONG_TIE)
    assert tie.group == RECONNECT
    assert tie.score >= 60
    assert tie.why.endswith("last 11 months ago")


def test_dormant_means_quiet_for_longer_than_six_months_or_three_usual_gaps():
    quarterly = every(91, first_days_ago=91 * 8 + 210, last_days_ago=210)
    assert scored(quarterly).group == TRACK  # 7 months quiet < 3 x 3 months
    assert scored(every(91, first_days_ago=91 * 8 + 300, last_days_ago=300)).group == RECONNECT
    weekly = every(7, first_days_ago=400, last_days_ago=170)
    assert scored(weekly).group == TRACK  # under 6 months, though 24 usual gaps
    assert scored(every(7, first_days_ago=400, last_days_ago=190)).group == RECONNECT


def test_mail_both_ways_beats_mail_i_only_wrote_and_mail_i_only_received_is_no_tie():
    both_ways = scored(WEEKLY_FRIEND)
    only_mine = scored([replace(contact, direction=WEEKLY_FRIEND[0].direction)
                        for contact in WEEKLY_FRIEND])
    assert only_mine.score < both_ways.score
    assert strength(history_of(every(7, first_days_ago=730, answered=False)), NOW) is None


def test_one_to_one_mail_beats_the_same_rhythm_in_a_fifteen_person_thread():
    personal = scored(WEEKLY_FRIEND)
    crowded = scored([replace(contact, participants=15) for contact in WEEKLY_FRIEND])
    assert crowded.score <= personal.score - 10


def test_recency_counts_on_its_own():
    today = scored(every(14, first_days_ago=400, last_days_ago=0))
    months_ago = scored(every(14, first_days_ago=550, last_days_ago=150))
    assert months_ago.group == TRACK and months_ago.score < today.score


def test_scores_stay_between_the_threshold_and_one_hundred():
    for history in (WEEKLY_FRIEND, MONTHLY_FRIEND_WITH_A_HOLIDAY, BURSTY_COLLEAGUE,
                    DORMANT_STRONG_TIE):
        result = suggested(history_of(history), NOW)
        assert result is not None and MIN_SCORE <= result.score <= 100
