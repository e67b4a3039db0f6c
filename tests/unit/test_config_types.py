"""Any value of any JSON type in any key of the config spec gives a keyed problem, never a crash.

A property-based sweep (hypothesis) over the spec itself: every key of every section, of every
source type and of ``[[people]]``, given an int, a string, a boolean, a list, a table or an
empty string, either is accepted or yields a problem whose key path names that key.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncd.config import (
    _COMMON_SOURCE_OPTIONS,
    PERSON_KEYS,
    SECTIONS,
    SOURCE_TYPES,
    parse_config,
)
from syncd.errors import ConfigError

ENV = {"HOME": "/home/test"}

#: The smallest valid table of each source type; the sweep changes one key at a time.
VALID_SOURCES: dict[str, dict[str, Any]] = {
    "maildir": {"type": "maildir", "path": "/mail"},
    "mbox": {"type": "mbox", "path": "/mail.mbox"},
    "imap": {"type": "imap", "host": "imap.example.org", "username": "me"},
    "caldav": {"type": "caldav", "url": "https://dav.example.org/", "username": "me"},
    "carddav": {"type": "carddav", "url": "https://dav.example.org/", "username": "me"},
    "ics": {"type": "ics", "path": "/calendars"},
    "gmail": {"type": "gmail", "client_secrets": "/client_secret.json"},
    "google_calendar": {"type": "google_calendar", "client_secrets": "/client_secret.json"},
    "google_contacts": {"type": "google_contacts", "client_secrets": "/client_secret.json"},
}
VALID_PERSON = {"name": "Ann", "addresses": ["ann@example.com"]}

#: Wrong JSON types, as the issue lists them: int, str, bool, list, table, empty string.
WRONG_VALUES = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.booleans(),
    st.lists(st.one_of(st.integers(), st.text(max_size=10), st.booleans()), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.just(""),
    st.just([]),
    st.just({}),
)
SWEEP = settings(max_examples=40, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])


def outcome(data: dict[str, Any], key_path: str) -> None:
    """Parse ``data``: accepted, or refused with a problem at ``key_path`` (or inside it)."""
    try:
        parse_config(data, environ=ENV)
    except ConfigError as error:
        paths = [problem.path for problem in error.problems]
        assert any(path == key_path or path.startswith((key_path + ".", key_path + "["))
                   for path in paths), (
            key_path, [str(problem) for problem in error.problems])


def test_the_valid_tables_the_sweep_starts_from_are_valid():
    assert set(VALID_SOURCES) == set(SOURCE_TYPES)
    parse_config({"sources": {f"s{index}": table for index, table
                              in enumerate(VALID_SOURCES.values())},
                  "people": [VALID_PERSON]}, environ=ENV)


@pytest.mark.parametrize(("source_type", "key"), [
    (source_type, key) for source_type, options in SOURCE_TYPES.items()
    for key in [*_COMMON_SOURCE_OPTIONS, *options]])
@SWEEP
@given(value=WRONG_VALUES)
def test_every_key_of_every_source_type_takes_any_value_without_a_traceback(
        source_type: str, key: str, value: Any) -> None:
    table = {**VALID_SOURCES[source_type], key: value}
    outcome({"sources": {"mail": table}}, f"sources.mail.{key}")


@pytest.mark.parametrize(("section", "key"), [
    (section, key) for section, options in SECTIONS.items() for key in options])
@SWEEP
@given(value=WRONG_VALUES)
def test_every_key_of_every_section_takes_any_value_without_a_traceback(
        section: str, key: str, value: Any) -> None:
    outcome({section: {key: value}}, f"{section}.{key}")


@pytest.mark.parametrize("key", list(PERSON_KEYS))
@SWEEP
@given(value=WRONG_VALUES)
def test_every_key_of_a_person_takes_any_value_without_a_traceback(key: str, value: Any) -> None:
    outcome({"tiers": {"close": "2w"}, "people": [{**VALID_PERSON, key: value}]},
            f"people[0].{key}")


@pytest.mark.parametrize("where", ["general", "me", "rules", "notify", "tiers", "sources",
                                   "people", "sources.mail", "tiers.close", "people[0]"])
@SWEEP
@given(value=WRONG_VALUES)
def test_a_whole_table_of_the_wrong_type_is_a_keyed_problem(where: str, value: Any) -> None:
    data: dict[str, Any]
    if where == "sources.mail":
        data = {"sources": {"mail": value}}
    elif where == "tiers.close":
        data = {"tiers": {"close": value}}
    elif where == "people[0]":
        data = {"people": [value]}
    else:
        data = {where: value}
    outcome(data, where)


@pytest.mark.parametrize("text", ["every = 15", 'every = "15 fortnights"', 'every = ""',
                                  'enabled = "yes"'])
def test_the_reported_wrong_every_and_enabled_values_are_keyed_problems(text: str) -> None:
    import tomllib

    data = tomllib.loads(f'[sources.mail]\ntype = "maildir"\npath = "/mail"\n{text}\n')
    with pytest.raises(ConfigError) as caught:
        parse_config(data, environ=ENV)
    key = text.split(" ")[0]
    assert [problem.path for problem in caught.value.problems] == [f"sources.mail.{key}"]


@pytest.mark.parametrize("name", ["Europe", "a" * 300, "a\x00b", "..", "Europe/", "UTC/x"])
def test_a_time_zone_name_the_tz_database_cannot_open_is_a_keyed_problem(name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"general": {"timezone": name}}, environ=ENV)
    assert [problem.path for problem in caught.value.problems] == ["general.timezone"]


@pytest.mark.parametrize("name", ["Europe", "a" * 300])
def test_a_tz_variable_naming_no_zone_falls_back_to_the_system_zone(name: str) -> None:
    config = parse_config({}, environ={**ENV, "TZ": name})
    assert config.timezone is not None
