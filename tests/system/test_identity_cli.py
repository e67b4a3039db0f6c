"""syncd merge, split and people --duplicates end to end: real processes, a real Maildir."""

from __future__ import annotations

import json
import mailbox
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

from tests.system.test_cli import syncd

ME = "me@example.org"
NOW = datetime.now(UTC).replace(microsecond=0)
MAIL = [  # (sender, to, cc, days ago)
    ("Meher Tandon <Meher.T@gmail.com>", ME, "", 40),
    (ME, "Meher Tandon <Meher.T@gmail.com>", "", 39),
    ("Meher Tandon <meher@work.example>", ME, "", 30),
    (ME, "Meher Tandon <meher@work.example>", "Meher Tandon <Meher.T@gmail.com>", 20),
    ("John Smith <john@home.example>", ME, "", 12),
    ("j.smith@acme.example", ME, "", 10),
    (ME, "j.smith@acme.example", "", 9),
]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    for number, (sender, to, cc, days) in enumerate(MAIL):
        message = EmailMessage()
        message["From"], message["To"] = sender, to
        if cc:
            message["Cc"] = cc
        message["Date"] = format_datetime(NOW - timedelta(days=days))
        message["Message-ID"] = f"<m{number}@test.example>"
        message["Subject"] = "hello"
        message.set_content("hi")
        box.add(message)
    path = tmp_path / "config.toml"
    path.write_text(f'[general]\nstate_dir = "{tmp_path / "state"}"\n\n'
                    f'[me]\naddresses = ["{ME}"]\n\n'
                    f'[sources.mail]\ntype = "maildir"\npath = "{tmp_path / "Maildir"}"\n')
    syncd("sync", config=path)
    return path


def everyone(config: Path) -> dict[tuple[str, ...], dict[str, object]]:
    rows = json.loads(syncd("people", "--all", "--json", config=config).stdout)
    return {tuple(row["canonical_addresses"]): {key: value for key, value in row.items()
                                                if key != "id"} for row in rows}


def test_duplicates_are_suggested_with_their_reason_and_never_applied(config):
    before = everyone(config)
    found = json.loads(syncd("people", "--duplicates", "--json", config=config).stdout)
    reasons = {tuple(sorted(entry["addresses"])): entry["reason"] for entry in found}
    assert reasons == {
        ("Meher.T@gmail.com", "meher@work.example"):
            "the same name, Meher Tandon, at different addresses",
        ("j.smith@acme.example", "john@home.example"):
            "the name John Smith matches the local part j.smith"}
    assert all(set(entry) == {"people", "addresses", "reason"} for entry in found)
    assert everyone(config) == before
    text = syncd("people", "--duplicates", config=config).stdout
    line = next(line for line in text.splitlines() if "Meher Tandon" in line)
    assert "Meher.T@gmail.com" in line and "meher@work.example" in line


def test_merge_then_split_restores_everything_and_addresses_show_as_written(config):
    before = everyone(config)
    assert before[("mehert@gmail.com",)]["addresses"] == ["Meher.T@gmail.com"]
    merged = syncd("merge", "Meher.T@gmail.com", "meher@work.example", config=config)
    assert "merged 2 people" in merged.stdout and "Meher.T@gmail.com" in merged.stdout
    after = everyone(config)
    both = after[("meher@work.example", "mehert@gmail.com")]
    assert both["interactions"] == 4  # five contacts, one mail to both addresses
    shown = json.loads(syncd("show", "meher@work.example", "--json", config=config).stdout)
    assert set(shown["addresses"]) == {"Meher.T@gmail.com", "meher@work.example"}
    syncd("split", "meher@work.example", "mehert@gmail.com", config=config)
    assert everyone(config) == before


@pytest.mark.parametrize(("args", "says"), [
    (("merge", "john@home.example", "john@home.example"), "cannot be merged with themself"),
    (("merge", "john@home.example", "nobody@nowhere.example"), "no person matches"),
    (("merge", "john@home.example"), "two or more people"),
    (("split", "john@home.example", "john@home.example"), "only address"),
    (("split", "john@home.example", "j.smith@acme.example"), "is not an address of"),
])
def test_bad_merges_and_splits_are_refused_in_one_sentence_and_change_nothing(config, args,
                                                                             says):
    before = everyone(config)
    journal = (config.parent / "state" / "choices.jsonl")
    size = journal.stat().st_size if journal.exists() else 0
    result = syncd(*args, config=config, check=2)
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert everyone(config) == before
    assert (journal.stat().st_size if journal.exists() else 0) == size
