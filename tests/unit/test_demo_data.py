"""The bundled demo data: deterministic, well-formed where it should be, and telling the story
the demo relies on (who is overdue, what must not count).

The "counted" checks below use a deliberately small re-statement of DESIGN §3, independent of
syncd.rules, so the data's promises (DEMO_LAST_CONTACT, DEMO_NEVER_COUNTED) are tested on
their own.
"""

from __future__ import annotations

import email
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path

import pytest

from syncd.demo_data import (
    DEMO_LAST_CONTACT,
    DEMO_ME,
    DEMO_NEVER_COUNTED,
    DEMO_ONE_WAY,
    DEMO_PEOPLE,
    DEMO_TIERS,
    DEMO_WORK_ALIAS,
    DemoPerson,
    SampleData,
    write_sample_data,
)
from syncd.durations import parse_duration

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOWS = (NOW, datetime(2025, 7, 15, 6, 30, 15, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
FOLDERS = {"": "inbox", ".Sent": "sent", ".Archive": "archive", ".Junk": "junk", ".Trash": "trash"}
FOLDERS[".Drafts"] = "drafts"
HEADER_LINE = re.compile(rb"^[!-9;-~]+:")
SEPARATOR = re.compile(
    r"^From \S+ (Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}$"
)
ALLOWED_DOMAIN = re.compile(r"(^|\.)(example\.(org|com|net)|[a-z0-9-]+\.example|example)$")


@dataclass
class Item:
    folder: str  # "inbox", "sent", ..., or "mbox"
    name: str
    data: bytes

    @property
    def message(self) -> Message:
        return email.message_from_bytes(self.data, policy=compat32)


def maildir_files(sample: SampleData) -> list[tuple[str, Path]]:
    files = []
    for folder, role in FOLDERS.items():
        base = sample.maildir / folder if folder else sample.maildir
        for sub in ("cur", "new"):
            files += [(role, path) for path in sorted((base / sub).iterdir())]
    return files


def mbox_messages(path: Path) -> list[tuple[str, bytes]]:
    """Split an mboxrd file: (separator line, message bytes with >From unquoted)."""
    messages: list[tuple[str, list[bytes]]] = []
    previous_blank = True
    for line in path.read_bytes().splitlines(keepends=True):
        if line.startswith(b"From ") and previous_blank:
            messages.append((line.decode().rstrip("\n"), []))
        else:
            if re.match(rb">+From ", line):
                line = line[1:]
            messages[-1][1].append(line)
        previous_blank = line == b"\n"
    return [(sep, b"".join(lines).removesuffix(b"\n")) for sep, lines in messages]


def items(sample: SampleData) -> list[Item]:
    found = [Item(role, path.name, path.read_bytes()) for role, path in maildir_files(sample)]
    found += [Item("mbox", sep, data) for sep, data in mbox_messages(sample.mbox)]
    return found


def addresses(message: Message, *names: str) -> list[str]:
    values = [str(v) for name in names for v in message.get_all(name, [])]
    return [addr.lower() for _, addr in getaddresses(values) if "@" in addr]


NOT_ME_LOCAL = ("noreply", "no-reply", "donotreply", "mailer-daemon", "notifications", "bounce")


def counted_contacts(sample: SampleData, now: datetime) -> dict[str, list[tuple[datetime, str]]]:
    """address -> [(when, "in"|"out")], per a small restatement of DESIGN §3."""
    all_items = items(sample)
    mine = {a.lower() for a in sample.me}
    for item in all_items:
        if item.folder == "sent":
            mine.update(addresses(item.message, "From"))
    seen: set[str] = set()
    result: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for item in all_items:
        msg = item.message
        if item.folder in {"junk", "trash", "drafts"} or not msg.keys():
            continue
        mid = msg.get("Message-ID")
        if mid is not None:
            if mid in seen:
                continue
            seen.add(mid)
        if any(msg.get(h) for h in ("List-Id", "List-Unsubscribe", "Feedback-ID")):
            continue
        if "X-Auto-Response-Suppress" in msg or msg.get("Auto-Submitted", "no").lower() != "no":
            continue
        if msg.get("Precedence", "").lower() in {"bulk", "list", "junk"}:
            continue
        if msg.get_content_type() == "multipart/report":
            continue
        sender = addresses(msg, "From")
        if not sender or sender[0].split("@")[0] in NOT_ME_LOCAL:
            continue
        recipients = addresses(msg, "To", "Cc")
        others = {a for a in [*sender, *recipients] if a not in mine}
        if len(others) > 20:
            continue
        try:
            when = parsedate_to_datetime(msg["Date"]) if msg["Date"] else None
        except (TypeError, ValueError):
            when = None
        if when is None or when > now:
            continue
        if sender[0] in mine:
            for rcpt in recipients:
                if rcpt not in mine:
                    result[rcpt].append((when, "out"))
        elif any(rcpt in mine for rcpt in recipients):
            result[sender[0]].append((when, "in"))
    return result


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleData:
    return write_sample_data(tmp_path_factory.mktemp("demo"), now=NOW)


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        # (empty maildirfolder markers carry the time of writing; their mtime means nothing)
        str(path.relative_to(root)): (path.read_bytes(), int(os.stat(path).st_mtime))
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != "maildirfolder"
    }


def test_same_now_gives_identical_files(tmp_path: Path) -> None:
    first = write_sample_data(tmp_path / "a", now=NOW)
    second = write_sample_data(tmp_path / "b", now=NOW)
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")
    assert first.counts == second.counts
    write_sample_data(tmp_path / "c", now=NOW + timedelta(days=1))
    assert snapshot(tmp_path / "c") != snapshot(tmp_path / "a")


def test_public_shape(sample: SampleData) -> None:
    assert sample.me == DEMO_ME == ("sam@example.org",)
    assert DEMO_WORK_ALIAS not in sample.me
    assert sample.people == DEMO_PEOPLE
    assert all(isinstance(p, DemoPerson) for p in sample.people)
    for person in sample.people:
        assert (person.tier is None) != (person.every is None), person
        assert person.tier is None or person.tier in DEMO_TIERS
        assert person.name in DEMO_LAST_CONTACT
    for value in DEMO_TIERS.values():
        parse_duration(value)
    assert sample.mbox.is_file()
    for folder in FOLDERS:
        base = sample.maildir / folder if folder else sample.maildir
        assert all((base / sub).is_dir() for sub in ("cur", "new", "tmp"))


def test_rejects_naive_now_and_reuse(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="aware"):
        write_sample_data(tmp_path, now=datetime(2026, 1, 1))
    write_sample_data(tmp_path, now=NOW)
    with pytest.raises(FileExistsError):
        write_sample_data(tmp_path, now=NOW)


def test_maildir_file_names(sample: SampleData) -> None:
    for role, path in maildir_files(sample):
        if path.parent.name == "cur":
            assert re.fullmatch(r"\d{10}\.\d+(_\d)?\.demo:2,[DST]+", path.name), path
        else:
            assert re.fullmatch(r"\d{10}\.\d+\.demo", path.name), path
            assert role == "inbox"
        assert int(path.stat().st_mtime) == int(path.name.split(".")[0])


@pytest.mark.parametrize("now", NOWS)
def test_counts_in_range(tmp_path: Path, now: datetime) -> None:
    sample = write_sample_data(tmp_path, now=now)
    counts = sample.counts
    assert sum(counts.values()) == len(items(sample))
    assert 600 <= sum(counts.values()) <= 1200
    assert 300 <= counts["personal"] <= 600
    assert 80 <= counts["work"] <= 300
    assert 200 <= counts["bulk"] <= 500
    assert 30 <= counts["list"] <= 80
    assert 10 <= counts["one_way"] <= 30
    assert counts["spam"] == 30
    assert counts["bounce"] == 3
    assert counts["auto_reply"] == 1
    assert counts["broadcast"] == 2
    assert counts["bcc"] == 3
    assert counts["trash"] == 3
    assert counts["draft"] == 1
    assert counts["duplicate"] == 1
    assert counts["malformed"] == 7


def test_every_file_has_a_header_block_but_the_broken_one(sample: SampleData) -> None:
    headerless = []
    for item in items(sample):
        first = item.data.split(b"\n", 1)[0].split(b"\r", 1)[0]
        if not HEADER_LINE.match(first):
            headerless.append(item)
            continue
        message = item.message
        assert message["From"], item.name
        assert re.search(rb"(\n\n|\r\r)", item.data), item.name  # header block ends
    assert len(headerless) == 1
    assert headerless[0].folder == "inbox"


def test_dates_span_the_year_before_now(sample: SampleData) -> None:
    missing, future = 0, 0
    for item in items(sample):
        date = item.message["Date"]
        if date is None:
            missing += 1
            continue
        when = parsedate_to_datetime(date)
        if when > NOW:
            future += 1
            assert when.year == 2099
            continue
        assert NOW - timedelta(days=366) <= when < NOW, item.name
    assert missing == 2  # the no-Date message and the no-header file
    assert future == 1


def test_mbox_format(sample: SampleData) -> None:
    text = sample.mbox.read_bytes()
    messages = mbox_messages(sample.mbox)
    assert len(messages) > 100
    for separator, data in messages:
        assert SEPARATOR.match(separator), separator
        assert data.startswith(b"X-Mozilla-Status: 0001\n")
    assert b"\n>From the sound of it" in text or b"\n>From what I remember" in text
    assert b"\n>>From the archives" in text
    # every "From " at a line start is a separator preceded by a blank line
    assert text.count(b"\nFrom ") + 1 == len(messages)
    assert text.count(b"\n\nFrom ") + 1 == len(messages)
    dates = [parsedate_to_datetime(email.message_from_bytes(d)["Date"]) for _, d in messages]
    assert max(dates) < NOW - timedelta(days=199)


def test_only_reserved_domains(sample: SampleData) -> None:
    for item in items(sample):
        message = item.message
        for address in addresses(message, "From", "To", "Cc"):
            domain = address.rsplit("@", 1)[1]
            assert ALLOWED_DOMAIN.search(domain), (address, item.name)


def test_duplicate_message_id_in_inbox_and_archive(sample: SampleData) -> None:
    where: dict[str, set[str]] = defaultdict(set)
    for item in items(sample):
        mid = item.message["Message-ID"]
        if mid:
            where[mid].add(item.folder)
    duplicated = {mid: folders for mid, folders in where.items() if len(folders) > 1}
    assert list(duplicated.values()) == [{"inbox", "archive"}]
    copies = [item.data for item in items(sample) if item.message["Message-ID"] in duplicated]
    assert len(copies) == 2 and copies[0] == copies[1]


def test_malformed_cases_are_present(sample: SampleData) -> None:
    datas = [item.data for item in items(sample)]
    assert sum(1 for d in datas if b"\r" in d and b"\n" not in d) == 1  # CR-only
    assert any(b"=?x-unknown-demo?Q?" in d for d in datas)
    bad_utf8 = [d for d in datas if b"Ren\xe9e" in d]
    assert len(bad_utf8) == 1
    with pytest.raises(UnicodeDecodeError):
        bad_utf8[0].decode("utf-8")
    assert (
        sum(1 for item in items(sample) if item.message.keys() and "Message-ID" not in item.message)
        == 1
    )


def test_work_alias_is_only_learnable_from_sent(sample: SampleData) -> None:
    folders = {
        item.folder for item in items(sample) if DEMO_WORK_ALIAS in addresses(item.message, "From")
    }
    assert folders == {"sent"}
    incoming_to_alias = [
        item
        for item in items(sample)
        if item.folder != "sent" and DEMO_WORK_ALIAS in addresses(item.message, "To", "Cc")
    ]
    assert len(incoming_to_alias) > 50


def test_big_broadcasts(sample: SampleData) -> None:
    sizes = {
        str(item.message["Subject"]): len(addresses(item.message, "To", "Cc"))
        for item in items(sample)
        if item.message.keys() and len(addresses(item.message, "To", "Cc")) > 20
    }
    assert sizes == {"All-hands: plans for next quarter": 40, "Team offsite plans": 24}


def test_threads_have_replies_with_cc(sample: SampleData) -> None:
    messages = [item.message for item in items(sample) if item.message.keys()]
    replies = [m for m in messages if m["In-Reply-To"]]
    assert len(replies) > 200
    ids = {m["Message-ID"] for m in messages}
    assert sum(1 for m in replies if m["In-Reply-To"] in ids) > 200
    assert sum(1 for m in messages if m["Cc"]) > 50


def test_automatic_and_bulk_headers_present(sample: SampleData) -> None:
    messages = [item.message for item in items(sample) if item.message.keys()]
    bounces = [m for m in messages if m.get_content_type() == "multipart/report"]
    assert len(bounces) == 3
    assert all(m["Auto-Submitted"] == "auto-replied" for m in bounces)
    assert all("MAILER-DAEMON@" in str(m["From"]) for m in bounces)
    oof = [m for m in messages if m["X-Auto-Response-Suppress"] == "All"]
    assert len(oof) == 1 and oof[0]["Auto-Submitted"] == "auto-replied"
    for header in ("List-Unsubscribe", "Feedback-ID", "List-Id"):
        assert sum(1 for m in messages if m[header]) > 20, header
    assert sum(1 for m in messages if m["Precedence"] == "bulk") > 40
    to_list = [m for m in messages if "trailclub@lists.example.org" in addresses(m, "To")]
    assert len(to_list) > 30 and all(m["List-Id"] for m in to_list)


@pytest.mark.parametrize("now", NOWS)
def test_tracked_people_last_contact(tmp_path: Path, now: datetime) -> None:
    sample = write_sample_data(tmp_path, now=now)
    contacts = counted_contacts(sample, now.replace(microsecond=0))
    for person in sample.people:
        times = [when for a in person.addresses for when, _ in contacts.get(a, [])]
        assert times, person.name
        assert max(times) == now.replace(microsecond=0) - DEMO_LAST_CONTACT[person.name], person
        kinds = {kind for a in person.addresses for _, kind in contacts.get(a, [])}
        assert kinds == {"in", "out"}, person.name  # a real two-way tie
    priya_home = [when for when, _ in contacts["priya@example.net"]]
    assert max(priya_home) == now.replace(microsecond=0) - timedelta(days=50, hours=2)


def test_overdue_friend_went_quiet_after_being_frequent(sample: SampleData) -> None:
    jordan = next(p for p in sample.people if p.name == "Jordan Blake")
    contacts = counted_contacts(sample, NOW)[jordan.addresses[0]]
    last = max(when for when, _ in contacts)
    assert timedelta(days=58) <= NOW - last <= timedelta(days=62)
    cadence = parse_duration(DEMO_TIERS[jordan.tier or ""])
    assert NOW - last > cadence + timedelta(days=40)  # clearly overdue
    before = [when for when, _ in contacts if last - when < timedelta(days=120)]
    assert len(before) >= 20  # frequent until then
    # ... while Jordan still appears in uncounted places after going quiet
    recent_uncounted = [
        item
        for item in items(sample)
        if item.message.keys()
        and jordan.addresses[0] in addresses(item.message, "From", "To")
        and parsedate_to_datetime(item.message["Date"]) > last
    ]
    assert {item.folder for item in recent_uncounted} == {"inbox", "drafts"}


def test_one_way_and_never_counted(sample: SampleData) -> None:
    contacts = counted_contacts(sample, NOW)
    for address in DEMO_NEVER_COUNTED:
        assert address.lower() not in contacts, address
    for address in DEMO_ONE_WAY:
        assert all(kind == "in" for _, kind in contacts.get(address, [])), address
    for address in DEMO_ONE_WAY[:3]:
        assert contacts[address], address
    # Everyone tracked is a two-way tie; colleagues beyond the tracked ones are too.
    two_way = {a for a, seen in contacts.items() if {k for _, k in seen} == {"in", "out"}}
    assert len({a for a in two_way if a.endswith("@work.example")}) >= 8
