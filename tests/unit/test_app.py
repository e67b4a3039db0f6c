"""The composition root: the config's people and ignore rules reach the store."""

from __future__ import annotations

from datetime import UTC, datetime

from syncd.app import App
from syncd.config import parse_config
from syncd.engine import Engine
from syncd.store import Store
from syncd.testing import FakeConnector, message

WHEN = datetime(2026, 5, 1, tzinfo=UTC)


def app_with(store: Store, **sections) -> App:
    config = parse_config({"me": {"addresses": ["me@example.org"]}, **sections},
                          environ={"HOME": "/h"})
    app = App(config, store, lambda: WHEN)
    app.apply_config()
    return app


def test_an_ignore_pattern_added_to_the_config_hides_people_already_counted():
    store = Store.in_memory()
    app = app_with(store)
    Engine(store, app.rules(), app.clock).sync("mail", FakeConnector([
        message("1", "news@shop.example", ["me@example.org"], date=WHEN),
        message("2", "alice@example.com", ["me@example.org"], date=WHEN)]))
    assert {p.addresses[0] for p in store.counted_people()} == {"news@shop.example",
                                                                "alice@example.com"}
    app_with(store, rules={"ignore": ["@shop.example"]})
    assert [p.addresses[0] for p in store.counted_people()] == ["alice@example.com"]


def test_configured_people_are_tracked_and_untracked_when_removed():
    store = Store.in_memory()
    app_with(store, tiers={"close": "14d"},
             people=[{"name": "Alice", "addresses": ["alice@example.com"], "tier": "close"}])
    assert [(p.name, p.tier) for p in store.tracked_people()] == [("Alice", "close")]
    app_with(store)
    assert store.tracked_people() == []


def test_applying_an_unchanged_config_writes_nothing():
    store = Store.in_memory()
    sections = {"tiers": {"close": "14d"}, "rules": {"ignore": ["@shop.example"]},
                "people": [{"name": "Alice", "addresses": ["alice@example.com", "a@work.example"],
                            "tier": "close"}]}
    app_with(store, **sections)
    before = store._db.total_changes
    app_with(store, **sections)
    assert store._db.total_changes == before
    app_with(store, **{**sections, "tiers": {"close": "14d", "far": "90d"},
                       "people": [{"name": "Alice", "addresses": ["alice@example.com"],
                                   "tier": "far"}]})
    [alice] = store.tracked_people()
    assert alice.tier == "far" and store._db.total_changes > before
