"""The config file: validated at once, every problem with its key path, documented in full."""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest
from secrets_registry import secret

from syncd.config import SECTIONS, SOURCE_TYPES, load_config, parse_config
from syncd.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config.example.toml"
ENV = {"HOME": "/home/test"}
CONFIG_PASSWORD = secret("hunter2-Cfg9-syncd")


def problems(data: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, environ=ENV)
    assert caught.value.exit_code == 78
    return [str(problem) for problem in caught.value.problems]


def test_the_example_config_is_valid():
    config = load_config(EXAMPLE, environ=ENV)
    assert set(config.sources) == {"local", "takeout", "work", "cal", "contacts", "holidays",
                                   "gmail", "gcal", "gcontacts"}
    assert config.people[0].tier == "close"


def test_the_example_config_documents_every_option_of_every_section_and_source_type():
    text = EXAMPLE.read_text()
    documented = set(re.findall(r"^#?\s*([a-z_]+)\s*=", text, re.MULTILINE))
    for section, options in SECTIONS.items():
        assert f"[{section}]" in text
        assert set(options) <= documented, (section, set(options) - documented)
    for source_type, options in SOURCE_TYPES.items():
        assert f'type = "{source_type}"' in text, source_type
        assert set(options) <= documented, (source_type, set(options) - documented)


def test_the_starter_config_is_valid():
    starter = ROOT / "syncd" / "starter_config.toml"
    parse_config(tomllib.loads(starter.read_text()), environ=ENV)


def test_every_problem_is_reported_at_once_with_its_key_path():
    found = problems({
        "rules": {"max_recipients": "many", "ignroe": ["x@example.com"]},
        "sources": {"work": {"type": "maildir"}, "Bad Name": {"type": "maildir", "path": "/x"}},
        "people": [{"name": "Ann", "addresses": ["not an address"], "tier": "closee"}],
        "tiers": {"close": "fortnight"},
    })
    assert "rules.max_recipients: must be a whole number, not a string" in found
    assert "rules.ignroe: unknown key (did you mean 'ignore'?)" in found
    assert "sources.work.path: is required" in found
    assert any(p.startswith("sources.Bad Name:") for p in found)
    assert any(p.startswith("people[0].addresses: 'not an address'") for p in found)
    assert any(p.startswith("tiers.close: 'fortnight' is not a duration") for p in found)
    assert len(found) >= 6


def test_unknown_sections_and_source_types_get_a_did_you_mean():
    found = problems({"rule": {}, "sources": {"x": {"type": "maildri", "path": "/m"}}})
    assert "rule: unknown section (did you mean 'rules'?)" in found
    assert any("sources.x.type" in p and "did you mean 'maildir'" in p for p in found)


def test_a_tier_must_exist():
    found = problems({"tiers": {"close": "14d"},
                      "people": [{"name": "A", "addresses": ["a@example.com"], "tier": "clse"}]})
    assert any("people[0].tier" in p and "did you mean 'close'" in p for p in found)


def test_an_address_belongs_to_one_person_only():
    found = problems({"people": [{"name": "A", "addresses": ["a@example.com"]},
                                 {"name": "B", "addresses": ["A@Example.com"]}]})
    assert any("already belongs to A" in p for p in found)


def test_defaults_fill_in(monkeypatch):
    monkeypatch.setenv("HOME", "/home/test")
    config = parse_config({"sources": {"m": {"type": "mbox", "path": "~/mail.mbox"}}},
                          environ=ENV)
    assert config.rules.max_recipients == 20
    assert config.sources["m"].every == timedelta(minutes=15)
    assert config.sources["m"].options["path"] == "/home/test/mail.mbox"
    assert config.state_dir == Path("/home/test/.local/state/syncd")


def test_state_dir_follows_xdg_state_home():
    config = parse_config({}, environ={"HOME": "/h", "XDG_STATE_HOME": "/state"})
    assert config.state_dir == Path("/state/syncd")


def test_a_missing_file_says_how_to_create_one(tmp_path):
    with pytest.raises(ConfigError, match=re.escape(f"run: syncd -c {tmp_path}/nope.toml init")):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match=r"run: syncd init$"):
        load_config(environ={"HOME": str(tmp_path)})


def test_broken_toml_is_a_config_error(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[rules\nmax = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_a_password_in_the_config_is_refused_without_echoing_it():
    found = problems({"sources": {"work": {"type": "imap", "host": "imap.example.org",
                                           "username": "me", "password": CONFIG_PASSWORD}}})
    assert found == ["sources.work.password: passwords never go in the config file: set "
                     "password_command, or run: syncd auth work"]
    assert not any(CONFIG_PASSWORD in problem for problem in found)


def test_tiers_map_names_existing_tiers():
    found = problems({"tiers": {"close": "14d", "map": {"Close friends": "clsoe",
                                                          "Family": 3}}})
    assert any('tiers.map."Close friends"' in p and "did you mean 'close'" in p for p in found)
    assert any('tiers.map."Family"' in p and "must be a tier name" in p for p in found)
    config = parse_config({"tiers": {"close": "14d", "map": {"Close friends": "close"}}},
                          environ=ENV)
    assert dict(config.tiers) == {"close": timedelta(days=14)}
    assert dict(config.tier_map) == {"Close friends": "close"}


def test_birthday_notifications_are_off_by_default_and_take_a_duration():
    assert parse_config({}, environ=ENV).notify.birthdays is None
    config = parse_config({"notify": {"birthdays": "3d"}}, environ=ENV)
    assert config.notify.birthdays == timedelta(days=3)
    assert any("notify.birthdays" in p for p in problems({"notify": {"birthdays": "soon"}}))
