"""The choices journal: what the user decided survives a new database, once and in order."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syncd.app import CHOICES_APPLIED, CHOICES_SIZE, App
from syncd.choices import Choice, ChoiceJournal
from syncd.config import line_of_person, parse_config
from syncd.durations import parse_duration
from syncd.engine import Engine
from syncd.errors import AmbiguousPerson, PersonNotFound
from syncd.model import Message
from syncd.render import counted
from syncd.store import Store
from syncd.testing import FakeConnector, address, message

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def to_named(source_id: str, email: str, name: str) -> Message:
    return replace(message(source_id, "me@example.org", [email], date=NOW),
                   to=(address(email, name),))


MAIL = [to_named("1", "bob@example.net", "Bob Builder"),
        replace(message("2", "carol@example.org", ["me@example.org"], date=NOW),
                sender=address("carol@example.org", "Carol")),
        message("3", "me@example.org", ["carol@example.org"], date=NOW)]


def open_app(state: Path) -> App:
    config = parse_config({"general": {"state_dir": str(state)},
                           "me": {"addresses": ["me@example.org"]}}, environ={"HOME": "/h"})
    return App.open(config, lambda: NOW)


def synced(state: Path) -> App:
    app = open_app(state)
    Engine(app.store, app.rules(), app.clock).sync("mail", FakeConnector(MAIL))
    return app


def rebuilt(app: App, state: Path) -> App:
    """Close ``app``, move its database away, and open a new one (what the advice says)."""
    app.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{state / 'syncd.sqlite3'}{suffix}").unlink(missing_ok=True)
    return synced(state)


def test_a_rebuilt_database_gets_back_every_choice(tmp_path):
    app = synced(tmp_path)
    bob, carol = app.find_person("bob@example.net"), app.find_person("carol@example.org")
    app.track(bob, every=timedelta(weeks=3))
    app.snooze(carol, NOW + timedelta(days=10))
    app.log_contact(carol, NOW - timedelta(days=1), "coffee")
    app.ignore("@spam.example")
    app = rebuilt(app, tmp_path)
    bob, carol = app.find_person("bob@example.net"), app.find_person("carol@example.org")
    assert bob.tracked and bob.every_days == 21
    assert carol.snoozed_until == NOW + timedelta(days=10)
    assert carol.last_manual == NOW - timedelta(days=1)
    assert app.store.ignore_patterns() == ["@spam.example"]
    app.close()


def test_replaying_twice_stores_a_logged_contact_once(tmp_path):
    app = synced(tmp_path)
    carol = app.find_person("carol@example.org")
    app.log_contact(carol, NOW - timedelta(days=1), "call")
    logged = app.find_person("carol@example.org").interactions
    assert logged == carol.interactions + 1
    # As if the database had missed the whole journal:
    app.store.set_setting(CHOICES_APPLIED, "0")
    app.store.set_setting(CHOICES_SIZE, "0")
    assert app.replay_choices() == 1
    assert app.find_person("carol@example.org").interactions == logged
    app.close()


def test_a_choice_for_someone_not_yet_seen_creates_them_and_sync_finds_them(tmp_path):
    app = open_app(tmp_path)
    ChoiceJournal(tmp_path).append(Choice(kind="track", name="Dana", addresses=("dana@x.example",),
                                          tier=None, every_days=30.0))
    app.store.set_setting(CHOICES_APPLIED, "0")
    app.store.set_setting(CHOICES_SIZE, "0")
    app.replay_choices()
    Engine(app.store, app.rules(), app.clock).sync("mail", FakeConnector([
        message("9", "me@example.org", ["dana@x.example"], date=NOW)]))
    dana = app.find_person("dana@x.example")
    assert dana.name == "Dana" and dana.tracked and dana.every_days == 30.0
    assert dana.last_outgoing == NOW
    app.close()


def test_a_line_the_journal_cannot_read_is_skipped_and_the_rest_applies(tmp_path, caplog):
    journal = ChoiceJournal(tmp_path)
    journal.append(Choice(kind="ignore", pattern="@a.example"))
    with journal.path.open("a") as file:
        file.write('{"kind": "track", "addr\n')  # a write cut short by a crash
    journal.append(Choice(kind="ignore", pattern="@b.example"))
    app = open_app(tmp_path)
    assert sorted(app.store.ignore_patterns()) == ["@a.example", "@b.example"]
    assert "line 2 is not a choice" in caplog.text
    app.close()


def test_a_database_from_before_the_journal_writes_its_choices_into_one(tmp_path):
    app = synced(tmp_path)
    bob = app.find_person("bob@example.net")
    app.store.track(bob.id, "close")  # what an older syncd did, without a journal
    app.store.add_ignore_pattern("@old.example")
    app.close()
    store = Store.open(tmp_path)
    store._db.execute("DELETE FROM settings WHERE key IN (?, ?)", (CHOICES_APPLIED, CHOICES_SIZE))
    store.close()
    (tmp_path / "choices.jsonl").unlink(missing_ok=True)
    open_app(tmp_path).close()
    kinds = [(choice.kind, choice.tier or choice.pattern)
             for choice in ChoiceJournal(tmp_path).read()]
    assert kinds == [("track", "close"), ("ignore", "@old.example")]
    app = rebuilt(open_app(tmp_path), tmp_path)
    assert app.find_person("bob@example.net").tier == "close"
    app.close()


def test_unignore_shows_only_people_no_other_pattern_hides(tmp_path):
    app = synced(tmp_path)
    app.ignore("@example.org")
    app.ignore("carol@example.org")
    assert app.unignore("@example.org").shown == []  # still hidden by her own address
    assert [row.name for row in app.unignore("carol@example.org").shown] == ["Carol"]
    app.close()


def test_person_lookup_by_prefix_id_and_ambiguity(tmp_path):
    app = synced(tmp_path)
    assert app.find_person("bob").name == "Bob Builder"
    assert app.find_person("CAROL@").name == "Carol"
    carol = app.find_person("Carol")
    assert app.find_person(f"#{carol.id}") == carol
    Engine(app.store, app.rules(), app.clock).sync("more", FakeConnector([
        to_named("7", "bobby@example.net", "Bobby Tables")]))
    with pytest.raises(AmbiguousPerson, match="2 people match 'bob'"):
        app.find_person("bob")
    with pytest.raises(PersonNotFound, match=re.escape("did you mean: Carol <carol@example.org>")):
        app.find_person("Karol")
    app.close()


def test_the_line_of_a_configured_person_is_the_line_of_their_name(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[me]\naddresses = ["me@example.org"]\n\n[[people]]\nname = "Ann"\n'
                      'addresses = ["ann@example.com"]\n\n[[people]]\nname = "Dave"\n'
                      'addresses = ["Dave@Old.example"]\n')
    assert line_of_person(config, ["dave@old.example"]) == 9
    assert line_of_person(config, ["nobody@example.com"]) is None


@pytest.mark.parametrize(("text", "days"), [("3weeks", 21), ("3 years", 3 * 365.25),
                                            ("15 min", 15 / 1440), ("2 months", 60.875),
                                            ("1 day 12 hours", 1.5), ("6mo", 182.625)])
def test_durations_can_be_spelled_out(text, days):
    assert parse_duration(text) == timedelta(days=days)


def test_rule_summaries_agree_with_their_count():
    assert counted("{n} automatic [reply|replies] ignored", 1) == "1 automatic reply ignored"
    assert counted("{n} automatic [reply|replies] ignored", 2) == "2 automatic replies ignored"
