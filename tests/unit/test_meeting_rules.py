"""Meeting rules (DESIGN §3), one test per rule, written as the rule reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from syncd.model import Address, Attendee, Meeting
from syncd.rules import AddressPatterns, Rules, classify_meeting

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ME = "me@example.org"


def mine(address: str) -> bool:
    return address == ME


def attendee(email: str, partstat: str = "ACCEPTED", cutype: str = "INDIVIDUAL") -> Attendee:
    return Attendee(Address(email), partstat, cutype)


def meeting(*attendees: Attendee, organizer: str | None = ME, start: datetime | None = None,
            status: str = "confirmed") -> Meeting:
    return Meeting(source_id="cal|uid-1|", uid="uid-1", start=start or NOW - timedelta(days=1),
                   status=status, organizer=Address(organizer) if organizer else None,
                   attendees=(attendee(ME), *attendees))


def counted(decision) -> list[str]:
    return [address.email for address in decision.counted]


def test_a_coffee_with_bob_yesterday_counts_for_bob_at_its_start():
    decision = classify_meeting(meeting(attendee("bob@example.com")), mine, Rules(), NOW)
    assert decision.counts and decision.rule == "meeting"
    assert counted(decision) == ["bob@example.com"]
    assert decision.at == NOW - timedelta(days=1)
    assert decision.reason == "a meeting with 1 person"


def test_a_cancelled_meeting_is_no_contact():
    decision = classify_meeting(meeting(attendee("bob@example.com"), status="cancelled"),
                                mine, Rules(), NOW)
    assert not decision.counts and decision.rule == "cancelled"


def test_a_meeting_i_declined_is_no_contact():
    declined_by_me = Meeting(source_id="cal|x|", uid="x", start=NOW - timedelta(hours=1),
                             organizer=Address("bob@example.com"),
                             attendees=(attendee(ME, "DECLINED"), attendee("bob@example.com")))
    decision = classify_meeting(declined_by_me, mine, Rules(), NOW)
    assert not decision.counts and decision.rule == "i_declined"


def test_someone_who_declined_is_not_met():
    decision = classify_meeting(meeting(attendee("bob@example.com", "DECLINED"),
                                        attendee("carol@example.com")), mine, Rules(), NOW)
    assert counted(decision) == ["carol@example.com"]


def test_a_meeting_only_bob_declined_is_no_contact():
    decision = classify_meeting(meeting(attendee("bob@example.com", "DECLINED")), mine,
                                Rules(), NOW)
    assert not decision.counts and decision.rule == "no_counterpart"


def test_a_room_or_resource_is_never_a_person():
    decision = classify_meeting(meeting(attendee("room-4@example.com", cutype="ROOM"),
                                        attendee("beamer@example.com", cutype="RESOURCE"),
                                        attendee("bob@example.com")), mine, Rules(), NOW)
    assert counted(decision) == ["bob@example.com"]


def test_a_meeting_with_only_me_and_a_room_is_no_contact():
    decision = classify_meeting(meeting(attendee("room-4@example.com", cutype="ROOM")), mine,
                                Rules(), NOW)
    assert not decision.counts and decision.rule == "no_counterpart"


def test_the_organizer_counts_as_a_counterpart_when_it_is_not_me():
    decision = classify_meeting(meeting(organizer="bob@example.com"), mine, Rules(), NOW)
    assert counted(decision) == ["bob@example.com"]


def test_an_event_with_no_one_but_me_is_no_contact():
    decision = classify_meeting(meeting(organizer=None), mine, Rules(), NOW)
    assert not decision.counts and decision.reason == "no one but me on the meeting"


def test_the_all_hands_with_more_than_max_attendees_is_no_contact():
    crowd = [attendee(f"colleague{n}@example.com") for n in range(80)]
    decision = classify_meeting(meeting(*crowd), mine, Rules(), NOW)
    assert not decision.counts and decision.rule == "too_many_attendees"
    assert "80 other attendees" in decision.reason


def test_exactly_max_attendees_others_still_counts():
    group = [attendee(f"friend{n}@example.com") for n in range(10)]
    decision = classify_meeting(meeting(*group), mine, Rules(max_attendees=10), NOW)
    assert decision.counts and len(decision.counted) == 10


def test_a_future_meeting_is_upcoming_not_contact_yet():
    decision = classify_meeting(meeting(attendee("carol@example.com"),
                                        start=NOW + timedelta(days=3)), mine, Rules(), NOW)
    assert not decision.counts and decision.rule == "upcoming"
    assert counted(decision) == ["carol@example.com"]
    assert decision.reason == "an upcoming meeting with 1 person"


def test_a_meeting_counts_from_the_moment_it_starts():
    decision = classify_meeting(meeting(attendee("carol@example.com"), start=NOW), mine,
                                Rules(), NOW)
    assert decision.counts and decision.rule == "meeting"


def test_ignored_addresses_are_never_met():
    rules = Rules(ignore=AddressPatterns(["@recruiter.example"]))
    decision = classify_meeting(meeting(attendee("x@recruiter.example")), mine, rules, NOW)
    assert not decision.counts and decision.rule == "ignored"


def test_the_same_meeting_in_two_calendars_has_one_dedupe_key():
    first = Meeting(source_id="work|uid-1|20260101T090000Z", uid="uid-1", start=NOW)
    second = Meeting(source_id="home|uid-1|20260101T090000Z", uid="uid-1", start=NOW)
    assert (classify_meeting(first, mine, Rules(), NOW).dedupe_key
            == classify_meeting(second, mine, Rules(), NOW).dedupe_key)


def test_every_decision_has_a_reason():
    cases = [meeting(attendee("bob@example.com"), status="cancelled"),
             meeting(organizer=None), meeting(attendee("bob@example.com")),
             meeting(attendee("bob@example.com"), start=NOW + timedelta(days=1))]
    assert all(classify_meeting(case, mine, Rules(), NOW).reason for case in cases)


def test_someone_elses_meeting_in_a_shared_calendar_is_no_contact():
    theirs = Meeting(source_id="cal|team|", uid="team", start=NOW - timedelta(hours=1),
                     organizer=Address("boss@example.com"),
                     attendees=(attendee("bob@example.com"), attendee("carol@example.com")))
    decision = classify_meeting(theirs, mine, Rules(), NOW)
    assert not decision.counts and decision.rule == "not_mine"
    assert "[me].addresses" in decision.reason


def test_my_own_entry_without_an_organizer_counts():
    lunch = Meeting(source_id="cal|lunch|", uid="lunch", start=NOW - timedelta(hours=1),
                    attendees=(attendee("bob@example.com"),))
    assert counted(classify_meeting(lunch, mine, Rules(), NOW)) == ["bob@example.com"]


def test_a_meeting_i_organise_counts_even_when_i_am_not_listed_as_attendee():
    mine_without_me = Meeting(source_id="cal|m|", uid="m", start=NOW - timedelta(hours=1),
                              organizer=Address(ME), attendees=(attendee("bob@example.com"),))
    assert counted(classify_meeting(mine_without_me, mine, Rules(), NOW)) == ["bob@example.com"]
