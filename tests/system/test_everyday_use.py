"""Everyday use as a new user meets it (issue #10): the CLI as a process on a small Maildir.

The world: I write to Carol, Alison, Carla and Dave and they write back; I wrote to Bob Builder
three times and he never replied; Alicia Junk only reaches my junk folder. Dave Old is listed
in ``[[people]]``; the configured time zone is America/Los_Angeles.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

ZONE = ZoneInfo("America/Los_Angeles")
ME = "me@example.org"
CONFIG_TEMPLATE = """\
[general]
state_dir = "{state}"
timezone = "America/Los_Angeles"

[me]
addresses = ["{me}"]

[sources.mail]
type = "maildir"
path = "{maildir}"

[tiers]
close = "14d"

[[people]]
name = "Dave Old"
addresses = ["dave@old.example"]
every = "2w"
"""


def syncd(*args: str, config: Path | None = None, check: int | None = 0,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "syncd"]
    if config is not None:
        command += ["-c", str(config)]
    result = subprocess.run([*command, *args], capture_output=True, text=True, timeout=120,
                            env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)
    if check is not None:
        assert result.returncode == check, (result.stdout, result.stderr)
    return result


def write_message(folder: Path, number: int, sender: str, to: str, days_ago: int) -> None:
    when = datetime.now(UTC) - timedelta(days=days_ago)
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "cur" / f"{int(when.timestamp())}.{number}.test:2,S").write_text(
        f"From: {sender}\nTo: {to}\nDate: {format_datetime(when)}\n"
        f"Message-ID: <m{number}@example.com>\nSubject: hello\n\nhi\n")


def write_world(root: Path) -> Path:
    maildir = root / "Maildir"
    inbox, sent, junk = maildir, maildir / ".Sent", maildir / ".Junk"
    me = f"Me <{ME}>"
    write_message(inbox, 1, "Carol Example <carol@example.org>", me, 10)
    write_message(sent, 2, me, "Carol Example <carol@example.org>", 9)
    write_message(inbox, 3, "Alison Friend <alison@friends.example>", me, 5)
    write_message(sent, 4, me, "Alison Friend <alison@friends.example>", 4)
    write_message(inbox, 5, "Dave Old <dave@old.example>", me, 40)
    write_message(sent, 6, me, "Dave Old <dave@old.example>", 41)
    for number, days in ((7, 30), (8, 20), (9, 12)):
        write_message(sent, number, me, "Bob Builder <bob@example.net>", days)
    write_message(junk, 10, "Alicia Junk <alicia@junk.example>", me, 2)
    write_message(sent, 11, me, "Carla Other <carla@example.com>", 6)
    write_message(inbox, 12, "Carla Other <carla@example.com>", me, 7)
    config = root / "config.toml"
    config.write_text(CONFIG_TEMPLATE.format(state=root / "state", me=ME, maildir=maildir))
    return config


@pytest.fixture
def world(tmp_path: Path) -> Path:
    config = write_world(tmp_path)
    syncd("sync", config=config)
    return config


def people(config: Path, *flags: str) -> dict[str, dict]:
    listed = json.loads(syncd("people", "--json", *flags, config=config).stdout)
    return {person["name"]: person for person in listed}


def shown(config: Path, person: str) -> dict:
    return json.loads(syncd("show", person, "--json", config=config).stdout)


# --- 3, 4: one source of truth for people settings ------------------------------------------


def test_changing_a_person_the_config_lists_is_refused_naming_the_line(world: Path) -> None:
    line = next(number for number, text in enumerate(world.read_text().splitlines(), start=1)
                if text == 'name = "Dave Old"')
    for command in (["untrack", "Dave Old"], ["track", "dave@old.example", "--every", "1w"],
                    ["track", "Dave", "--tier", "close"]):
        result = syncd(*command, config=world, check=2)
        assert (f"Dave Old is set in the config file {world} (line {line}); edit it there"
                in result.stderr), command
    dave = shown(world, "dave@old.example")
    assert dave["tracked"] and (dave["cadence_days"], dave["cadence_source"]) == (14.0, "person")


def test_tracking_someone_again_keeps_their_cadence(world: Path) -> None:
    syncd("track", "bob@example.net", "--every", "3w", config=world)
    again = syncd("track", "bob@example.net", config=world)
    assert "tracking Bob Builder every 3w (person)" in again.stdout
    bob = shown(world, "bob@example.net")
    assert (bob["cadence_days"], bob["cadence_source"]) == (21.0, "person")
    syncd("track", "bob@example.net", "--tier", "close", config=world)
    bob = shown(world, "bob@example.net")
    assert (bob["tier"], bob["cadence_days"], bob["cadence_source"]) == ("close", 14.0, "tier")


# --- 5: choices survive a rebuilt database ---------------------------------------------------


def test_choices_made_on_the_command_line_survive_moving_a_corrupt_database_away(
        world: Path) -> None:
    state = world.parent / "state"
    logged_on = (datetime.now(ZONE) - timedelta(days=3)).date().isoformat()
    syncd("track", "bob@example.net", "--every", "3w", config=world)
    syncd("snooze", "carol@example.org", "2w", config=world)
    syncd("done", "alison@friends.example", "--note", "coffee", "--at", logged_on, config=world)
    syncd("ignore", "carla@example.com", config=world)
    syncd("track", "carol@example.org", config=world)
    syncd("untrack", "carol@example.org", config=world)
    before = json.loads(syncd("people", "--all", "--json", config=world).stdout)
    assert (state / "choices.jsonl").stat().st_mode & 0o777 == 0o600

    for suffix in ("", "-wal", "-shm"):
        Path(f"{state / 'syncd.sqlite3'}{suffix}").unlink(missing_ok=True)
    (state / "syncd.sqlite3").write_bytes(b"this is not a database" * 100)
    broken = syncd("people", config=world, check=1)
    assert "move it away and run: syncd sync --full" in broken.stderr
    assert ("tracked people with their tier or cadence, snoozes, contacts logged with syncd "
            "done, ignore patterns, and merges and splits of people come back from "
            f"{state / 'choices.jsonl'}") in broken.stderr
    assert "lost are the record of alerts already sent" in broken.stderr

    (state / "syncd.sqlite3").rename(state / "broken.sqlite3")
    syncd("sync", "--full", config=world)
    after = json.loads(syncd("people", "--all", "--json", config=world).stdout)

    def without_ids(listing: list[dict]) -> list[dict]:
        return sorted(({k: v for k, v in person.items() if k != "id"} for person in listing),
                      key=lambda person: person["name"])

    assert without_ids(after) == without_ids(before)
    names = {person["name"]: person for person in after}
    assert names["Bob Builder"]["cadence_days"] == 21.0
    assert names["Carol Example"]["snoozed_until"] and not names["Carol Example"]["tracked"]
    assert names["Alison Friend"]["last_manual"] is not None
    assert "Carla Other" not in names
    assert "coffee" in syncd("show", "alison@friends.example", config=world).stdout


def test_snooze_clear_ends_a_snooze_and_unignore_shows_the_hidden_again(world: Path) -> None:
    syncd("snooze", "Carol", "1w", config=world)
    assert shown(world, "Carol")["snoozed_until"] is not None
    assert "no longer snoozed" in syncd("snooze", "Carol", "--clear", config=world).stdout
    assert shown(world, "Carol")["snoozed_until"] is None
    syncd("snooze", "Carol", config=world, check=2)  # neither DURATION nor --clear

    syncd("ignore", "carol@example.org", config=world)
    assert "Carol Example" not in people(world, "--all")
    result = syncd("unignore", "carol@example.org", config=world)
    assert "1 person shown again: Carol Example" in result.stdout
    assert "Carol Example" in people(world, "--all")
    missing = syncd("unignore", "@nowhere.example", config=world, check=2)
    assert "not an ignore pattern given with syncd ignore" in missing.stderr


# --- 6: ignore says whom it hides -------------------------------------------------------------


def test_ignore_names_whom_it_hides_warns_for_ties_and_my_own_addresses(world: Path) -> None:
    syncd("track", "carol@example.org", config=world)
    result = syncd("ignore", "*@example.*", config=world)
    assert "2 people hidden: Bob Builder, Carla Other" in result.stdout
    assert f"matches my own address {ME}" in result.stderr
    assert "matches Carol Example, whom you track: they stay listed" in result.stderr
    tracked, everyone = people(world), people(world, "--all")
    assert "Carol Example" in tracked and set(tracked) <= set(everyone)
    assert "Bob Builder" not in everyone
    why = syncd("show", "carol@example.org", "--why", config=world).stdout
    assert "ignored: matches *@example.* (syncd ignore)" in why
    assert "undo: syncd unignore *@example.*" in why


# --- 7: times in the configured zone ----------------------------------------------------------


def test_human_output_uses_the_configured_time_zone_and_json_stays_utc(world: Path) -> None:
    day = (datetime.now(ZONE) - timedelta(days=3)).date()
    noon = datetime.combine(day, time(12), tzinfo=ZONE)
    result = syncd("done", "Carol", "--at", day.isoformat(), config=world)
    assert f"at {day.isoformat()} 12:00 {noon:%Z}" in result.stdout
    assert "UTC" not in result.stdout
    assert shown(world, "Carol")["last_manual"] == f"{noon.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z"
    snoozed = syncd("snooze", "Carol", "1w", config=world).stdout
    assert snoozed.rstrip().endswith(("PST", "PDT")) and "UTC" not in snoozed
    page = syncd("show", "Carol", config=world).stdout
    assert f"{day.isoformat()} 12:00 {noon:%Z}" in page and "UTC" not in page
    status = syncd("status", config=world).stdout
    assert "last success" in status and "UTC" not in status


# --- 8, 9: sync output and paths that find nothing -------------------------------------------


def test_sync_on_a_terminal_shows_a_failure_once_and_no_log_line_in_the_spinner(
        world: Path) -> None:
    with world.open("a") as config:
        config.write(f'\n[sources.gone]\ntype = "maildir"\npath = "{world.parent / "nope"}"\n')
    main, terminal = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "syncd", "-c", str(world), "sync"],
                               stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal)
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(main)
    assert process.wait(timeout=60) == 1
    text = output.decode(errors="replace")
    assert text.count("does not exist") == 1, text
    assert "gone: FAILED: the Maildir" in text and "WARNING syncd.engine" not in text


def test_config_check_warns_for_paths_that_find_nothing_and_sync_fails_them(
        tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[sources.mail]\ntype = "maildir"\npath = "{tmp_path / "Mail"}"\n'
                      f'[sources.cal]\ntype = "ics"\npath = "{tmp_path / "cal"}/*.ics"\n'
                      f'[general]\nstate_dir = "{tmp_path / "state"}"\n')
    check = syncd("config", "check", config=config)
    assert f"warning: sources.mail.path: {tmp_path / 'Mail'} does not exist" in check.stderr
    assert f"warning: sources.cal.path: {tmp_path / 'cal'}/*.ics matches no file" in check.stderr
    (tmp_path / "Mail").mkdir()
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "Mail" / sub).mkdir()
    result = syncd("sync", config=config, check=1)
    assert "cal: FAILED:" in result.stderr and "matches no .ics file" in result.stderr
    assert "cal: 0 read" not in result.stdout


# --- 10: --json fields mean one thing ---------------------------------------------------------


def test_json_status_two_way_and_overdue_days_mean_one_thing(world: Path) -> None:
    everyone = people(world, "--all")
    bob, carol, dave = (everyone[name] for name in ("Bob Builder", "Carol Example", "Dave Old"))
    assert not bob["tracked"] and bob["status"] == "untracked"
    assert bob["two_way"] is False  # three messages to him, never a reply
    assert carol["two_way"] is True
    assert dave["status"] == "quiet" and dave["overdue_days"] > 0
    syncd("track", "Bob", "--every", "1y", config=world)
    bob = shown(world, "Bob")
    assert bob["status"] == "ok" and bob["overdue_days"] is None and bob["due_at"]


# --- 11: finding a person --------------------------------------------------------------------


def test_a_unique_first_name_or_prefix_finds_the_person(world: Path) -> None:
    assert "tracking Bob Builder" in syncd("track", "Bob", config=world).stdout
    # Alicia Junk starts the same way, but only reached the junk folder: Alison is the tie.
    assert shown(world, "Ali")["name"] == "Alison Friend"
    carol = shown(world, "carol@example.org")
    assert shown(world, f"#{carol['id']}")["name"] == "Carol Example"
    several = syncd("show", "Car", config=world, check=1)
    assert "2 people match 'Car'" in several.stderr and "Carla Other <carla@example.com>" in (
        several.stderr)


def test_suggestions_come_from_counted_people_once_each(world: Path) -> None:
    result = syncd("show", "Alisn", config=world, check=1)
    assert "did you mean: Alison Friend <alison@friends.example>?" in result.stderr
    assert "Alicia" not in result.stderr
    assert "#ID" in syncd("track", "--help").stdout


# --- 12: smaller things -----------------------------------------------------------------------


def test_the_example_config_ships_in_the_package_and_the_starter_points_at_it(
        isolated_home: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "config.example.toml"
    assert syncd("config", "example").stdout == example.read_text()
    syncd("init")
    starter = (isolated_home / ".config" / "syncd" / "config.toml").read_text()
    assert "syncd config example" in starter


def test_help_lists_every_command_without_cutting_its_summary_off() -> None:
    text = syncd("--help", env={"COLUMNS": "80"}).stdout
    commands = text.split("Commands:", 1)[1]
    assert "..." not in commands and "asks once, checks it" in commands
    assert "unignore" in text and "#ID" in text


def test_counts_are_in_good_english(world: Path, tmp_path: Path) -> None:
    assert "1 person in [[people]]" in syncd("config", "check", config=world).stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[rules]\nmax_recipient = 3\n")
    assert "has 1 problem:" in syncd("config", "check", config=bad, check=78).stderr


def test_spelled_out_durations_are_understood(world: Path) -> None:
    syncd("track", "Bob", "--every", "3weeks", config=world)
    assert shown(world, "Bob")["cadence_days"] == 21.0
    syncd("snooze", "Bob", "3 years", config=world)


def test_a_file_without_vcards_is_an_error(world: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("Bob: bob@example.net\n")
    result = syncd("import", "vcard", str(notes), config=world, check=1)
    assert "holds no vCard" in result.stderr


def test_a_missing_config_named_with_c_is_named_in_the_hint(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    result = syncd("due", config=missing, check=78)
    assert f"run: syncd -c {missing} init" in result.stderr


def test_config_paths_says_where_everything_is(world: Path, isolated_home: Path) -> None:
    text = syncd("config", "paths", config=world).stdout
    state = world.parent / "state"
    assert f"config file:     {world}\n" in text
    assert f"state database:  {state / 'syncd.sqlite3'}\n" in text
    assert f"choices journal: {state / 'choices.jsonl'}\n" in text
    assert "journalctl --user -u syncd" in text
    unit = isolated_home / ".config" / "systemd" / "user" / "syncd.service"
    assert f"unit file:       {unit} (not installed)" in text


# --- 1: a wrongly typed key is a keyed problem for every command ------------------------------


@pytest.mark.parametrize("command", [["config", "check"], ["due"]])
def test_a_wrongly_typed_every_is_a_keyed_problem_with_exit_78(tmp_path: Path,
                                                              command: list[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[sources.mail]\ntype = "maildir"\npath = "/mail"\nevery = 15\n'
                      'enabled = "yes"\n')
    result = syncd(*command, config=config, check=78)
    assert "sources.mail.every: must be a string, not a number" in result.stderr
    assert "sources.mail.enabled: must be true or false, not a string" in result.stderr
    assert "Traceback" not in result.stderr
