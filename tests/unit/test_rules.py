"""DESIGN §3, mail part: each test is one rule as a user would state it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syncd.config import RulesConfig
from syncd.model import Direction, Role
from syncd.rules import Rules, classify_message, dedupe_key, is_automated_address
from syncd.testing import message

ME = {"me@example.org", "me@work.example"}
WHEN = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def mine(address: str) -> bool:
    return address in ME


def decide(msg, rules: Rules | None = None):
    return classify_message(msg, mine, rules or Rules())


def counted(decision) -> list[str]:
    return [a.email for a in decision.counted]


def test_outgoing_mail_contacts_every_recipient_that_is_not_mine():
    msg = message("1", "me@example.org", ["alice@example.com", "me@work.example"],
                  cc=["bob@example.com"], bcc=["carol@example.com"], date=WHEN, role=Role.SENT)
    decision = decide(msg)
    assert decision.counts
    assert decision.direction is Direction.OUTGOING
    assert counted(decision) == ["alice@example.com", "bob@example.com", "carol@example.com"]


def test_outgoing_is_recognised_by_my_address_in_any_folder():
    msg = message("1", "me@work.example", ["alice@example.com"], date=WHEN, role=Role.ARCHIVE)
    assert decide(msg).direction is Direction.OUTGOING
    assert counted(decide(msg)) == ["alice@example.com"]


def test_incoming_mail_contacts_the_sender_when_i_am_in_to():
    decision = decide(message("1", "alice@example.com", ["me@example.org"], date=WHEN))
    assert decision.counts and decision.direction is Direction.INCOMING
    assert counted(decision) == ["alice@example.com"]


def test_incoming_mail_contacts_the_sender_when_i_am_in_cc():
    msg = message("1", "alice@example.com", ["bob@example.com"], cc=["me@example.org"], date=WHEN)
    assert counted(decide(msg)) == ["alice@example.com"]


def test_incoming_mail_does_not_contact_other_recipients():
    msg = message("1", "alice@example.com", ["me@example.org", "bob@example.com"], date=WHEN)
    assert counted(decide(msg)) == ["alice@example.com"]


def test_incoming_mail_where_i_am_only_bcc_does_not_count():
    msg = message("1", "alice@example.com", ["someone@example.com"], bcc=["me@example.org"],
                  date=WHEN)
    decision = decide(msg)
    assert not decision.counts and decision.rule == "not_to_me"


@pytest.mark.parametrize("role", [Role.JUNK, Role.TRASH, Role.DRAFTS])
def test_nothing_in_junk_trash_or_drafts_counts(role):
    decision = decide(message("1", "alice@example.com", ["me@example.org"], date=WHEN, role=role))
    assert not decision.counts and decision.rule == "folder"


@pytest.mark.parametrize(("header", "value", "rule"), [
    ("list-id", "Friends <friends.lists.example>", "list"),
    ("list-unsubscribe", "<mailto:unsub@news.example>", "bulk"),
    ("precedence", "bulk", "bulk"),
    ("precedence", "list", "bulk"),
    ("precedence", "junk", "bulk"),
    ("auto-submitted", "auto-replied", "auto"),
    ("auto-submitted", "auto-generated", "auto"),
    ("x-auto-response-suppress", "OOF, AutoReply", "auto"),
    ("feedback-id", "123:campaign:esp", "bulk"),
    ("content-type", "multipart/report; report-type=delivery-status", "report"),
])
def test_bulk_and_automatic_mail_never_counts(header, value, rule):
    msg = message("1", "alice@example.com", ["me@example.org"], date=WHEN,
                  headers={header: value})
    decision = decide(msg)
    assert not decision.counts
    assert decision.rule == rule


def test_auto_submitted_no_is_a_human_message():
    msg = message("1", "alice@example.com", ["me@example.org"], date=WHEN,
                  headers={"auto-submitted": "no"})
    assert decide(msg).counts


@pytest.mark.parametrize("sender", [
    "noreply@shop.example", "no-reply@shop.example", "donotreply@bank.example",
    "do-not-reply@bank.example", "MAILER-DAEMON@mx.example", "notifications@github.example",
    "bounce@news.example", "calendar-noreply@google.example", "postmaster@mx.example",
])
def test_noreply_style_senders_never_count(sender):
    decision = decide(message("1", sender, ["me@example.org"], date=WHEN))
    assert not decision.counts and decision.rule == "automated_sender"


@pytest.mark.parametrize("address", ["alice@example.com", "reply@example.com",
                                     "notification.fan@example.com", "bouncer@club.example"])
def test_ordinary_addresses_are_not_automated(address):
    assert not is_automated_address(address)


def test_writing_to_a_noreply_address_is_not_contact():
    msg = message("1", "me@example.org", ["noreply@shop.example"], date=WHEN, role=Role.SENT)
    assert not decide(msg).counts


def test_more_than_max_recipients_participants_never_counts():
    others = [f"person{i}@example.com" for i in range(20)]
    at_limit = message("1", "me@example.org", others, date=WHEN, role=Role.SENT)
    over = message("2", "me@example.org", [*others, "one.more@example.com"], date=WHEN,
                   role=Role.SENT)
    assert decide(at_limit).counts
    decision = decide(over)
    assert not decision.counts and decision.rule == "too_many"


def test_max_recipients_counts_from_to_cc_and_bcc_together():
    rules = Rules.from_config(RulesConfig(max_recipients=2))
    msg = message("1", "alice@example.com", ["me@example.org"], cc=["bob@example.com"],
                  bcc=["carol@example.com"], date=WHEN)
    assert not decide(msg, rules).counts


def test_ignore_beats_everything_including_always():
    rules = Rules.from_config(RulesConfig(ignore=("@example.com",), always=("alice@example.com",)))
    decision = decide(message("1", "alice@example.com", ["me@example.org"], date=WHEN), rules)
    assert not decision.counts and decision.rule == "ignored"


def test_ignored_recipients_are_dropped_but_others_still_count():
    rules = Rules.from_config(RulesConfig(ignore=("bob@example.com",)))
    msg = message("1", "me@example.org", ["alice@example.com", "bob@example.com"], date=WHEN,
                  role=Role.SENT)
    assert counted(decide(msg, rules)) == ["alice@example.com"]


def test_ignore_globs_and_subdomains():
    rules = Rules.from_config(RulesConfig(ignore=("*@news.*", "@linkedin.com")))
    assert rules.ignore.matches("daily@news.example.com")
    assert rules.ignore.matches("x@e.linkedin.com")
    assert not rules.ignore.matches("alice@example.com")


def test_always_beats_list_headers_for_a_family_list():
    rules = Rules.from_config(RulesConfig(always=("family@lists.example",)))
    msg = message("1", "aunt@example.net", ["family@lists.example"], date=WHEN,
                  headers={"list-id": "Family <family.lists.example>",
                           "list-unsubscribe": "<mailto:x@lists.example>"})
    assert not decide(msg).counts
    decision = decide(msg, rules)
    assert decision.counts
    assert counted(decision) == ["aunt@example.net"]
    assert "[rules].always" in decision.reason


def test_always_does_not_revive_junk():
    rules = Rules.from_config(RulesConfig(always=("alice@example.com",)))
    msg = message("1", "alice@example.com", ["me@example.org"], date=WHEN, role=Role.JUNK)
    assert not decide(msg, rules).counts


def test_incoming_can_be_switched_off():
    rules = Rules.from_config(RulesConfig(count_incoming=False))
    decision = decide(message("1", "alice@example.com", ["me@example.org"], date=WHEN), rules)
    assert not decision.counts and decision.rule == "incoming_off"


def test_mail_only_to_myself_is_not_contact():
    msg = message("1", "me@example.org", ["me@work.example"], date=WHEN, role=Role.SENT)
    assert decide(msg).rule == "self"


def test_a_message_without_any_date_does_not_count():
    decision = decide(message("1", "alice@example.com", ["me@example.org"]))
    assert not decision.counts and decision.rule == "no_date"


def test_delivery_time_stands_in_for_a_missing_date():
    msg = message("1", "alice@example.com", ["me@example.org"], received=WHEN)
    assert decide(msg).at == WHEN


def test_every_decision_has_a_reason():
    msg = message("1", "alice@example.com", ["me@example.org"], date=WHEN)
    assert decide(msg).reason


def test_the_same_message_id_from_the_same_sender_has_one_dedupe_key():
    first = message("INBOX/1", "alice@example.com", ["me@example.org"], date=WHEN,
                    message_id="abc@example.com")
    copy = message("Archive/7", "alice@example.com", ["me@example.org"], date=WHEN,
                   message_id="abc@example.com")
    assert dedupe_key(first) == dedupe_key(copy)
