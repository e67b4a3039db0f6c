"""Suggestions and auto_track end to end in-process: real engine, real SQLite, real App."""

from __future__ import annotations

from datetime import timedelta

from syncd.app import App
from syncd.config import parse_config
from syncd.engine import Engine
from syncd.model import Direction, History
from syncd.render import suggestion_json
from syncd.rules import Rules
from syncd.store import Store
from syncd.store.stats import HISTORY_COLUMNS
from syncd.testing import FakeConnector, message
from tests.unit.histories import (
    BURSTY_COLLEAGUE,
    DAILY_NEWSLETTER,
    DORMANT_STRONG_TIE,
    ME,
    MONTHLY_FRIEND_WITH_A_HOLIDAY,
    NOW,
    ONE_OFF_CONVERSATION,
    WEEKLY_FRIEND,
    Contact,
    days_ago,
    every,
    history_of,
    messages_of,
)

PEOPLE = {
    "weekly@friends.example": WEEKLY_FRIEND,
    "monthly@friends.example": MONTHLY_FRIEND_WITH_A_HOLIDAY,
    "dormant@friends.example": DORMANT_STRONG_TIE,
    "news@letters.example": DAILY_NEWSLETTER,
    "once@example.net": ONE_OFF_CONVERSATION,
    # As strong as the weekly friend, but excluded: an ignore pattern, my own other address,
    # and an automated address I wrote to (that mail never counts for it).
    "pal@ignored.example": WEEKLY_FRIEND,
    "me.too@example.org": WEEKLY_FRIEND,
    "notifications@service.example": WEEKLY_FRIEND,
}


def synced_app(**general: object) -> App:
    config = parse_config({"general": general, "me": {"addresses": [ME]},
                           "rules": {"ignore": ["@ignored.example"]}},
                          environ={"HOME": "/h"})
    store = Store.in_memory()
    app = App(config, store, lambda: NOW)
    app.apply_config()
    mail = [mail for person, history in PEOPLE.items()
            for mail in messages_of(person, history)]
    mail += messages_of("project@work.example", BURSTY_COLLEAGUE, prefix="p")
    Engine(store, app.rules(), app.clock).sync("mail", FakeConnector(mail, page_size=500))
    # My other address was learned only after its mail had counted.
    store.set_configured_addresses([ME, "me.too@example.org"])
    return app


def test_the_store_sums_the_same_history_the_policy_reads():
    app = synced_app()
    histories = dict(app.store.strongest_untracked(NOW, dormant=False, limit=50))
    [weekly] = app.store.find_people("weekly@friends.example")
    [colleague] = app.store.find_people("project@work.example")
    assert histories[weekly] == history_of(WEEKLY_FRIEND)
    assert histories[colleague] == history_of(BURSTY_COLLEAGUE)


def test_suggestions_rank_strong_ties_in_their_group_and_leave_out_the_rest():
    app = synced_app()
    found = [(item.tie.person.addresses[0], item.strength.group) for item in app.suggest()]
    # The project's threads had four more colleagues: as bursty a tie as the project lead.
    colleagues = [entry for entry in found if entry[0].startswith("pcolleague")]
    assert len(colleagues) == 4 and {group for _, group in colleagues} == {"track"}
    assert [entry for entry in found if entry not in colleagues] == [
        ("weekly@friends.example", "track"), ("dormant@friends.example", "reconnect"),
        ("monthly@friends.example", "track"), ("project@work.example", "track")]
    first = suggestion_json(app.suggest(limit=1)[0])
    assert first["score"] >= 85 and first["group"] == "track"
    assert first["why"].startswith("104 two-way contact days over 2 years")
    assert {"id", "addresses", "cadence_days", "last_contact", "due_at"} <= set(first)


def test_a_tracked_person_is_no_longer_suggested():
    app = synced_app()
    weekly = app.find_person("weekly@friends.example")
    app.store.set_tracking(weekly.id, True)
    assert "weekly@friends.example" not in [s.tie.person.addresses[0] for s in app.suggest()]


def test_a_suggestion_is_found_by_its_id_as_listings_show_it():
    app = synced_app()
    top = app.suggest(limit=1)[0].tie.person
    assert app.find_person(f"#{top.id}") == top == app.find_person(str(top.id))


def test_auto_track_tracks_the_strongest_alive_ties_at_their_inferred_rhythm():
    app = synced_app(auto_track=2)
    assert app.auto_track() == 2
    tracked = {tie.person.addresses[0]: tie for tie in app.people()}
    assert set(tracked) == {"weekly@friends.example", "monthly@friends.example"}
    assert {tie.cadence_source for tie in tracked.values()} == {"inferred"}
    weekly = tracked["weekly@friends.example"].person
    tracked_by, reason = app.store.track_reason(weekly.id)
    assert tracked_by == "auto"
    assert reason is not None and reason.startswith("auto_track: score 9")
    assert app.auto_track() == 0  # already two


def test_untrack_keeps_a_person_out_of_auto_track_for_good():
    app = synced_app(auto_track=1)
    app.auto_track()
    [weekly] = app.people()
    app.store.set_tracking(weekly.person.id, False)
    app.auto_track()
    assert [tie.person.addresses[0] for tie in app.people()] == ["monthly@friends.example"]
    assert weekly.person.id not in [s.tie.person.id for s in app.suggest()]


def test_new_mail_refreshes_a_score_incrementally():
    app = synced_app()
    [before] = [s.strength.score for s in app.suggest() if s.tie.person.addresses[0] ==
                "dormant@friends.example"]
    fresh = messages_of("dormant@friends.example", every(7, first_days_ago=20), prefix="n")
    Engine(app.store, app.rules(), app.clock).sync("more", FakeConnector(fresh))
    [after] = [s for s in app.suggest() if s.tie.person.addresses[0] ==
               "dormant@friends.example"]
    assert after.strength.group == "track" and after.strength.score > before


def test_an_incoming_only_correspondent_is_never_suggested_however_often_they_write():
    app = synced_app()
    Engine(app.store, app.rules(), app.clock).sync("mail2", FakeConnector([
        message(f"x/{day}", "fan@example.com", [ME], date=NOW.replace(day=1 + day % 28))
        for day in range(200)]))
    assert "fan@example.com" not in [s.tie.person.addresses[0] for s in app.suggest(50)]


def test_a_database_from_before_strength_is_migrated_and_scored_by_the_next_refresh(tmp_path):
    import sqlite3

    from syncd.store.schema import _MIGRATIONS

    db = sqlite3.connect(tmp_path / "syncd.sqlite3", isolation_level=None)
    for script in _MIGRATIONS[:3]:
        db.executescript(script)
    db.execute("PRAGMA user_version = 3")
    first = int(WEEKLY_FRIEND[0].at.timestamp())
    db.execute("INSERT INTO people(id, name) VALUES (1, 'Wendy'), (2, 'Cal')")
    db.execute("INSERT INTO addresses VALUES ('weekly@friends.example', 1), "
               "('cc@friends.example', 2)")
    for index, contact in enumerate(WEEKLY_FRIEND):
        at = int(contact.at.timestamp())
        db.execute("INSERT INTO interactions VALUES (?, ?, ?, ?, 1, ?, 'r', NULL)",
                   (index + 1, f"k{index}", at, contact.direction.value,
                    contact.direction.value))
        db.execute("INSERT INTO contacts VALUES (?, 1, ?, ?, 1)",
                   (index + 1, at, contact.direction.value))
        if index == 0:  # Cal was in copy of the first mail only
            db.execute("INSERT INTO contacts VALUES (1, 2, ?, ?, 0)", (at, "incoming"))
    db.execute("INSERT INTO person_stats(person_id, last_contact, first_contact, interactions) "
               "VALUES (1, ?, ?, ?)", (int(WEEKLY_FRIEND[-1].at.timestamp()), first,
                                       len(WEEKLY_FRIEND)))
    db.close()
    store = Store.open(tmp_path)
    assert store._db.execute("SELECT participants FROM contacts WHERE interaction_id = 1 "
                             "AND person_id = 1").fetchone() == (2,)
    Engine(store, Rules(), lambda: NOW).refresh_rhythms()
    [(person_id, history)] = store.strongest_untracked(NOW, dormant=False, limit=5)
    expected = history_of(WEEKLY_FRIEND)
    assert person_id == 1
    assert history.contact_days == expected.contact_days
    assert history.personal == expected.personal - 0.5  # the first mail had two people


def test_the_daemon_applies_auto_track_when_it_starts(tmp_path):
    from syncd.daemon import Daemon
    from syncd.notify import LogNotifier

    store = Store.open(tmp_path / "state")
    store.set_configured_addresses([ME])
    mail = [*messages_of("weekly@friends.example", WEEKLY_FRIEND),
            *messages_of("monthly@friends.example", MONTHLY_FRIEND_WITH_A_HOLIDAY)]
    Engine(store, Rules(), lambda: NOW).sync("mail", FakeConnector(mail, page_size=500))
    store.close()
    config = parse_config({"general": {"state_dir": str(tmp_path / "state"), "auto_track": 1},
                           "me": {"addresses": [ME]}, "notify": {"backend": "log"}})
    daemon = Daemon(lambda: config, clock=lambda: NOW, notifier=LogNotifier(), environ={})
    daemon.start()
    try:
        assert [row.addresses for row in daemon.store.tracked_people()] == [
            ("weekly@friends.example",)]
    finally:
        daemon.shutdown()


def test_both_ways_of_reading_the_strongest_give_the_same_rows(monkeypatch):
    # People whose last contact spreads over five years (some in touch, some quiet for half a
    # year, some gone past the recency horizon), asked at several moments so that each part of
    # each group holds many, few or no rows: reading by last contact and walking by strength
    # must agree on every page (schema 8 added the first to make `syncd suggest` fast).
    from syncd.store import suggestions

    mail = [message for index in range(40)
            for message in messages_of(f"p{index}@friends.example",
                                       every(3 + index % 7, first_days_ago=1800 - 20 * index,
                                             last_days_ago=45 * index), prefix=f"m{index}-")]
    store = Store.in_memory()
    config = parse_config({"me": {"addresses": [ME]}}, environ={"HOME": "/h"})
    app = App(config, store, lambda: NOW)
    app.apply_config()
    Engine(store, app.rules(), app.clock).sync("mail", FakeConnector(mail, page_size=500))

    def read(forced: bool) -> list[object]:
        monkeypatch.setattr(suggestions, "reads_range", lambda *counts: forced)
        return [store.strongest_untracked(NOW + timedelta(days=days), dormant=dormant,
                                          limit=limit, offset=offset, needs_rhythm=rhythm)
                for days in (0, 200, 500, 1500) for dormant in (False, True)
                for rhythm in (False, True) for limit, offset in ((3, 0), (3, 3), (50, 0))]

    by_range, by_strength = read(True), read(False)
    assert by_range == by_strength
    counts = [len(rows) for rows in by_range]
    assert min(counts) == 0 and max(counts) >= 10  # the moments chosen reach both extremes


def stored_history(store: Store, address: str) -> tuple[History, float | None]:
    [person] = store.find_people(address)
    row = store._db.execute(f"SELECT {HISTORY_COLUMNS}, s.strength FROM person_stats s "
                            "WHERE person_id = ?", (person,)).fetchone()
    return History(*row[:-1]), row[-1]


def test_people_met_once_get_the_history_the_policy_reads_and_no_score():
    # One counted contact each is the common case after a first sync; the store settles it
    # without the GROUP BY (StatsMixin.refresh_histories), and must sum what the policy reads.
    once = {"wrote@once.example": [Contact(days_ago(30), Direction.OUTGOING, participants=3)],
            "heard@once.example": [Contact(days_ago(40), Direction.INCOMING)],
            "twice@once.example": [Contact(days_ago(50), Direction.OUTGOING)]}
    store = Store.in_memory()
    store.set_configured_addresses([ME])
    engine = Engine(store, Rules(), lambda: NOW)
    engine.sync("mail", FakeConnector([mail for person, contacts in once.items()
                                       for mail in messages_of(person, contacts)]))
    for person, contacts in once.items():
        assert stored_history(store, person) == (history_of(contacts), None)
    again = [Contact(days_ago(20), Direction.INCOMING)]
    engine.sync("more", FakeConnector(messages_of("twice@once.example", again, prefix="r")))
    history, strength = stored_history(store, "twice@once.example")
    assert history == history_of(once["twice@once.example"] + again)
    assert strength is not None  # two contact days both ways: scored from now on
