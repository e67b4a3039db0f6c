"""Pages read in a forked child arrive whole and in order; errors, logs and stops cross back."""

from __future__ import annotations

import logging
import mmap
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syncd import prefetch
from syncd.engine import Engine
from syncd.errors import (
    AuthError,
    ConfigError,
    ConfigProblem,
    CursorExpired,
    SourceEmpty,
    SourceError,
)
from syncd.model import Page, Role, Skip
from syncd.prefetch import prefetched
from syncd.rules import Rules
from syncd.store import Store
from syncd.testing import FakeConnector, database_content, message

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def pages_of_mail(count: int, per_page: int = 10) -> list[Page]:
    pages = []
    for first in range(0, count, per_page):
        records = tuple(
            message(f"INBOX/{index}", f"friend{index % 7}@example.com", ["me@example.org"],
                    date=START + timedelta(hours=index))
            for index in range(first, min(count, first + per_page)))
        pages.append(Page(records=records, skipped=(Skip(f"bad/{first}", "unreadable"),),
                          cursor=f"after {first + per_page}",
                          my_addresses=frozenset({"me@example.org"})))
    return pages


def child_processes() -> set[int]:
    """The pids of this process's children (Linux /proc), zombies included."""
    found: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        children = task / "children"
        if children.exists():
            found.update(int(pid) for pid in children.read_text().split())
    return found


@pytest.fixture
def new_children():
    """Return a function listing the children started since the test began (session-wide
    servers started earlier are children of pytest too)."""
    before = child_processes()
    return lambda: child_processes() - before


def gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (it may linger as a zombie until reaped)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def test_the_child_runs_at_a_lower_priority_than_the_parent():
    # The parent classifies and stores, the slower half: sharing a core, it gets the larger part.
    def pull():
        yield Page(records=(), skipped=(), cursor=str(os.getpriority(os.PRIO_PROCESS, 0)))

    parent = os.getpriority(os.PRIO_PROCESS, 0)
    [page] = list(prefetched(pull))
    assert prefetch.CHILD_NICENESS > 0
    assert int(page.cursor) == min(parent + prefetch.CHILD_NICENESS, 19)  # 19: the nicest


def test_pages_arrive_in_order_and_equal_from_another_process(new_children):
    expected = pages_of_mail(95)
    reader_pids = []

    def pull():
        reader_pids.append(os.getpid())  # appended in the child: never seen here
        for page in expected:
            yield Page(records=page.records, skipped=page.skipped,
                       cursor=f"{page.cursor} by {os.getpid()}", my_addresses=page.my_addresses)

    received = list(prefetched(pull))

    assert [page.records for page in received] == [page.records for page in expected]
    assert [page.skipped for page in received] == [page.skipped for page in expected]
    assert all(page.my_addresses == {"me@example.org"} for page in received)
    assert reader_pids == []
    assert all(not page.cursor.endswith(f"by {os.getpid()}") for page in received)
    assert not new_children()


@pytest.mark.parametrize("error", [
    SourceError("the server went away; the next sync retries"),
    CursorExpired("UIDVALIDITY changed"),
    AuthError("the server refused the password; run: syncd auth work"),
    SourceEmpty("the Maildir holds no folders now"),
    ValueError("an unexpected bug"),
    # Its __init__ takes problems, not a message: rebuilt bare, the message kept.
    ConfigError([ConfigProblem("sources.work.host", "missing")]),
], ids=lambda error: type(error).__name__)
def test_an_error_in_the_child_is_raised_here_with_its_class_and_message(error, new_children):
    def pull():
        yield from pages_of_mail(20)
        raise error

    pages = prefetched(pull)
    received = [next(pages), next(pages)]
    with pytest.raises(type(error)) as raised:
        next(pages)

    assert len(received) == 2
    assert type(raised.value) is type(error)
    assert str(raised.value) == str(error)
    assert any("raised in the prefetch child" in note for note in raised.value.__notes__)
    assert not new_children()


def test_a_child_that_dies_without_finishing_is_a_source_error(new_children):
    def pull():
        yield from pages_of_mail(10)
        os.kill(os.getpid(), signal.SIGKILL)
        yield from pages_of_mail(10)

    pages = prefetched(pull, label="work")
    next(pages)
    with pytest.raises(SourceError, match=r"reading work ended unexpectedly \(killed by SIGKILL\)"):
        next(pages)
    assert not new_children()


def test_log_records_of_the_child_reach_the_parents_handlers(caplog):
    def pull():
        logging.getLogger("connectors.fake").info("read %d messages", 10)
        yield from pages_of_mail(10)
        logging.getLogger("connectors.fake").debug("not shown at INFO")

    with caplog.at_level(logging.INFO):
        list(prefetched(pull))

    messages = [(record.name, record.getMessage()) for record in caplog.records]
    assert ("connectors.fake", "read 10 messages") in messages
    assert all(text != "not shown at INFO" for _, text in messages)


def test_closing_early_kills_and_reaps_the_child(new_children):
    def pull():
        while True:  # a source that never ends
            yield Page(cursor=str(os.getpid()))

    pages = prefetched(pull)
    child = int(next(pages).cursor)
    assert child in new_children()

    pages.close()

    assert child not in new_children()
    assert gone(child)


def test_closing_before_reading_anything_kills_and_reaps_the_child(new_children):
    def pull():
        while True:
            yield Page()

    pages = prefetched(pull)
    (child,) = new_children()

    pages.close()

    assert gone(child)
    assert not new_children()


def test_when_no_child_can_be_started_the_pages_are_read_in_this_process(monkeypatch, caplog):
    def no_fork():
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    expected = pages_of_mail(30)

    assert list(prefetched(lambda: iter(expected), label="work")) == expected
    assert "work: cannot start a reader process" in caplog.text


def test_the_child_runs_at_most_a_pipe_full_ahead():
    produced = mmap.mmap(-1, 8)  # shared with the forked child

    def pull():
        for index in range(200):
            # ~100 KB per page: the 1 MiB pipe holds about ten.
            yield Page(skipped=(Skip(f"item/{index}", "x" * 100_000),), cursor=str(index))
            produced[:8] = struct.pack("q", index + 1)

    pages = prefetched(pull)
    next(pages)
    time.sleep(0.5)
    ahead = struct.unpack("q", produced[:8])[0]
    rest = list(pages)

    assert ahead <= 1 + prefetch.PIPE_BYTES // 100_000 + 3
    assert [page.cursor for page in rest] == [str(index) for index in range(1, 200)]


def test_the_child_dies_with_its_parent(tmp_path):
    pid_file = tmp_path / "child.pid"
    script = textwrap.dedent(f"""
        import os, sys, time
        from syncd.model import Page
        from syncd.prefetch import prefetched

        def pull():
            open({str(pid_file)!r}, "w").write(str(os.getpid()))
            time.sleep(600)  # blocked, as in a slow FETCH: no write finds the pipe broken
            yield Page()

        for page in prefetched(pull):
            pass
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parents[2])
    try:
        deadline = time.monotonic() + 20
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the child never started"
            time.sleep(0.05)
        child = int(pid_file.read_text())
        assert not gone(child)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 5
    while not gone(child):
        assert time.monotonic() < deadline, "the child outlived its parent"
        time.sleep(0.05)


def test_prefetch_is_for_fork_safe_mail_sources_and_can_be_turned_off():
    @dataclass
    class Typed:
        source_type: str

    assert prefetch.wanted(Typed("imap"), environ={})
    assert prefetch.wanted(Typed("maildir"), environ={"SYNCD_NO_PREFETCH": "0"})
    assert not prefetch.wanted(Typed("imap"), environ={"SYNCD_NO_PREFETCH": "1"})
    assert not prefetch.wanted(Typed("caldav"), environ={})
    assert not prefetch.wanted(FakeConnector(), environ={})


# --- through the engine -------------------------------------------------------------------------


@dataclass
class ForkedFake(FakeConnector):
    """A fake the engine treats as a Maildir, so a first pass reads it in a child."""

    source_type: str = "maildir"


def mail(count: int):
    return [message(f"INBOX/{index}", f"friend{index % 9}@example.com", ["me@example.org"],
                    date=START + timedelta(hours=index)) for index in range(count)]


def engine_for(store: Store, **options) -> Engine:
    store.set_configured_addresses(["me@example.org"])
    return Engine(store, Rules(), lambda: START + timedelta(days=400), **options)


def test_a_first_pass_through_the_child_stores_what_an_in_process_pass_stores(monkeypatch,
                                                                              new_children):
    records = [*mail(230), message("Sent/1", "me@example.org", ["new@example.com"],
                                   date=START, role=Role.SENT)]
    forked, plain = Store.in_memory(), Store.in_memory()
    forked_report = engine_for(forked).sync("mail", ForkedFake(records, page_size=50))
    monkeypatch.setenv("SYNCD_NO_PREFETCH", "1")
    plain_report = engine_for(plain).sync("mail", ForkedFake(records, page_size=50))

    assert forked_report == plain_report
    assert forked_report.records == 231
    assert database_content(forked) == database_content(plain)
    assert not new_children()


def test_an_engine_told_not_to_fork_reads_a_first_pass_in_its_own_process(monkeypatch):
    # The daemon's engines: its other threads may hold import locks a forked child would need.
    forks: list[str] = []
    monkeypatch.setattr(prefetch, "prefetched", lambda pull, label: forks.append(label))
    store = Store.in_memory()
    report = engine_for(store, fork_reader=False).sync("mail", ForkedFake(mail(20)))

    assert report.records == 20 and report.error is None
    assert forks == []
    engine_for(Store.in_memory()).sync("mail", ForkedFake(mail(20)))  # the spy does see forks
    assert forks == ["mail"]


def test_a_source_error_in_the_child_is_recorded_and_the_stored_pages_kept(new_children):
    store = Store.in_memory()
    report = engine_for(store).sync("mail", ForkedFake(mail(100), page_size=10,
                                                       fail_after_pages=3))

    assert report.error == "the fake server went away"
    assert report.error_kind == "source"
    assert report.records == 30
    assert store.cursor("mail") == '{"served": 30}'
    assert not new_children()


def test_stopping_after_a_page_stops_the_child(new_children):
    store = Store.in_memory()
    pages_stored = []
    engine = engine_for(store, should_stop=lambda: len(pages_stored) >= 1)
    report = engine.sync("mail", ForkedFake(mail(1000), page_size=10),
                         progress=pages_stored.append)

    assert report.error is None
    assert report.records == 10
    assert store.cursor("mail") == '{"served": 10}'
    assert not new_children()


def test_an_error_while_storing_stops_the_child(monkeypatch, new_children):
    store = Store.in_memory()
    engine = engine_for(store)

    def broken_apply(*arguments, **options):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "apply", broken_apply)
    report = engine.sync("mail", ForkedFake(mail(1000), page_size=10))

    assert report.error == "unexpected RuntimeError: disk full"
    assert not new_children()
