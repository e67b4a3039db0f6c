"""A state machine over the engine, a real SQLite store and a fake IMAP-like mailbox: mail
arrives, syncs run, and between them the server fails mid-pass, the process dies between or
inside transactions, the cursor expires, the server replays old pages or changes UIDVALIDITY.
Whatever happens, nothing is ever counted twice, and a sync that completes has lost nothing.

(The habit of vdirsyncer's SyncMachine: model the state, inject every fault, check invariants
after every step.)
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fault_helpers import canonical_dump
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from syncd.engine import Engine
from syncd.model import Message, Role
from syncd.rules import Rules
from syncd.store import Store
from syncd.testing import FakeMailbox, message

ME = "me@example.org"
FRIENDS = [f"friend{index}@example.com" for index in range(5)]
START = datetime(2025, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


class ProcessDied(BaseException):
    """The syncd process was killed: nothing after this point runs (not even error handling
    that catches Exception)."""


class DyingStore(Store):
    """A store whose process dies at a chosen moment: inside the transaction of a batch
    (after its N-th page is written, before the commit) or between transactions (when the
    N-th batch is about to begin). Once dead, every later call dies too."""

    die_after_pages: int | None = None
    die_before_batch: int | None = None
    dead = False

    @contextmanager
    def batch(self) -> Iterator[None]:
        if self.dead:
            raise ProcessDied
        if self.die_before_batch is not None:
            self.die_before_batch -= 1
            if self.die_before_batch < 0:
                self.dead = True
                raise ProcessDied
        with super().batch():
            yield

    def apply(self, *arguments, **keywords) -> int:
        if self.dead:
            raise ProcessDied
        new = super().apply(*arguments, **keywords)
        if self.die_after_pages is not None:
            self.die_after_pages -= 1
            if self.die_after_pages < 0:
                self.dead = True
                raise ProcessDied  # the batch's transaction is open: it never commits
        return new


class SyncMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="syncd-machine-"))
        self.mailbox = FakeMailbox(my_addresses=frozenset())
        #: The model: every distinct message delivered, by dedupe identity (Message-ID, sender).
        self.delivered: dict[tuple[str, str], Message] = {}
        self.numbers = 0
        self.store: DyingStore | None = None
        self.commit_records = 10

    # --- the syncd process ------------------------------------------------------------------

    def start_process(self) -> None:
        """(Re)start syncd: open the database afresh, as a new process would."""
        if self.store is not None:
            self.store.close()
        self.store = DyingStore.open(self.directory)
        self.store.set_configured_addresses([ME])

    def engine(self) -> Engine:
        assert self.store is not None
        return Engine(self.store, Rules(), lambda: NOW, commit_records=self.commit_records)

    def run_sync(self, *, full: bool = False) -> str | None:
        """Run one pass; return its error, or "died" when the process died (then restart)."""
        try:
            report = self.engine().sync("mail", self.mailbox, full=full)
        except ProcessDied:
            self.start_process()
            return "died"
        return report.error

    @initialize(page_size=st.integers(1, 9), commit_records=st.sampled_from([1, 5, 10, 5000]))
    def begin(self, page_size: int, commit_records: int) -> None:
        self.mailbox.page_size = page_size
        self.commit_records = commit_records
        self.start_process()

    def teardown(self) -> None:
        if self.store is not None:
            self.store.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    # --- the world --------------------------------------------------------------------------

    @rule(friends=st.lists(st.tuples(st.integers(0, len(FRIENDS) - 1), st.booleans(),
                                     st.integers(0, 300)), min_size=1, max_size=12))
    def mail_arrives(self, friends: list[tuple[int, bool, int]]) -> None:
        for friend_index, outgoing, day in friends:
            self.numbers += 1
            friend = FRIENDS[friend_index]
            sender, to = (ME, friend) if outgoing else (friend, ME)
            record = message("pending", sender, [to], date=START + timedelta(days=day),
                             message_id=f"<{self.numbers}@machine>",
                             role=Role.SENT if outgoing else Role.INBOX)
            self.mailbox.add(record)
            self.delivered[(f"<{self.numbers}@machine>", sender)] = record

    @precondition(lambda self: self.mailbox.messages)
    @rule(data=st.data())
    def the_same_message_arrives_again(self, data: st.DataObject) -> None:
        """A copy of a message already delivered (the same Message-ID and sender)."""
        self.mailbox.add(data.draw(st.sampled_from(self.mailbox.messages)))

    @rule()
    def uidvalidity_changes(self) -> None:
        self.mailbox.change_uidvalidity()

    @rule()
    def the_cursor_expires(self) -> None:
        self.mailbox.expire_cursor = True

    @precondition(lambda self: self.mailbox.messages)
    @rule(data=st.data())
    def the_server_replays(self, data: st.DataObject) -> None:
        self.mailbox.replay_from = data.draw(st.integers(1, len(self.mailbox.messages)))

    # --- syncs, clean and faulty --------------------------------------------------------------

    @rule(full=st.booleans())
    def sync_completes(self, full: bool) -> None:
        self.mailbox.fail_after_pages = None
        assert self.run_sync(full=full) is None
        self.assert_nothing_lost()

    @rule(pages=st.integers(0, 4))
    def the_server_dies_mid_pass(self, pages: int) -> None:
        self.mailbox.fail_after_pages = pages
        self.run_sync()
        self.mailbox.fail_after_pages = None

    @rule(pages=st.integers(0, 6))
    def the_process_dies_inside_a_transaction(self, pages: int) -> None:
        assert self.store is not None
        self.store.die_after_pages = pages
        self.run_sync()
        if self.store is not None:
            self.store.die_after_pages = None

    @rule(batches=st.integers(0, 3))
    def the_process_dies_between_transactions(self, batches: int) -> None:
        assert self.store is not None
        self.store.die_before_batch = batches
        self.run_sync()
        if self.store is not None:
            self.store.die_before_batch = None

    # --- what must hold -----------------------------------------------------------------------

    def expected_stats(self) -> dict[str, tuple[int, int | None, int | None]]:
        """Per friend: (distinct messages, last incoming, last outgoing), epoch seconds."""
        expected: dict[str, tuple[int, int | None, int | None]] = {}
        for record in self.delivered.values():
            assert record.sender is not None and record.date is not None
            outgoing = record.sender.email == ME
            friend = record.to[0].email if outgoing else record.sender.email
            count, incoming, sent = expected.get(friend, (0, None, None))
            when = int(record.date.timestamp())
            if outgoing:
                sent = max(sent or when, when)
            else:
                incoming = max(incoming or when, when)
            expected[friend] = (count + 1, incoming, sent)
        return expected

    def stored_stats(self) -> dict[str, tuple[int, int | None, int | None]]:
        dump = canonical_dump(self.directory / "syncd.sqlite3")
        return {row[0]: (row[7], row[2], row[1]) for row in dump["person_stats"]
                if row[0] in FRIENDS}

    def assert_nothing_lost(self) -> None:
        assert self.stored_stats() == self.expected_stats()

    @invariant()
    def nothing_is_ever_counted_twice(self) -> None:
        if self.store is None:
            return
        dump = canonical_dump(self.directory / "syncd.sqlite3")
        counted: dict[str, int] = {}
        for _key, person, _at, _direction, counts in dump["contacts"]:
            counted[person] = counted.get(person, 0) + counts
        expected = self.expected_stats()
        for row in dump["person_stats"]:
            person, interactions = row[0], row[7]
            assert interactions == counted.get(person, 0), f"{person}: stats disagree"
            assert interactions <= expected.get(person, (0, None, None))[0], (
                f"{person} counted {interactions} times, only "
                f"{expected.get(person, (0,))[0]} messages exist")


SyncMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
test_no_fault_loses_or_double_counts_mail = SyncMachine.TestCase
