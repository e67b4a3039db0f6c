"""First run end to end (real processes): a mailbox with nothing configured but itself.

With nobody tracked, `syncd due` and `syncd people` print one sentence on what to do and the
five strongest ties instead of an empty table, and so does the summary of the first sync.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from syncd.demo_data import write_sample_data
from tests.system.test_cli import syncd

HINT = "Nobody is tracked yet: track the people who matter with syncd track #ID"


def suggestion_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("#")]


@pytest.fixture
def bare_mailbox(tmp_path):
    """Only a Maildir and an mbox: no [me], no tiers, no people (mine come from Sent)."""
    data = write_sample_data(tmp_path / "data", now=datetime.now(UTC))
    config = tmp_path / "config.toml"
    config.write_text(f'[general]\nstate_dir = "{tmp_path / "state"}"\n\n'
                      f'[sources.mail]\ntype = "maildir"\npath = "{data.maildir}"\n\n'
                      f'[sources.archive]\ntype = "mbox"\npath = "{data.mbox}"\n')
    return config


def test_before_the_first_sync_due_says_what_to_do(bare_mailbox):
    result = syncd("due", config=bare_mailbox)
    assert result.stdout.startswith("Nobody is tracked yet, and no tie in your history is "
                                    "strong enough to suggest: run syncd sync")


def test_the_first_sync_due_and_people_show_the_five_strongest_ties(bare_mailbox):
    synced = syncd("sync", config=bare_mailbox)
    assert HINT in synced.stdout
    top = suggestion_lines(synced.stdout)
    assert len(top) == 5
    for command in ("due", "people"):
        result = syncd(command, config=bare_mailbox)
        assert result.stdout.startswith(HINT)
        assert suggestion_lines(result.stdout) == top
    listed = json.loads(syncd("suggest", "--json", config=bare_mailbox).stdout)
    scores = [person["score"] for person in listed]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 100 for s in scores)
    assert {person["group"] for person in listed} <= {"track", "reconnect"}
    assert [f"#{person['id']}" for person in listed if person["group"] == "track"][:5] == [
        line.split("\t")[0] for line in top]
    # Never suggested: list, bulk and noreply senders, whatever they sent.
    addresses = {address for person in listed for address in person["addresses"]}
    assert not any("noreply" in address or "news" in address for address in addresses)


def test_tracking_a_suggestion_by_its_id_ends_the_first_run(bare_mailbox):
    syncd("sync", config=bare_mailbox)
    [first] = json.loads(syncd("suggest", "--json", "--limit", "1", config=bare_mailbox)
                         .stdout)[:1]
    syncd("track", f"#{first['id']}", config=bare_mailbox)
    people = syncd("people", config=bare_mailbox).stdout
    assert HINT not in people and first["name"] in people
    why = syncd("show", f"#{first['id']}", "--why", config=bare_mailbox).stdout
    assert "tracked because: syncd track" in why
    again = json.loads(syncd("suggest", "--json", config=bare_mailbox).stdout)
    assert first["id"] not in [person["id"] for person in again]


def test_auto_track_tracks_the_strongest_at_the_end_of_a_sync(bare_mailbox):
    bare_mailbox.write_text(bare_mailbox.read_text().replace("[general]\n",
                                                             "[general]\nauto_track = 3\n"))
    synced = syncd("sync", config=bare_mailbox)
    assert HINT not in synced.stdout
    tracked = json.loads(syncd("people", "--json", config=bare_mailbox).stdout)
    assert len(tracked) == 3
    assert {person["cadence_source"] for person in tracked} == {"inferred"}
    why = syncd("show", f"#{tracked[0]['id']}", "--why", config=bare_mailbox).stdout
    assert "tracked because: auto_track: score" in why
    syncd("untrack", f"#{tracked[0]['id']}", config=bare_mailbox)
    assert "untracked by you: never suggested or auto-tracked again" in syncd(
        "show", f"#{tracked[0]['id']}", "--why", config=bare_mailbox).stdout
    syncd("sync", "--full", config=bare_mailbox)
    again = {person["id"] for person in json.loads(
        syncd("people", "--json", config=bare_mailbox).stdout)}
    assert tracked[0]["id"] not in again and len(again) == 3


def test_the_demo_shows_what_is_worth_keeping_beyond_the_configured_people():
    result = syncd("demo")
    assert "also worth keeping, found in the history itself (syncd suggest" in result.stdout
    assert len(suggestion_lines(result.stdout)) == 5


def test_export_writes_a_private_file_in_each_format(bare_mailbox, tmp_path):
    syncd("sync", config=bare_mailbox)
    for output_format in ("json", "csv", "vcard"):
        out = tmp_path / f"people.{output_format}"
        result = syncd("export", "--format", output_format, "--out", str(out),
                       config=bare_mailbox)
        assert f"to {out} ({output_format})" in result.stderr
        assert out.stat().st_mode & 0o777 == 0o600
    document = json.loads((tmp_path / "people.json").read_text())
    assert document["people"] and {"score"}.isdisjoint(document["people"][0])
    assert (tmp_path / "people.vcard").read_text().startswith("BEGIN:VCARD\nVERSION:4.0\n")
    wrong = syncd("export", "--format", "xml", config=bare_mailbox, check=2)
    assert "'xml' is not one of 'json', 'csv', 'vcard'" in wrong.stderr
