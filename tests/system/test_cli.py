"""The command line end to end: real processes, real files, the exit codes of DESIGN §6."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syncd.demo import demo_config_text
from syncd.demo_data import DEMO_LAST_CONTACT, write_sample_data

JSON_FIELDS = {"id", "name", "addresses", "tracked", "tier", "cadence_days", "cadence_source",
               "last_contact", "last_outgoing", "last_incoming", "last_meeting", "interactions",
               "due_at", "overdue_days", "snoozed_until"}


def syncd(*args: str, config: Path | None = None, check: int | None = 0,
          timeout: float = 120) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "syncd"]
    if config is not None:
        command += ["-c", str(config)]
    result = subprocess.run([*command, *args], capture_output=True, text=True, timeout=timeout,
                            env=os.environ.copy(), stdin=subprocess.DEVNULL)
    if check is not None:
        assert result.returncode == check, (result.stdout, result.stderr)
    return result


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The demo's year of mail and a config for it (state in the same directory)."""
    root = tmp_path_factory.mktemp("sample")
    data = write_sample_data(root / "data", now=datetime.now(UTC))
    config = root / "config.toml"
    config.write_text(demo_config_text(data, root / "state"))
    return config


@pytest.fixture
def synced(sample, tmp_path):
    """A private copy of the sample config with its own state, synced once."""
    config = tmp_path / "config.toml"
    config.write_text(sample.read_text().replace(str(sample.parent / "state"),
                                                 str(tmp_path / "state")))
    syncd("sync", config=config)
    return config


def test_demo_runs_the_whole_pipeline_and_shows_who_is_due():
    result = syncd("demo")
    assert "Jordan Blake" in result.stdout
    assert "removed when the demo ends (keep it with: syncd demo --keep DIR)" in result.stdout
    assert "mailing-list messages ignored" in result.stdout
    assert "bulk messages ignored" in result.stdout
    assert "delivery reports (bounces) ignored" in result.stdout
    assert "1 automatic reply ignored" in result.stdout  # one, said in the singular
    assert "you will see Theo Rivera on" in result.stdout  # lunch in 3 days holds him back
    assert "big meetings ignored" in result.stdout and "1 meeting I declined" in result.stdout


def test_init_writes_a_starter_config_once_and_never_overwrites(isolated_home):
    path = isolated_home / ".config" / "syncd" / "config.toml"
    result = syncd("init")
    assert str(path) in result.stdout and path.exists()
    before = path.read_text()
    again = syncd("init", check=1)
    assert "already exists" in again.stderr
    assert path.read_text() == before
    assert "ok" in syncd("config", "check").stdout


def test_an_invalid_config_lists_every_problem_and_exits_78(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[rules]\nmax_recipient = 3\n[sources.m]\ntype = "maildir"\n')
    result = syncd("config", "check", config=config, check=78)
    assert "rules.max_recipient: unknown key (did you mean 'max_recipients'?)" in result.stderr
    assert "sources.m.path: is required" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_config_says_to_run_init(tmp_path):
    result = syncd("due", config=tmp_path / "missing.toml", check=78)
    assert f"syncd -c {tmp_path / 'missing.toml'} init" in result.stderr


def test_due_json_lists_the_quiet_ties_most_overdue_first(synced):
    ties = json.loads(syncd("due", "--json", config=synced).stdout)
    assert ties and set(ties[0]) >= JSON_FIELDS
    names = [tie["name"] for tie in ties]
    assert names[:2] == ["Jordan Blake", "Riley Novak"]
    jordan = ties[0]
    assert jordan["status"] == "quiet" and jordan["cadence_days"] == 14.0
    assert jordan["last_contact"].endswith("Z")
    days_since = DEMO_LAST_CONTACT["Jordan Blake"].days
    assert round(jordan["overdue_days"]) in (days_since - 14, days_since - 13)


def test_a_second_sync_with_nothing_new_reads_nothing(synced):
    result = syncd("sync", config=synced)
    assert all(": 0 read," in line for line in result.stdout.splitlines()), result.stdout


def test_a_full_sync_rereads_everything_and_still_counts_nothing_twice(synced):
    before = json.loads(syncd("people", "--all", "--json", config=synced).stdout)
    result = syncd("sync", "--full", config=synced)
    reread = {line.split(":")[0]: int(line.split()[1]) for line in result.stdout.splitlines()}
    assert reread["mail"] > 600 and reread["archive"] > 300  # everything, not just new mail
    assert result.stdout.count(" 0 new contacts") == 2
    after = json.loads(syncd("people", "--all", "--json", config=synced).stdout)
    assert after == before


def test_people_all_includes_one_way_correspondents_but_never_list_senders(synced):
    everyone = json.loads(syncd("people", "--all", "--json", config=synced).stdout)
    addresses = {a for person in everyone for a in person["addresses"]}
    tracked = json.loads(syncd("people", "--json", config=synced).stdout)
    assert len(tracked) == 8 and all(person["tracked"] for person in tracked)
    assert len(everyone) > len(tracked)
    assert not any(a.startswith(("noreply", "no-reply", "mailer-daemon")) for a in addresses)
    one_way = [p for p in everyone if not p["two_way"]]
    # two_way means contact went both ways: a meeting, a logged contact, or mail each way.
    assert one_way and all(None in (p["last_outgoing"], p["last_incoming"])
                           and p["last_meeting"] is None for p in one_way)
    assert all(p["last_meeting"] or (p["last_outgoing"] and p["last_incoming"]) or
               p["last_manual"] for p in everyone if p["two_way"])


def test_show_why_explains_decisions_with_reasons(synced):
    result = syncd("show", "Jordan Blake", "--why", config=synced)
    assert "jordan" in result.stdout.lower()
    assert "counted:" in result.stdout
    assert "not counted: mailing-list mail" in result.stdout


def test_show_an_unknown_person_exits_1_with_suggestions(synced):
    result = syncd("show", "Jordn Blake", config=synced, check=1)
    assert "did you mean" in result.stderr and "Jordan Blake" in result.stderr


def test_track_snooze_done_untrack(synced):
    everyone = json.loads(syncd("people", "--all", "--json", config=synced).stdout)
    stranger = next(p for p in everyone if not p["tracked"] and p["two_way"])
    address = stranger["addresses"][0]
    syncd("track", address, "--every", "2w", config=synced)
    shown = json.loads(syncd("show", address, "--json", config=synced).stdout)
    assert shown["tracked"] and shown["cadence_days"] == 14.0

    syncd("snooze", "Jordan Blake", "1w", config=synced)
    due = json.loads(syncd("due", "--json", config=synced).stdout)
    assert "Jordan Blake" not in [tie["name"] for tie in due]

    syncd("done", "Riley Novak", "--note", "coffee", config=synced)
    riley = json.loads(syncd("show", "Riley Novak", "--json", config=synced).stdout)
    assert riley["status"] == "ok" and riley["last_manual"] is not None
    assert riley["timeline"][0]["note"] == "coffee"

    syncd("untrack", address, config=synced)
    assert not json.loads(syncd("show", address, "--json", config=synced).stdout)["tracked"]


def test_done_rejects_a_date_in_the_future(synced):
    result = syncd("done", "Riley Novak", "--at", "2999-01-01", config=synced, check=2)
    assert "future" in result.stderr


def test_ignore_hides_people_from_listings(synced):
    everyone = json.loads(syncd("people", "--all", "--json", config=synced).stdout)
    stranger = next(p for p in everyone if not p["tracked"])
    syncd("ignore", stranger["addresses"][0], config=synced)
    after = json.loads(syncd("people", "--all", "--json", config=synced).stdout)
    assert stranger["id"] not in [p["id"] for p in after]


def test_import_vcard_merges_addresses_and_tracks_by_category(synced, tmp_path):
    card = tmp_path / "contacts.vcf"
    card.write_text("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Casey New\r\n"
                    "EMAIL;TYPE=home:casey@example.net\r\nEMAIL:casey@work.example\r\n"
                    "CATEGORIES:friends,Family\r\nEND:VCARD\r\n"
                    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No Mail\r\nEND:VCARD\r\n")
    result = syncd("import", "vcard", str(card), config=synced)
    assert "imported 1 person (2 addresses), 1 tracked" in result.stdout
    casey = json.loads(syncd("show", "casey@work.example", "--json", config=synced).stdout)
    assert casey["name"] == "Casey New" and casey["tier"] == "friends"
    assert set(casey["addresses"]) == {"casey@example.net", "casey@work.example"}


def test_an_unknown_source_name_is_a_usage_error(synced):
    result = syncd("sync", "nope", config=synced, check=2)
    assert "no source named 'nope'" in result.stderr


def test_status_reports_skipped_items_with_reasons(synced):
    sources = json.loads(syncd("status", "--json", config=synced).stdout)
    assert {s["name"] for s in sources} == {"mail", "archive"}
    assert all(s["last_error"] is None and s["last_success"] for s in sources)
    assert sum(sum(s["skipped"].values()) for s in sources) >= 1


def test_one_failing_source_does_not_stop_the_others(synced, tmp_path):
    text = synced.read_text() + f'\n[sources.gone]\ntype = "maildir"\npath = "{tmp_path}/nope"\n'
    synced.write_text(text)
    result = syncd("sync", config=synced, check=1)
    assert "gone: FAILED" in result.stderr and "sources.gone.path" in result.stderr
    assert "mail: 0 read" in result.stdout
    status = {s["name"]: s for s in json.loads(syncd("status", "--json", config=synced).stdout)}
    assert status["gone"]["last_error"] and status["mail"]["last_error"] is None


def test_status_lists_configured_sources_never_synced_with_the_command_to_run(synced, tmp_path):
    synced.write_text(synced.read_text()
                      + f'\n[sources.later]\ntype = "mbox"\npath = "{tmp_path}/later.mbox"\n')
    result = syncd("status", config=synced)
    assert "later: never synced; run: syncd sync later" in result.stdout
    sources = {s["name"]: s for s in json.loads(syncd("status", "--json", config=synced).stdout)}
    assert sources["later"]["last_success"] is None and sources["later"]["configured"]
    assert sources["mail"]["paused"] is False


def test_show_draws_the_contact_strip_and_the_gap_in_plain_text_in_a_pipe(synced):
    out = syncd("show", "Jordan Blake", config=synced).stdout
    assert "\x1b[" not in out
    lines = out.splitlines()
    caption = next(index for index, line in enumerate(lines) if "last 24 months" in line)
    shades, marks = lines[caption + 2], lines[caption + 3]
    assert len(shades) == 2 + 48 and set(shades.strip()) <= set("·░▒▓█")
    assert "↕" in marks  # a two-way tie
    assert any(line.strip().startswith("now quiet") for line in lines)
    assert any(line.strip().startswith("usually every") and "now 9w quiet" in line
               for line in lines)  # Jordan went quiet about two months ago


def test_show_json_gains_24_months_oldest_first(synced):
    shown = json.loads(syncd("show", "Jordan Blake", "--json", config=synced).stdout)
    monthly = shown["monthly"]
    assert len(monthly) == 24
    assert monthly[-1]["month"] == datetime.now(UTC).strftime("%Y-%m")  # the demo is in UTC
    assert [m["month"] for m in monthly] == sorted(m["month"] for m in monthly)
    assert set(monthly[0]) == {"month", "contact_days", "outgoing", "incoming", "meetings",
                               "manual"}
    assert sum(m["contact_days"] for m in monthly) > 20
    assert monthly[-1]["contact_days"] == 0  # quiet for two months


def _on_a_terminal(config: Path, *args: str, env: dict[str, str]) -> str:
    """Run syncd with stdout on a pseudo-terminal; return what it printed."""
    import pty

    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "syncd", "-c", str(config), *args],
                               stdout=follower, stderr=subprocess.PIPE, env=env,
                               stdin=subprocess.DEVNULL)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the terminal closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=60) == 0
    return b"".join(chunks).decode()


def test_show_colours_the_strip_on_a_terminal_unless_no_color_is_set(synced):
    coloured = _on_a_terminal(synced, "show", "Jordan Blake", env=os.environ.copy())
    assert "\x1b[" in coloured and "last 24 months" in coloured
    plain = _on_a_terminal(synced, "show", "Jordan Blake", env={**os.environ, "NO_COLOR": "1"})
    assert "\x1b[" not in plain and "last 24 months" in plain


def test_import_vcard_of_a_directory_skips_broken_cards_with_reasons(synced):
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "vcard"
    result = syncd("import", "vcard", str(fixtures), config=synced)
    assert "imported 5 people (7 addresses)" in result.stdout
    assert "2 broken cards skipped" in result.stdout
    assert "no END:VCARD" in result.stderr and "UID ann-1" in result.stderr
    again = syncd("import", "vcard", str(fixtures), config=synced)
    assert "0 tracked by category" in again.stdout
    bob = json.loads(syncd("show", "bob@roe.example", "--json", config=synced).stdout)
    assert bob["name"] == "Bob Roe" and bob["tier"] == "friends"


def test_due_lists_upcoming_birthdays_of_tracked_people(synced, tmp_path):
    from datetime import UTC, datetime, timedelta

    soon = (datetime.now(UTC) + timedelta(days=5)).date()
    later = (datetime.now(UTC) + timedelta(days=40)).date()
    card = tmp_path / "birthdays.vcf"
    card.write_text(f"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Casey Soon\r\nEMAIL:casey@example.net\r\n"
                    f"CATEGORIES:friends\r\nBDAY:1990{soon:%m%d}\r\nEND:VCARD\r\n"
                    f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Lee Later\r\nEMAIL:lee@example.net\r\n"
                    f"CATEGORIES:friends\r\nBDAY:--{later:%m-%d}\r\nEND:VCARD\r\n"
                    f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Untracked Soon\r\nEMAIL:u@example.net"
                    f"\r\nBDAY:--{soon:%m%d}\r\nEND:VCARD\r\n")
    syncd("import", "vcard", str(card), config=synced)
    rows = json.loads(syncd("due", "--json", config=synced).stdout)
    birthdays = {row["name"]: row["upcoming_birthday"] for row in rows
                 if row["upcoming_birthday"]}
    assert list(birthdays) == ["Casey Soon"]
    assert abs((datetime.fromisoformat(birthdays["Casey Soon"]).date() - soon).days) <= 1
    shown = syncd("due", config=synced).stdout
    assert "birthday: Casey Soon on" in shown and "(turns " in shown
    assert "birthday: Lee Later" not in shown and "Untracked Soon" not in shown
