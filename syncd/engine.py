"""The sync engine: pull -> classify -> resolve -> apply, one source at a time.

One pass over a source reads pages from its connector, classifies every record with the pure
rules, and hands each page to the store, which writes rows and cursor in one transaction. A
cursor the source no longer accepts triggers one full pass (the upserts dedupe it). A failing
source is recorded for ``syncd status`` and never stops the others.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import sqlite3
import time
from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from connectors.base import Connector
from syncd.cards import TierMap
from syncd.errors import AuthError, CursorExpired, SourceEmpty, SourceError
from syncd.message_codec import decode_message, encode_message
from syncd.model import Card, Decision, Meeting, Message, Page, Record
from syncd.rules import MINE_INDEPENDENT_RULES, Rules, classify_meeting, classify_message
from syncd.store import Store
from syncd.strength import MIN_CONTACT_DAYS as MIN_SCORED_DAYS
from syncd.strength import lasting_score
from syncd.ties import MIN_CONTACT_DAYS, infer_rhythm

log = logging.getLogger(__name__)

#: ``extra`` of the log record saying a source failed (the same text its report carries).
SOURCE_FAILURE = {"source_failure": True}

ProgressCallback = Callable[[int], None]

#: A pass commits its pages together once they hold this many records ...
COMMIT_RECORDS = 5000
#: ... or once this many seconds passed since its last commit (a crash loses no more).
COMMIT_SECONDS = 1.0
#: No [tiers.map] and no tiers: a card's categories track nobody.
NO_TIER_MAP = TierMap()
#: Allocations between young-generation collections during a pass (see _fewer_collections).
GEN0_THRESHOLD = 50_000


@dataclass(slots=True)
class SyncReport:
    """What one pass over one source did."""

    source: str
    records: int = 0
    counted: int = 0
    new_contacts: int = 0
    skipped: int = 0
    full: bool = False
    error: str | None = None
    error_kind: str | None = None
    rules: dict[str, int] = field(default_factory=dict)


class _Classified(NamedTuple):
    """A page read and classified, not stored yet."""

    page: Page
    decisions: list[tuple[str, Decision]]
    learned: frozenset[str]  # addresses of mine this page taught
    cards: list[tuple[Card, str | None]]  # address-book cards, each with its tier (or None)


class _KnownIds(Container[str]):
    """The stored source ids of one source, loaded on first use (most passes never ask)."""

    def __init__(self, store: Store, source: str) -> None:
        self._store = store
        self._source = source
        self._ids: set[str] | None = None

    def __contains__(self, source_id: object) -> bool:
        if self._ids is None:
            self._ids = self._store.known_ids(self._source)
        return source_id in self._ids


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run the block with the cyclic garbage collector's youngest generation collected
    every GEN0_THRESHOLD allocations instead of every 700.

    A pass allocates millions of short-lived tuples, records and decisions (freed by their
    reference counts, not by the collector) while pages in flight keep thousands alive, which
    every young collection walks again: ~7% of a first sync's CPU time in this process and
    in the prefetch child, which is forked inside the block and inherits it. Nothing a pass
    makes is cyclic, so memory stays the same (measured). The old thresholds come back after.
    """
    before = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


class Engine:
    """Runs passes over sources into one store."""

    def __init__(self, store: Store, rules: Rules, clock: Callable[[], datetime],
                 should_stop: Callable[[], bool] = lambda: False, *,
                 commit_records: int = COMMIT_RECORDS, tier_map: TierMap = NO_TIER_MAP,
                 fork_reader: bool = True) -> None:
        self.store = store
        #: Which tier an address-book card's categories put its person at ([tiers.map]).
        self.tier_map = tier_map
        self.rules = rules
        self.clock = clock
        #: Checked between pages: when it turns True (SIGTERM), the pass ends after the page
        #: being stored, whose cursor is committed with it, so nothing is lost or repeated.
        self.should_stop = should_stop
        #: Records per commit (see _pass); fault-injection tests lower it to get many
        #: transactions out of a small mailbox.
        self.commit_records = commit_records
        #: Whether a first pass may read its source in a forked child (syncd/prefetch.py). Only
        #: a process whose other threads import nothing the child needs may fork: a thread in
        #: the middle of an import at the moment of the fork leaves that module's import lock
        #: held forever in the child (Python re-creates only the global import lock there).
        #: `syncd sync` qualifies (its one other thread, the progress display, imports only
        #: rich's modules); the daemon, whose scheduler and IDLE threads sync too, does not.
        self.fork_reader = fork_reader

    def sync(self, name: str, connector: Connector, *, full: bool = False,
             progress: ProgressCallback | None = None) -> SyncReport:
        """Run one pass over ``connector`` (stored as source ``name``); never raises SourceError.

        Return a report; its ``error`` is set (and recorded in the store) when the source failed.
        """
        report = SyncReport(name, full=full)
        started = self.clock()
        try:
            # Upcoming meetings whose start passed become contacts even if no calendar changes.
            self.store.promote_started_meetings(started)
            with _fewer_collections():
                self._passes(name, connector, report, progress, full=full)
        except SourceError as error:
            report.error = str(error)
            report.error_kind = ("auth" if isinstance(error, AuthError)
                                 else "empty" if isinstance(error, SourceEmpty) else "source")
        except sqlite3.Error as error:
            log.debug("%s: the store failed", name, exc_info=True)
            report.error = self.store_failure(error)
            report.error_kind = "store"
        except Exception as error:
            log.debug("%s: unexpected error", name, exc_info=True)
            report.error = f"unexpected {type(error).__name__}: {error}"
            report.error_kind = "internal"
        try:
            self.store.record_attempt(name, started, report.error, report.error_kind)
            self.refresh_rhythms()
        except sqlite3.Error as error:
            # A full disk may refuse even this small write; the failure is reported anyway.
            log.debug("%s: could not record the attempt", name, exc_info=True)
            if report.error is None:
                report.error, report.error_kind = self.store_failure(error), "store"
        if report.error:
            # Marked, so `syncd sync`, which prints the report, does not show it twice.
            log.warning("%s: sync failed: %s", name, report.error, extra=SOURCE_FAILURE)
        else:
            log.info("%s: %d records read, %d counted, %d new contacts, %d skipped", name,
                     report.records, report.counted, report.new_contacts, report.skipped)
        return report

    def store_failure(self, error: sqlite3.Error) -> str:
        """Return the one sentence a user sees when the state database refused a write.

        A full disk (SQLITE_FULL, https://sqlite.org/rescode.html#full) rolls back the batch
        being stored and nothing else: what earlier batches stored stays, and the next sync
        reads the rest again.
        """
        where = self.store.path or "in memory"
        if getattr(error, "sqlite_errorname", "") == "SQLITE_FULL" or "full" in str(error):
            return (f"the state database {where} could not be written because its disk is "
                    "full; free some space there and run the sync again (nothing stored "
                    "before is lost)")
        return (f"the state database {where} could not be written ({error}); nothing stored "
                "before is lost; run the sync again, and see syncd -v sync if it persists")

    def _passes(self, name: str, connector: Connector, report: SyncReport,
                progress: ProgressCallback | None, *, full: bool) -> None:
        """Run the pass, and one full pass when the source no longer accepts its cursor."""
        try:
            # --full re-reads everything (e.g. after a rule change); an expired cursor
            # only needs the items not stored yet.
            self._pass(name, connector, None if full else self.store.cursor(name),
                       report, progress, reread=full)
        except CursorExpired as expired:
            log.info("%s: %s; running a full sync", name, expired)
            self.store.reset_cursor(name)
            report.full = True
            self._pass(name, connector, None, report, progress, reread=full)

    def _pass(self, name: str, connector: Connector, cursor: str | None, report: SyncReport,
              progress: ProgressCallback | None, *, reread: bool = False) -> None:
        mine = self.store.my_addresses()
        known: Container[str] = frozenset() if reread else _KnownIds(self.store, name)
        now = self.clock()
        rules = self.rules
        pages: Iterator[Page] | None = None
        if cursor is None:
            # A first or full pass reads everything: the connector fetches and parses in a
            # forked child while this process classifies and stores (syncd/prefetch.py, two
            # cores instead of one). The child must never touch the store (SQLite forbids
            # using a connection across fork), so it gets `known` as a plain frozenset.
            # Imported here: the usual pass, from a cursor, never forks.
            from syncd import prefetch

            if self.fork_reader and prefetch.wanted(connector):
                frozen = known if reread else frozenset(self.store.known_ids(name))
                pages = prefetch.prefetched(lambda: connector.pull(None, frozen), label=name)
        if pages is None:
            pages = iter(connector.pull(cursor, known))
        # Pages are classified as they come and committed together (Store.batch) once they
        # hold COMMIT_RECORDS records or COMMIT_SECONDS passed since the last commit: one
        # commit per 500-message page made WAL writes a quarter of a first sync's store time
        # (1.65 s of 6.1 s at 100,000 messages; 0.43 s in 22 commits of 5,000). Larger
        # batches save more here but stall a prefetch child, whose pipe holds ~2,000 messages.
        # No transaction stays open while the next page is awaited (a slow server must not
        # hold the write lock other syncd commands wait on).
        pending: list[_Classified] = []
        pending_records = 0
        last_commit = time.monotonic()
        # Closed on every exit (should_stop, an error while storing): a prefetch child is
        # killed and reaped, a connector's own generator closes its connection.
        with _closing(pages):
            try:
                for page in pages:
                    learned = page.my_addresses - mine
                    mine |= page.my_addresses
                    decisions: list[tuple[str, Decision]] = []
                    cards: list[tuple[Card, str | None]] = []
                    is_mine = mine.__contains__
                    rule_counts = report.rules
                    counted = 0
                    for record in page.records:
                        # Messages straight to the rules (the hot path: one call fewer per
                        # message than through self.classify); anything else through it.
                        if type(record) is Message:
                            decision = classify_message(record, is_mine, rules)
                        elif isinstance(record, Card):
                            # Cards teach who owns which addresses, and tiers: no decision.
                            cards.append((record, self.tier_map.tier_for(record.categories)))
                            continue
                        else:
                            decision = self.classify(record, is_mine, now)
                        decisions.append((record.source_id, decision))
                        rule_counts[decision.rule] = rule_counts.get(decision.rule, 0) + 1
                        counted += decision.counts
                    report.counted += counted
                    pending.append(_Classified(page, decisions, learned, cards))
                    pending_records += len(page.records) + len(page.skipped)
                    report.records += len(page.records)
                    report.skipped += len(page.skipped)
                    if progress is not None:
                        progress(len(page.records) + len(page.skipped))
                    if self.should_stop():
                        log.info("%s: stopping; what was read so far is stored", name)
                        break
                    if (pending_records >= self.commit_records
                            or time.monotonic() - last_commit >= COMMIT_SECONDS):
                        batch, pending, pending_records = pending, [], 0
                        self._commit(name, batch, report)
                        last_commit = time.monotonic()
            except BaseException:
                # The pages read before a failure (a dropped connection, Ctrl-C) are good:
                # keep them, as committing page by page would have, then report the failure.
                batch, pending = pending, []
                try:
                    self._commit(name, batch, report)
                except Exception:
                    log.debug("%s: could not store the pages read before a failure", name,
                              exc_info=True)
                raise
            self._commit(name, pending, report)

    def _commit(self, name: str, pages: list[_Classified], report: SyncReport) -> None:
        """Store classified pages in order, in one transaction; then revisit what the
        addresses of mine they taught change (:meth:`revisit`)."""
        if not pages:
            return
        learned_here: set[str] = set()
        with self.store.batch():
            for page, decisions, learned, cards in pages:
                records = page.records
                if cards or (page.removals and self.store.card_count(name)):
                    # Removals of an address book untrack (never erase) their people.
                    self.store.apply_cards(name, cards, page.removals)
                    records = tuple(r for r in records if not isinstance(r, Card))
                # Messages whose decision an address of mine learned later could change are
                # kept for revisit (see revisit).
                revisitable = {record.source_id: encode_message(record)
                               for record, (_, decision) in zip(records, decisions, strict=True)
                               if decision.rule not in MINE_INDEPENDENT_RULES
                               and isinstance(record, Message)}
                report.new_contacts += self.store.apply(name, decisions, page.skipped,
                                                        page.cursor, learned,
                                                        removals=page.removals,
                                                        revisitable=revisitable)
                learned_here |= learned
        if learned_here:
            self.revisit(learned_here)

    def revisit(self, addresses: Iterable[str]) -> int:
        """Decide again every kept message that involved one of ``addresses``, now mine.

        A page is classified with the addresses of mine known when it is read; mail to an
        alias read before the first mail sent from it (Gmail reads one folder in UID order), or
        an address added to ``[me]`` later, would otherwise leave those decisions as they were.
        Revisiting makes what counts independent of the order mail is read in. Return the
        number of interactions whose contacts changed.
        """
        kept = self.store.revisitable(addresses)
        if not kept:
            return 0
        mine = self.store.my_addresses()
        decisions: dict[int, list[Decision]] = {}
        for interaction_id, texts in kept.items():
            for text in texts:
                try:
                    message = decode_message(text)
                except (ValueError, KeyError, TypeError):
                    continue  # unreadable: the decision made at the time stands
                decisions.setdefault(interaction_id, []).append(
                    classify_message(message, mine.__contains__, self.rules))
        changed = self.store.redecide(decisions)
        if changed:
            self.refresh_rhythms()
        log.info("revisited %d messages involving %d newly known addresses of mine: %d changed",
                 sum(len(texts) for texts in kept.values()), len(set(addresses)), changed)
        return changed

    def classify(self, record: Record, mine: Callable[[str], bool],
                 now: datetime | None = None) -> Decision:
        """Return the rules' decision for one record (``now`` defaults to the clock)."""
        if isinstance(record, Message):
            return classify_message(record, mine, self.rules)
        if isinstance(record, Meeting):
            return classify_meeting(record, mine, self.rules,
                                    self.clock() if now is None else now)
        raise SourceError(f"records of type {type(record).__name__} carry no decision; "
                          "address-book cards are stored by Store.apply_cards")

    def refresh_rhythms(self) -> None:
        """Recompute the history, lasting strength and inferred rhythm of everyone whose
        contacts changed (syncd.strength, syncd.ties)."""
        refresh_rhythms(self.store)


def refresh_rhythms(store: Store) -> None:
    """Recompute the history, lasting strength and inferred rhythm of everyone whose contacts
    changed (marked ``rhythm_dirty``): after a sync, a revisit, a merge or a split."""
    histories = store.refresh_histories(scored_from_days=MIN_SCORED_DAYS)
    store.set_strengths((person_id, lasting_score(history)) for person_id, history in histories)
    store.clear_rhythms(fewer_contacts_than=MIN_CONTACT_DAYS)
    stale = store.dirty_rhythms()
    if stale:
        store.set_rhythms((person_id, infer_rhythm(times)) for person_id, times in stale)


@contextlib.contextmanager
def _closing(pages: Iterator[Page]) -> Iterator[Iterator[Page]]:
    """Yield ``pages``; on exit call its ``close()`` if it has one (a generator does).

    A prefetch child is then killed and reaped, and a connector's own generator runs its
    ``finally`` (closing its connection) right away rather than whenever it is collected.
    """
    try:
        yield pages
    finally:
        close = getattr(pages, "close", None)
        if close is not None:
            close()
