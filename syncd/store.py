"""The state database: SQLite, one file, owned by the user alone.

Why the schema looks like this:

- ``interactions`` holds one row per real-world event (an e-mail, a meeting occurrence, a
  logged call), keyed by its *dedupe key*, so the same Message-ID seen in two folders or two
  sources is one interaction. ``observations`` maps every (source, source id) to it: that is
  what makes re-syncing idempotent and lets connectors ask "have I stored this already?".
- ``contacts`` links an interaction to each person it involved, with ``counts`` telling whether
  it is proof of contact. Its primary key (interaction, person) is why nothing double-counts.
- ``person_stats`` is derived from ``contacts`` and maintained incrementally as contacts are
  inserted, so ``due`` and ``people`` read one row per person and never scan contacts. It can be
  rebuilt from ``contacts`` at any time (``rebuild_stats``); ``rhythm_dirty`` marks people whose
  inferred rhythm must be recomputed (done once at the end of a sync, not per page).
- A source's cursor is written in the same transaction as the page it belongs to (DESIGN §1.2).
- Contacts are never retracted when mail is expunged or moved: a message once seen stays proof.

Migrations run by ``PRAGMA user_version``; a database from a newer syncd is refused untouched.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from syncd.errors import StoreError, StoreTooNew
from syncd.model import Address, Decision, Direction, Skip

log = logging.getLogger(__name__)

DATABASE_NAME = "syncd.sqlite3"

_MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema.
    """
    CREATE TABLE sources (
        name TEXT PRIMARY KEY,
        cursor TEXT,
        last_attempt INTEGER,
        last_success INTEGER,
        last_error TEXT,
        error_kind TEXT,
        had_data INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE my_addresses (
        address TEXT PRIMARY KEY,
        origin TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE people (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL DEFAULT '',
        tracked INTEGER NOT NULL DEFAULT 0,
        tracked_by TEXT,
        tier TEXT,
        every_days REAL,
        snoozed_until INTEGER,
        ignored INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX people_tracked ON people(tracked) WHERE tracked = 1;
    CREATE TABLE addresses (
        address TEXT PRIMARY KEY,
        person_id INTEGER NOT NULL REFERENCES people(id)
    ) WITHOUT ROWID;
    CREATE INDEX addresses_person ON addresses(person_id);
    CREATE TABLE interactions (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        at INTEGER,
        direction TEXT,
        counts INTEGER NOT NULL,
        rule TEXT NOT NULL,
        reason TEXT NOT NULL,
        note TEXT
    );
    CREATE TABLE observations (
        source TEXT NOT NULL,
        source_id TEXT NOT NULL,
        interaction_id INTEGER NOT NULL,
        PRIMARY KEY (source, source_id)
    ) WITHOUT ROWID;
    CREATE TABLE contacts (
        interaction_id INTEGER NOT NULL,
        person_id INTEGER NOT NULL,
        at INTEGER,
        direction TEXT,
        counts INTEGER NOT NULL,
        PRIMARY KEY (interaction_id, person_id)
    ) WITHOUT ROWID;
    CREATE INDEX contacts_person ON contacts(person_id, at);
    CREATE TABLE person_stats (
        person_id INTEGER PRIMARY KEY,
        last_outgoing INTEGER,
        last_incoming INTEGER,
        last_meeting INTEGER,
        last_manual INTEGER,
        last_contact INTEGER,
        first_contact INTEGER,
        interactions INTEGER NOT NULL DEFAULT 0,
        inferred_days REAL,
        rhythm_dirty INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX person_stats_dirty ON person_stats(rhythm_dirty) WHERE rhythm_dirty = 1;
    CREATE TABLE skips (
        source TEXT NOT NULL,
        source_id TEXT NOT NULL,
        reason TEXT NOT NULL,
        PRIMARY KEY (source, source_id)
    ) WITHOUT ROWID;
    CREATE TABLE ignore_patterns (
        pattern TEXT PRIMARY KEY
    ) WITHOUT ROWID;
    """,
    # 2: calendars and alerts.
    # upcoming: future meeting occurrences that would count once started, one row per person.
    # They suppress reminders ("you will see Bob on Thursday") and become contacts when their
    # start passes (promote_started_meetings), even if the calendar never changes again.
    # A removal (cancelled/deleted event) deletes upcoming rows only: a past meeting stays proof.
    # alerts: every notification sent and every action taken, so a restart repeats nothing.
    """
    CREATE TABLE upcoming (
        source TEXT NOT NULL,
        source_id TEXT NOT NULL,
        person_id INTEGER NOT NULL,
        dedupe_key TEXT NOT NULL,
        start INTEGER NOT NULL,
        reason TEXT NOT NULL,
        PRIMARY KEY (source, source_id, person_id)
    ) WITHOUT ROWID;
    CREATE INDEX upcoming_person ON upcoming(person_id, start);
    CREATE INDEX upcoming_start ON upcoming(start);
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        person_id INTEGER,
        kind TEXT NOT NULL,
        at INTEGER NOT NULL,
        due_at INTEGER,
        detail TEXT
    );
    CREATE INDEX alerts_person ON alerts(person_id, at);
    CREATE INDEX alerts_at ON alerts(at);
    """,
    # 3: small facts about what was applied last (so start-up work runs only on a change).
    """
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # 4: the messages whose decision depends on which addresses are mine (syncd.message_codec
    # JSON), so a decision is made again when an address of mine is learned later: what counts
    # then never depends on the order mail was read in (Engine.revisit).
    """
    CREATE TABLE revisitable (
        source TEXT NOT NULL,
        source_id TEXT NOT NULL,
        interaction_id INTEGER NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (source, source_id)
    );
    CREATE INDEX revisitable_interaction ON revisitable(interaction_id);
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)

_LAST_COLUMN = {
    Direction.OUTGOING: "last_outgoing",
    Direction.INCOMING: "last_incoming",
    Direction.MEETING: "last_meeting",
    Direction.MANUAL: "last_manual",
}

# Adds a person's summed new contacts to person_stats: the last_* columns and first_contact
# keep the later (earlier) of the stored and the new time; NULL means "none yet" on both sides.
_ADD_STATS = (
    "INSERT INTO person_stats(person_id, last_outgoing, last_incoming, last_meeting, "
    "last_manual, last_contact, first_contact, interactions, rhythm_dirty) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT(person_id) DO UPDATE SET "
    + ", ".join(f"{column} = coalesce(max({column}, excluded.{column}), {column}, "
                f"excluded.{column})" for column in (*_LAST_COLUMN.values(), "last_contact"))
    + ", first_contact = coalesce(min(first_contact, excluded.first_contact), first_contact, "
    "excluded.first_contact), interactions = interactions + excluded.interactions, "
    "rhythm_dirty = 1"
)
#: Keys per ``IN (...)`` lookup: well under SQLite's 999 variables of old builds.
_LOOKUP_CHUNK = 500
_STATS_INDEX = {direction: index for index, direction in enumerate(_LAST_COLUMN)}


class _Links:
    """What one page adds: contact rows to insert, and counted contacts summed per person.

    ``stats`` maps a person id to ([last_outgoing, last_incoming, last_meeting, last_manual],
    [last_contact, first_contact, count]): the columns of :data:`_ADD_STATS` in order.
    """

    __slots__ = ("contacts", "stats")

    def __init__(self) -> None:
        self.contacts: list[tuple[int, int, int | None, str | None, int]] = []
        self.stats: dict[int, tuple[list[int | None], list[int]]] = {}

    def count(self, person_id: int, direction: Direction, at: int) -> None:
        entry = self.stats.get(person_id)
        if entry is None:
            entry = self.stats[person_id] = ([None, None, None, None], [at, at, 0])
        lasts, totals = entry
        index = _STATS_INDEX[direction]
        last = lasts[index]
        if last is None or at > last:
            lasts[index] = at
        if at > totals[0]:
            totals[0] = at
        if at < totals[1]:
            totals[1] = at
        totals[2] += 1


def to_epoch(moment: datetime | None) -> int | None:
    """Return whole UTC seconds for an aware datetime (None stays None)."""
    return None if moment is None else int(moment.timestamp())


def from_epoch(seconds: int | None) -> datetime | None:
    """Return the aware UTC datetime for stored seconds (None stays None)."""
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True, slots=True)
class PersonRow:
    """A person with their stats, as listings need them."""

    id: int
    name: str
    addresses: tuple[str, ...]
    tracked: bool
    tier: str | None
    every_days: float | None
    snoozed_until: datetime | None
    last_outgoing: datetime | None
    last_incoming: datetime | None
    last_meeting: datetime | None
    last_manual: datetime | None
    last_contact: datetime | None
    first_contact: datetime | None
    interactions: int
    inferred_days: float | None


@dataclass(frozen=True, slots=True)
class SourceRow:
    """What ``syncd status`` shows for one source."""

    name: str
    last_attempt: datetime | None
    last_success: datetime | None
    last_error: str | None
    error_kind: str | None
    observations: int
    skipped: dict[str, int]


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One interaction on a person's page."""

    at: datetime | None
    direction: str | None
    counts: bool
    rule: str
    reason: str
    note: str | None


class Store:
    """The SQLite state database. Not thread-safe: one Store per thread."""

    def __init__(self, connection: sqlite3.Connection, path: Path | None) -> None:
        self._db = connection
        self.path = path
        #: address -> (person id, has a name): most mail is with the same few hundred people,
        #: so this saves two statements per participant. Only _resolve_people adds to it;
        #: merge_addresses and a rolled-back transaction clear it.
        self._people_by_address: dict[str, tuple[int, bool]] = {}
        #: Set inside :meth:`batch`: apply() then joins the batch's transaction.
        self._batched = False

    # --- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, state_dir: Path) -> Store:
        """Open (creating if needed) the database in ``state_dir``, migrated to this version.

        The directory is made 0700 and the file 0600. Raise :class:`StoreTooNew` for a database
        from a newer syncd and :class:`StoreError` when it cannot be opened.
        """
        try:
            state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(state_dir, 0o700)
            path = state_dir / DATABASE_NAME
            if not path.exists():
                # Create it 0600 before SQLite does, so it is never readable by others.
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            os.chmod(path, 0o600)
            connection = sqlite3.connect(path, timeout=30, isolation_level=None)
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"cannot open the state database in {state_dir}: {error}") from None
        store = cls(connection, path)
        store._prepare()
        return store

    @classmethod
    def in_memory(cls) -> Store:
        """Return a fresh database in memory (for tests and benchmarks)."""
        store = cls(sqlite3.connect(":memory:", isolation_level=None), None)
        store._prepare()
        return store

    def _prepare(self) -> None:
        try:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                self._db.close()
                raise StoreTooNew(
                    f"the state database {self.path} was written by a newer syncd (schema "
                    f"{version}, this one knows {SCHEMA_VERSION}); upgrade syncd, it was not "
                    "modified")
            self._db.execute("PRAGMA busy_timeout = 30000")
            if self.path is not None:
                self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            # 8 MB of page cache instead of 2: a first sync's index inserts then mostly hit
            # memory (~8% faster at 100,000 messages; more bought nothing measurable).
            self._db.execute("PRAGMA cache_size = -8000")
            self._db.execute("PRAGMA foreign_keys = OFF")
            for number in range(version, SCHEMA_VERSION):
                with self.transaction():
                    for statement in _MIGRATIONS[number].split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {number + 1}")
        except sqlite3.DatabaseError as error:
            raise StoreError(f"the state database {self.path} is unusable: {error}; move it "
                             "away and run: syncd sync --full") from None

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the block in one ``BEGIN IMMEDIATE`` transaction; roll back on any exception."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            self._people_by_address.clear()  # it may name people the rollback removed
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Run the :meth:`apply` calls made in the block in ONE transaction, in order.

        One commit for several pages writes each database page touched once instead of once
        per call: a first sync of 100,000 messages committed page by page (500 messages) spent
        a quarter of its store time writing the WAL. The result equals the same calls made
        one by one; an exception rolls the whole batch back (nothing of it was stored, so the
        next pass reads it again, counting nothing twice).
        """
        with self.transaction():
            self._batched = True
            try:
                yield
            finally:
                self._batched = False

    # --- sources -------------------------------------------------------------------------------

    def cursor(self, source: str) -> str | None:
        """Return the stored cursor of ``source`` (None before its first complete page)."""
        row = self._db.execute("SELECT cursor FROM sources WHERE name = ?", (source,)).fetchone()
        return None if row is None else row[0]

    def had_data(self, source: str) -> bool:
        """Return True when ``source`` has ever delivered a record."""
        row = self._db.execute("SELECT had_data FROM sources WHERE name = ?",
                               (source,)).fetchone()
        return bool(row and row[0])

    def reset_cursor(self, source: str) -> None:
        """Forget the cursor of ``source`` so its next pass is a full one."""
        with self.transaction():
            self._db.execute("UPDATE sources SET cursor = NULL WHERE name = ?", (source,))

    def is_known(self, source: str, source_id: str) -> bool:
        """Return True when ``source_id`` of ``source`` is stored."""
        return self._db.execute(
            "SELECT 1 FROM observations WHERE source = ? AND source_id = ?", (source, source_id)
        ).fetchone() is not None

    def known_ids(self, source: str) -> set[str]:
        """Return every stored source id of ``source``."""
        rows = self._db.execute("SELECT source_id FROM observations WHERE source = ?", (source,))
        return {row[0] for row in rows}

    def record_attempt(self, source: str, at: datetime, error: str | None,
                       error_kind: str | None = None) -> None:
        """Record the outcome of one pass over ``source`` for ``syncd status``."""
        epoch = to_epoch(at)
        with self.transaction():
            self._db.execute("INSERT OR IGNORE INTO sources(name) VALUES (?)", (source,))
            if error is None:
                self._db.execute(
                    "UPDATE sources SET last_attempt = ?, last_success = ?, last_error = NULL, "
                    "error_kind = NULL WHERE name = ?", (epoch, epoch, source))
            else:
                self._db.execute(
                    "UPDATE sources SET last_attempt = ?, last_error = ?, error_kind = ? "
                    "WHERE name = ?", (epoch, error, error_kind, source))

    def is_paused(self, source: str) -> bool:
        """Return True when ``source`` failed authentication and waits for ``syncd auth``."""
        row = self._db.execute("SELECT error_kind FROM sources WHERE name = ?",
                               (source,)).fetchone()
        return bool(row and row[0] == "auth")

    def clear_pause(self, source: str) -> None:
        """Un-pause a source after ``syncd auth`` stored a working password."""
        with self.transaction():
            self._db.execute("UPDATE sources SET error_kind = NULL WHERE name = ? AND "
                             "error_kind = 'auth'", (source,))

    def sources(self) -> list[SourceRow]:
        """Return every source that has been synced at least once, by name."""
        skips: dict[str, dict[str, int]] = {}
        for source, reason, count in self._db.execute(
                "SELECT source, reason, count(*) FROM skips GROUP BY source, reason"):
            skips.setdefault(source, {})[reason] = count
        counts = dict(self._db.execute(
            "SELECT source, count(*) FROM observations GROUP BY source").fetchall())
        rows = self._db.execute("SELECT name, last_attempt, last_success, last_error, "
                                "error_kind FROM sources ORDER BY name").fetchall()
        return [SourceRow(name, from_epoch(attempt), from_epoch(success), error, kind,
                          counts.get(name, 0), skips.get(name, {}))
                for name, attempt, success, error, kind in rows]

    # --- my addresses --------------------------------------------------------------------------

    def my_addresses(self) -> set[str]:
        """Return every address known to be mine (config and learned from Sent folders)."""
        return {row[0] for row in self._db.execute("SELECT address FROM my_addresses")}

    def set_configured_addresses(self, addresses: Iterable[str]) -> None:
        """Make ``addresses`` the configured set of mine (learned ones are kept)."""
        wanted = set(addresses)
        current = {row[0] for row in self._db.execute(
            "SELECT address FROM my_addresses WHERE origin = 'config'")}
        if current == wanted:
            return  # nothing to write: see sync_configured_people
        with self.transaction():
            self._db.execute("DELETE FROM my_addresses WHERE origin = 'config'")
            self._db.executemany("INSERT OR REPLACE INTO my_addresses VALUES (?, 'config')",
                                 [(address,) for address in wanted])

    # --- applying pages ------------------------------------------------------------------------

    def apply(self, source: str, decisions: Sequence[tuple[str, Decision]],
              skipped: Sequence[Skip], cursor: str | None,
              learned_mine: Iterable[str] = (), *, removals: Sequence[str] = ()) -> int:
        """Store one page: its removals, decisions, skips and cursor, in ONE transaction.

        ``decisions`` pairs each record's source id with what the rules decided. Return the
        number of new counted (person, interaction) contacts. Replaying a page changes nothing.

        A decision with rule ``upcoming`` (a future meeting) writes one ``upcoming`` row per
        counted person instead of contacts; any other decision about a source id drops the
        upcoming rows it had (a meeting that started, or one I have since declined).
        ``removals`` delete *upcoming* rows only: a source id, or a prefix ending in ``|``
        (``calendar|UID|`` = every occurrence of one event, ``calendar|`` = a whole calendar,
        see connectors._calendar); contacts already counted stay (a past meeting is proof).
        Removals are applied before the page's decisions, so a changed event can be re-listed.
        """
        new_contacts = 0
        with nullcontext(self._db) if self._batched else self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO sources(name) VALUES (?)", (source,))
            for address in learned_mine:
                db.execute("INSERT OR IGNORE INTO my_addresses VALUES (?, ?)",
                           (address, f"sent:{source}"))
            for removal in removals:
                self._remove_upcoming(source, removal)
            has_skips = db.execute("SELECT 1 FROM skips WHERE source = ? LIMIT 1",
                                   (source,)).fetchone() is not None
            stored: list[tuple[str, Decision]] = []
            for source_id, decision in decisions:
                if has_skips:
                    db.execute("DELETE FROM skips WHERE source = ? AND source_id = ?",
                               (source, source_id))
                if decision.direction is Direction.MEETING:
                    db.execute("DELETE FROM upcoming WHERE source = ? AND source_id = ?",
                               (source, source_id))
                    if decision.rule == "upcoming":
                        self._add_upcoming(source, source_id, decision)
                        continue
                stored.append((source_id, decision))
            # The page's rows are resolved and written a statement per table (executemany,
            # half the cost of one execute per row), contact stats summed per person first
            # (commutative: max/min/+1). Its interactions and people are looked up and created
            # first, so the loop below only hits the address cache.
            identities = self._interaction_ids([decision for _, decision in stored])
            self._resolve_people(address for _, decision in stored
                                 for address in decision.participants)
            links = _Links()
            observations: list[tuple[str, str, int]] = []
            for (source_id, decision), (interaction_id, created) in zip(stored, identities,
                                                                        strict=True):
                observations.append((source, source_id, interaction_id))
                if not created:
                    # An earlier record of this page (a copy in another folder) may have
                    # linked it: write the gathered contacts before looking.
                    self._write_contacts(links)
                new_contacts += self._link_people(interaction_id, decision, created, links)
            db.executemany("INSERT OR REPLACE INTO observations VALUES (?, ?, ?)", observations)
            self._write_contacts(links)
            self._write_stats(links.stats)
            for skip in skipped:
                db.execute("INSERT OR REPLACE INTO skips VALUES (?, ?, ?)",
                           (source, skip.source_id, skip.reason))
            if decisions:
                db.execute("UPDATE sources SET had_data = 1 WHERE name = ?", (source,))
            if cursor is not None:
                db.execute("UPDATE sources SET cursor = ? WHERE name = ?", (cursor, source))
        return new_contacts

    def _remove_upcoming(self, source: str, removal: str) -> None:
        """Delete the upcoming rows (and skip notes) of a removed source id or prefix."""
        for table in ("upcoming", "skips"):
            if removal.endswith("|"):
                # A prefix: substr() compares exactly, where LIKE would see % and _ as wildcards.
                self._db.execute(f"DELETE FROM {table} WHERE source = ? AND "
                                 "substr(source_id, 1, ?) = ?", (source, len(removal), removal))
            else:
                self._db.execute(f"DELETE FROM {table} WHERE source = ? AND source_id = ?",
                                 (source, removal))

    def _add_upcoming(self, source: str, source_id: str, decision: Decision) -> None:
        start = to_epoch(decision.at)
        if start is None:
            return
        for address in decision.counted:
            person_id = self.person_for_address(address)
            self._db.execute("INSERT OR REPLACE INTO upcoming VALUES (?, ?, ?, ?, ?, ?)",
                             (source, source_id, person_id, decision.dedupe_key, start,
                              decision.reason))

    def promote_started_meetings(self, now: datetime) -> int:
        """Turn upcoming meetings whose start is at or before ``now`` into counted contacts.

        Runs through the same idempotent path as a synced meeting: one interaction per dedupe
        key (UID + RECURRENCE-ID, so the same meeting in two calendars counts once), one
        observation per (source, source id), one contact per person. Return the number of new
        counted contacts. Safe to call any number of times.
        """
        epoch = to_epoch(now)
        rows = self._db.execute(
            "SELECT source, source_id, person_id, dedupe_key, start, reason FROM upcoming "
            "WHERE start <= ? ORDER BY dedupe_key, source, source_id", (epoch,)).fetchall()
        if not rows:
            return 0
        new = 0
        with self.transaction() as db:
            identities = self._interaction_ids([
                Decision(True, "meeting", reason.replace("an upcoming meeting", "a meeting", 1),
                         Direction.MEETING, from_epoch(start), dedupe_key=key)
                for _source, _source_id, _person, key, start, reason in rows])
            for (source, source_id, person_id, _key, start, _reason), (interaction_id, _) in zip(
                    rows, identities, strict=True):
                db.execute("INSERT OR REPLACE INTO observations VALUES (?, ?, ?)",
                           (source, source_id, interaction_id))
                existing = db.execute(
                    "SELECT counts FROM contacts WHERE interaction_id = ? AND person_id = ?",
                    (interaction_id, person_id)).fetchone()
                if existing is None:
                    db.execute("INSERT INTO contacts VALUES (?, ?, ?, 'meeting', 1)",
                               (interaction_id, person_id, start))
                elif not existing[0]:
                    db.execute("UPDATE contacts SET at = ?, direction = 'meeting', counts = 1 "
                               "WHERE interaction_id = ? AND person_id = ?",
                               (start, interaction_id, person_id))
                else:
                    continue
                self._count_contact(person_id, Direction.MEETING, start)
                new += 1
            db.execute("DELETE FROM upcoming WHERE start <= ?", (epoch,))
        log.info("promoted %d started meetings (%d new contacts)", len(rows), new)
        return new

    def upcoming_for(self, person_id: int, now: datetime) -> list[tuple[datetime, str]]:
        """Return (start, reason) of the person's meetings that start after ``now``, soonest first.

        The same meeting seen in two calendars is listed once.
        """
        rows = self._db.execute(
            "SELECT min(start), reason FROM upcoming WHERE person_id = ? AND start > ? "
            "GROUP BY dedupe_key ORDER BY min(start)", (person_id, to_epoch(now))).fetchall()
        return [(datetime.fromtimestamp(start, UTC), reason) for start, reason in rows]

    def next_meetings(self, person_ids: Iterable[int], now: datetime) -> dict[int, datetime]:
        """Return, per person id that has one, the start of their next upcoming meeting."""
        ids = list(person_ids)
        result: dict[int, datetime] = {}
        for offset in range(0, len(ids), 500):
            chunk = ids[offset:offset + 500]
            marks = ",".join("?" * len(chunk))
            for person_id, start in self._db.execute(
                    f"SELECT person_id, min(start) FROM upcoming WHERE person_id IN ({marks}) "
                    "AND start > ? GROUP BY person_id", (*chunk, to_epoch(now))):
                result[person_id] = datetime.fromtimestamp(start, UTC)
        return result

    def _interaction_ids(self, decisions: Sequence[Decision]) -> list[tuple[int, bool]]:
        """Return (interaction id, whether created now) per decision, in order.

        Decisions are taken in turn: a key seen twice is created once, and a counting copy
        upgrades a non-counting one (e.g. a copy in Junk, then one in INBOX). One lookup per
        500 keys and one insert for all new ones. Ids are given here, which is safe inside the write
        transaction ``apply`` holds.
        """
        if not decisions:
            return []
        known: dict[str, list[int]] = {}  # key -> [id, counts]
        keys = list({decision.dedupe_key: None for decision in decisions})
        for offset in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[offset:offset + _LOOKUP_CHUNK]
            for interaction_id, key, counts in self._db.execute(
                    "SELECT id, key, counts FROM interactions WHERE key IN "
                    f"({','.join('?' * len(chunk))})", chunk):
                known[key] = [interaction_id, counts]
        next_id = int(self._db.execute(
            "SELECT coalesce(max(id), 0) FROM interactions").fetchone()[0]) + 1
        created: list[tuple[object, ...]] = []
        upgraded: list[tuple[object, ...]] = []
        result: list[tuple[int, bool]] = []
        for decision in decisions:
            values = (to_epoch(decision.at),
                      decision.direction.value if decision.direction else None,
                      int(decision.counts), decision.rule, decision.reason)
            entry = known.get(decision.dedupe_key)
            if entry is None:
                known[decision.dedupe_key] = [next_id, int(decision.counts)]
                created.append((next_id, decision.dedupe_key, *values))
                result.append((next_id, True))
                next_id += 1
                continue
            if decision.counts and not entry[1]:
                # Seen before where it did not count (e.g. a copy in Junk); this copy does.
                entry[1] = 1
                upgraded.append((*values, entry[0]))
            result.append((entry[0], False))
        self._db.executemany("INSERT INTO interactions(id, key, at, direction, counts, rule, "
                             "reason) VALUES (?, ?, ?, ?, ?, ?, ?)", created)
        self._db.executemany("UPDATE interactions SET at = ?, direction = ?, counts = ?, "
                             "rule = ?, reason = ? WHERE id = ?", upgraded)
        return result

    def _resolve_people(self, addresses: Iterable[Address]) -> None:
        """Put every one of ``addresses`` in the address cache (see :meth:`person_for_address`):
        new people are named after the first display name seen, unnamed ones get the first
        name seen. One lookup per 500 addresses and one insert per table for the new ones."""
        wanted: dict[str, str] = {}  # address -> the first display name seen ('' if none)
        for address in addresses:
            cached = self._people_by_address.get(address.email)
            if cached is not None and (cached[1] or not address.name):
                continue
            if not wanted.get(address.email):
                wanted[address.email] = address.name
        if not wanted:
            return
        emails = list(wanted)
        found: dict[str, tuple[int, bool]] = {}
        for offset in range(0, len(emails), _LOOKUP_CHUNK):
            chunk = emails[offset:offset + _LOOKUP_CHUNK]
            for email, person_id, named in self._db.execute(
                    "SELECT address, person_id, name != '' FROM addresses JOIN people ON "
                    f"people.id = person_id WHERE address IN ({','.join('?' * len(chunk))})",
                    chunk):
                found[email] = (person_id, bool(named))
        renamed = [(wanted[email], person_id) for email, (person_id, named) in found.items()
                   if not named and wanted[email]]
        self._db.executemany("UPDATE people SET name = ? WHERE id = ? AND name = ''", renamed)
        next_id = int(self._db.execute(
            "SELECT coalesce(max(id), 0) FROM people").fetchone()[0]) + 1
        people: list[tuple[int, str]] = []
        for email, name in wanted.items():
            if email in found:
                person_id, named = found[email]
                self._people_by_address[email] = (person_id, named or bool(name))
            else:
                people.append((next_id, name))
                self._people_by_address[email] = (next_id, bool(name))
                next_id += 1
        self._db.executemany("INSERT INTO people(id, name) VALUES (?, ?)", people)
        self._db.executemany("INSERT INTO addresses VALUES (?, ?)",
                             [(email, self._people_by_address[email][0])
                              for email in wanted if email not in found])

    def _link_people(self, interaction_id: int, decision: Decision, created: bool,
                     links: _Links) -> int:
        """Link the decision's participants to the interaction; return new counted contacts.

        Contacts of a new interaction and every counted contact's stats are gathered in
        ``links`` (written by :meth:`_write_contacts` and :meth:`_write_stats`).
        """
        counted = {address.email for address in decision.counted}
        at = to_epoch(decision.at)
        direction = decision.direction.value if decision.direction else None
        new = 0
        for address in decision.participants:
            person_id = self.person_for_address(address)
            counts = address.email in counted
            # A new interaction has no contacts yet; the participants are unique per decision.
            existing = None if created else self._db.execute(
                "SELECT counts FROM contacts WHERE interaction_id = ? AND person_id = ?",
                (interaction_id, person_id)).fetchone()
            if existing is None:
                links.contacts.append((interaction_id, person_id, at, direction, int(counts)))
            elif counts and not existing[0]:
                self._db.execute("UPDATE contacts SET at = ?, direction = ?, counts = 1 "
                                 "WHERE interaction_id = ? AND person_id = ?",
                                 (at, direction, interaction_id, person_id))
            else:
                continue
            if counts and decision.direction is not None and at is not None:
                links.count(person_id, decision.direction, at)
                new += 1
        return new

    def _write_contacts(self, links: _Links) -> None:
        if links.contacts:
            self._db.executemany("INSERT INTO contacts VALUES (?, ?, ?, ?, ?)", links.contacts)
            links.contacts.clear()

    def _write_stats(self, stats: Mapping[int, tuple[list[int | None], list[int]]]) -> None:
        """Add summed counted contacts (see :class:`_Links`) to ``person_stats``."""
        if stats:
            self._db.executemany(_ADD_STATS, [(person_id, *lasts, *totals)
                                              for person_id, (lasts, totals) in stats.items()])

    def _count_contact(self, person_id: int, direction: Direction, at: int) -> None:
        links = _Links()
        links.count(person_id, direction, at)
        self._write_stats(links.stats)

    def person_for_address(self, address: Address) -> int:
        """Return the person id for ``address``, creating a person named after it if new.

        A person still without a name takes the first display name seen.
        """
        cached = self._people_by_address.get(address.email)
        if cached is None or (address.name and not cached[1]):
            self._resolve_people((address,))
            cached = self._people_by_address[address.email]
        return cached[0]

    # --- revisiting decisions when an address of mine is learned ------------------------------

    def keep_revisitable(self, source: str, records: Sequence[tuple[str, str]]) -> None:
        """Keep ``(source id, encoded message)`` pairs of messages already applied, for
        :meth:`revisitable`; a source id kept before is replaced."""
        if records:
            with nullcontext(self._db) if self._batched else self.transaction() as db:
                db.executemany(
                    "INSERT OR REPLACE INTO revisitable SELECT source, source_id, "
                    "interaction_id, ? FROM observations WHERE source = ? AND source_id = ?",
                    [(text, source, source_id) for source_id, text in records])

    def revisitable(self, addresses: Iterable[str]) -> dict[int, list[str]]:
        """Return, per interaction that involved one of ``addresses`` as someone else (a
        contact row of the person holding it), the encoded messages kept for it."""
        found: dict[int, list[str]] = {}
        wanted = sorted(set(addresses))
        for offset in range(0, len(wanted), _LOOKUP_CHUNK):
            chunk = wanted[offset:offset + _LOOKUP_CHUNK]
            for interaction_id, _source, _source_id, record in self._db.execute(
                    "SELECT DISTINCT r.interaction_id, r.source, r.source_id, r.record "
                    "FROM addresses a JOIN contacts c ON c.person_id = a.person_id "
                    "JOIN revisitable r ON r.interaction_id = c.interaction_id "
                    f"WHERE a.address IN ({','.join('?' * len(chunk))})", chunk).fetchall():
                found.setdefault(interaction_id, []).append(record)
        return found

    def redecide(self, decisions: Mapping[int, Sequence[Decision]]) -> int:
        """Replace what each interaction's copies were decided with ``decisions`` (one per
        kept copy, in any order), in one transaction; return the interactions changed.

        The interaction takes the first counting decision (else the first one); its contacts
        are rewritten as :meth:`apply` would have written them for these decisions, and the
        stats of everyone who was or now is in them are rebuilt.
        """
        touched: set[int] = set()
        changed = 0
        with self.transaction() as db:
            for interaction_id, found in decisions.items():
                if not found:
                    continue
                chosen = next((decision for decision in found if decision.counts), found[0])
                contacts: dict[int, tuple[int | None, str | None, int]] = {}
                for decision in found:
                    counted = {address.email for address in decision.counted}
                    for address in decision.participants:
                        person_id = self.person_for_address(address)
                        counts = int(address.email in counted)
                        if person_id not in contacts or counts > contacts[person_id][2]:
                            contacts[person_id] = (
                                to_epoch(decision.at),
                                decision.direction.value if decision.direction else None, counts)
                before = db.execute(
                    "SELECT person_id, at, direction, counts FROM contacts WHERE "
                    "interaction_id = ?", (interaction_id,)).fetchall()
                if {row[0]: tuple(row[1:]) for row in before} == contacts:
                    continue
                changed += 1
                touched.update(row[0] for row in before)
                touched.update(contacts)
                db.execute("DELETE FROM contacts WHERE interaction_id = ?", (interaction_id,))
                db.executemany("INSERT INTO contacts VALUES (?, ?, ?, ?, ?)",
                               [(interaction_id, person_id, *values)
                                for person_id, values in contacts.items()])
                db.execute(
                    "UPDATE interactions SET at = ?, direction = ?, counts = ?, rule = ?, "
                    "reason = ? WHERE id = ?",
                    (to_epoch(chosen.at), chosen.direction.value if chosen.direction else None,
                     int(chosen.counts), chosen.rule, chosen.reason, interaction_id))
            self.rebuild_stats(touched)
        return changed

    # --- derived stats ------------------------------------------------------------------------

    def clear_rhythms(self, fewer_contacts_than: int) -> None:
        """Settle the stale rhythm of everyone with fewer counted contacts than given as none.

        One statement for what is, after a first sync, most people (one-off correspondents):
        a rhythm needs that many contact days, and days <= contacts.
        """
        with self.transaction():
            self._db.execute("UPDATE person_stats SET inferred_days = NULL, rhythm_dirty = 0 "
                             "WHERE rhythm_dirty = 1 AND interactions < ?",
                             (fewer_contacts_than,))

    def dirty_rhythms(self) -> list[tuple[int, list[int]]]:
        """Return (person id, sorted counted contact times) for people whose rhythm is stale."""
        people = [row[0] for row in self._db.execute(
            "SELECT person_id FROM person_stats WHERE rhythm_dirty = 1")]
        return [(person_id, self.contact_times(person_id)) for person_id in people]

    def contact_times(self, person_id: int) -> list[int]:
        """Return the sorted times of every counted contact with a person."""
        return [row[0] for row in self._db.execute(
            "SELECT at FROM contacts WHERE person_id = ? AND counts = 1 AND at IS NOT NULL "
            "ORDER BY at", (person_id,))]

    def set_rhythms(self, rhythms: Iterable[tuple[int, float | None]]) -> None:
        """Store inferred cadences (days) and clear their dirty marks."""
        with self.transaction():
            self._db.executemany(
                "UPDATE person_stats SET inferred_days = ?, rhythm_dirty = 0 WHERE person_id = ?",
                [(days, person_id) for person_id, days in rhythms])

    def rebuild_stats(self, person_ids: Iterable[int]) -> None:
        """Recompute the stats of ``person_ids`` from their contacts (inside a transaction)."""
        for person_id in person_ids:
            self._db.execute("DELETE FROM person_stats WHERE person_id = ?", (person_id,))
            totals = self._db.execute(
                "SELECT count(DISTINCT interaction_id), max(at), min(at) FROM contacts "
                "WHERE person_id = ? AND counts = 1 AND at IS NOT NULL", (person_id,)).fetchone()
            if not totals[0]:
                continue
            values = {column: None for column in _LAST_COLUMN.values()}
            for direction, last in self._db.execute(
                    "SELECT direction, max(at) FROM contacts WHERE person_id = ? AND counts = 1 "
                    "AND at IS NOT NULL GROUP BY direction", (person_id,)):
                values[_LAST_COLUMN[Direction(direction)]] = last
            self._db.execute(
                "INSERT INTO person_stats(person_id, last_outgoing, last_incoming, last_meeting, "
                "last_manual, last_contact, first_contact, interactions, rhythm_dirty) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
                (person_id, values["last_outgoing"], values["last_incoming"],
                 values["last_meeting"], values["last_manual"], totals[1], totals[2], totals[0]))

    # --- people --------------------------------------------------------------------------------

    def merge_addresses(self, name: str, addresses: Sequence[str]) -> int:
        """Make ``addresses`` one person called ``name`` and return its id (in a transaction).

        People that held some of the addresses are merged into it: their contacts move, their
        stats are rebuilt, and a person left without addresses is deleted.
        """
        self._people_by_address.clear()
        owners: list[int] = []
        for address in addresses:
            row = self._db.execute("SELECT person_id FROM addresses WHERE address = ?",
                                   (address,)).fetchone()
            if row is not None and row[0] not in owners:
                owners.append(int(row[0]))
        if owners:
            target = owners[0]
        else:
            target = int(self._db.execute("INSERT INTO people(name) VALUES (?)",
                                          (name,)).lastrowid or 0)
        self._db.execute("UPDATE people SET name = ? WHERE id = ?", (name, target))
        for address in addresses:
            self._db.execute("INSERT OR REPLACE INTO addresses VALUES (?, ?)", (address, target))
        for other in owners[1:]:
            self._db.execute("UPDATE OR IGNORE contacts SET person_id = ? WHERE person_id = ?",
                             (target, other))
            self._db.execute("DELETE FROM contacts WHERE person_id = ?", (other,))
            remaining = self._db.execute("SELECT count(*) FROM addresses WHERE person_id = ?",
                                         (other,)).fetchone()[0]
            if remaining == 0:
                self._db.execute("DELETE FROM people WHERE id = ?", (other,))
                self._db.execute("DELETE FROM person_stats WHERE person_id = ?", (other,))
            else:
                self.rebuild_stats([other])
        if len(owners) > 1:
            self.rebuild_stats([target])
        return target

    def sync_configured_people(self, people: Sequence[tuple[str, Sequence[str], str | None,
                                                          float | None]]) -> None:
        """Apply ``[[people]]`` (name, addresses, tier, every days): merged and tracked.

        People tracked only because an earlier config listed them are untracked when removed.
        Every command applies the config, so when the store already matches it nothing is
        written (a read-only command never waits for the daemon's write lock).
        """
        if self._people_as_configured(people):
            return
        with self.transaction():
            listed: set[int] = set()
            for name, addresses, tier, every_days in people:
                person_id = self.merge_addresses(name, addresses)
                listed.add(person_id)
                self._db.execute("UPDATE people SET tracked = 1, tracked_by = 'config', "
                                 "tier = ?, every_days = ?, ignored = 0 WHERE id = ?",
                                 (tier, every_days, person_id))
            for (person_id,) in self._db.execute(
                    "SELECT id FROM people WHERE tracked_by = 'config'").fetchall():
                if person_id not in listed:
                    self._db.execute("UPDATE people SET tracked = 0, tracked_by = NULL, "
                                     "tier = NULL, every_days = NULL WHERE id = ?", (person_id,))

    def _people_as_configured(self, people: Sequence[tuple[str, Sequence[str], str | None,
                                                           float | None]]) -> bool:
        """Return True when applying ``people`` would change nothing."""
        listed: set[int] = set()
        for name, addresses, tier, every_days in people:
            marks = ",".join("?" * len(addresses))
            owners = self._db.execute(
                f"SELECT DISTINCT person_id, count(*) OVER () FROM addresses "
                f"WHERE address IN ({marks})", list(addresses)).fetchall()
            if len(owners) != 1 or owners[0][1] != len(set(addresses)):
                return False
            person_id = owners[0][0]
            row = self._db.execute("SELECT name, tracked, tracked_by, tier, every_days, ignored "
                                   "FROM people WHERE id = ?", (person_id,)).fetchone()
            if row is None or tuple(row) != (name, 1, "config", tier, every_days, 0):
                return False
            listed.add(person_id)
        configured = {row[0] for row in self._db.execute(
            "SELECT id FROM people WHERE tracked_by = 'config'")}
        return configured == listed

    def set_tracking(self, person_id: int, tracked: bool, tier: str | None = None,
                     every_days: float | None = None) -> None:
        """Track (with an optional tier or cadence) or untrack a person."""
        with self.transaction():
            self._db.execute("UPDATE people SET tracked = ?, tracked_by = ?, tier = ?, "
                             "every_days = ? WHERE id = ?",
                             (int(tracked), "cli" if tracked else None, tier, every_days,
                              person_id))

    def mark_tracked_in_transaction(self, person_id: int, tier: str) -> None:
        """Track a person at ``tier`` unless the config already tracks them (no transaction)."""
        self._db.execute("UPDATE people SET tracked = 1, tracked_by = 'vcard', tier = ? "
                         "WHERE id = ? AND tracked_by IS NOT 'config'", (tier, person_id))

    def snooze(self, person_id: int, until: datetime | None) -> None:
        """Silence a person until ``until`` (None ends a snooze)."""
        with self.transaction():
            self._db.execute("UPDATE people SET snoozed_until = ? WHERE id = ?",
                             (to_epoch(until), person_id))

    def log_manual(self, person_id: int, at: datetime, note: str | None) -> None:
        """Record a contact the machine cannot see (a call, a visit)."""
        epoch = to_epoch(at)
        assert epoch is not None
        with self.transaction():
            interaction_id = self._db.execute(
                "INSERT INTO interactions(key, at, direction, counts, rule, reason, note) "
                "VALUES (?, ?, 'manual', 1, 'manual', 'logged with syncd done', ?)",
                (f"manual:{uuid.uuid4()}", epoch, note)).lastrowid
            self._db.execute("INSERT INTO contacts VALUES (?, ?, ?, 'manual', 1)",
                             (interaction_id, person_id, epoch))
            self._count_contact(person_id, Direction.MANUAL, epoch)

    def setting(self, key: str) -> str | None:
        """Return a stored setting (None when never set)."""
        row = self._db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_setting(self, key: str, value: str) -> None:
        """Store a setting."""
        with self.transaction():
            self._db.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (key, value))

    def add_ignore_pattern(self, pattern: str) -> None:
        """Remember an ignore pattern given on the command line."""
        with self.transaction():
            self._db.execute("INSERT OR IGNORE INTO ignore_patterns VALUES (?)", (pattern,))

    def ignore_patterns(self) -> list[str]:
        """Return the ignore patterns given on the command line."""
        return [row[0] for row in self._db.execute("SELECT pattern FROM ignore_patterns")]

    def mark_ignored(self, predicate: Callable[[str], bool]) -> int:
        """Flag every person not from the config who has an address ``predicate`` accepts."""
        hits = {person_id for address, person_id in self._db.execute(
            "SELECT a.address, a.person_id FROM addresses a JOIN people p ON p.id = a.person_id "
            "WHERE p.ignored = 0 AND p.tracked_by IS NOT 'config'") if predicate(address)}
        with self.transaction():
            self._db.executemany("UPDATE people SET ignored = 1 WHERE id = ?",
                                 [(person_id,) for person_id in hits])
        return len(hits)

    # --- reading people ------------------------------------------------------------------------

    _PERSON_COLUMNS = (
        "p.id, p.name, p.tracked, p.tier, p.every_days, p.snoozed_until, s.last_outgoing, "
        "s.last_incoming, s.last_meeting, s.last_manual, s.last_contact, s.first_contact, "
        "coalesce(s.interactions, 0), s.inferred_days")

    def _people(self, where: str, parameters: Sequence[object] = ()) -> list[PersonRow]:
        rows = self._db.execute(
            f"SELECT {self._PERSON_COLUMNS} FROM people p "
            f"LEFT JOIN person_stats s ON s.person_id = p.id WHERE {where}",
            parameters).fetchall()
        addresses: dict[int, list[str]] = {}
        if rows:
            if len(rows) > 500:
                query = "SELECT person_id, address FROM addresses ORDER BY address"
                pairs = self._db.execute(query).fetchall()
            else:
                marks = ",".join("?" * len(rows))
                pairs = self._db.execute(
                    f"SELECT person_id, address FROM addresses WHERE person_id IN ({marks}) "
                    "ORDER BY address", [row[0] for row in rows]).fetchall()
            for person_id, address in pairs:
                addresses.setdefault(person_id, []).append(address)
        return [PersonRow(row[0], row[1], tuple(addresses.get(row[0], ())), bool(row[2]),
                          row[3], row[4], from_epoch(row[5]), from_epoch(row[6]),
                          from_epoch(row[7]), from_epoch(row[8]), from_epoch(row[9]),
                          from_epoch(row[10]), from_epoch(row[11]), row[12], row[13])
                for row in rows]

    def tracked_people(self) -> list[PersonRow]:
        """Return every tracked person with stats."""
        return self._people("p.tracked = 1")

    def due_candidates(self, tier_days: Mapping[str, float], default_days: float,
                       now: datetime, *,
                       renotify_after: timedelta | None = None) -> list[PersonRow]:
        """Return tracked people who may be due soon or quiet: a superset, decided in SQL.

        ``syncd due`` must not build 50,000 rows to show 20, so the cadence precedence of
        :func:`syncd.ties.cadence_for` is mirrored here (person > tier > inferred for two-way
        ties > default) with a margin: the warning band is at most 15% of the cadence plus a
        day, so ``last + 0.85 * cadence - 1 day <= now`` keeps everyone ties.py could list.

        With ``renotify_after`` (the alert check), people :mod:`syncd.alerts` would hold back
        as already alerted are left out too: an alert within ``renotify_after``, with no
        contact since and no snooze that started after it and has ended.
        """
        alerted = ""
        parameters: tuple[object, ...] = ()
        if renotify_after is not None:
            alerted = (
                " AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.person_id = p.id AND a.kind IN "
                "('alert', 'digest') AND a.at > ? AND a.at >= coalesce(s.last_contact, 0) AND "
                "(p.snoozed_until IS NULL OR p.snoozed_until <= a.at OR p.snoozed_until > ?))")
            epoch = to_epoch(now) or 0
            parameters = (epoch - int(renotify_after.total_seconds()), epoch)
        tiers = "".join(f"WHEN {self._quote(name)} THEN {float(days)!r} "
                        for name, days in tier_days.items())
        tier_case = f"CASE p.tier {tiers}END" if tiers else "NULL"
        cadence = (
            f"coalesce(p.every_days, {tier_case}, CASE WHEN s.last_outgoing IS NOT NULL "
            "OR s.last_meeting IS NOT NULL OR s.last_manual IS NOT NULL "
            "THEN s.inferred_days END, ?)")
        return self._people(
            f"p.tracked = 1 AND (s.last_contact IS NULL OR "
            f"s.last_contact + 86400 * ({cadence} * 0.85 - 1) <= ?){alerted}",
            (default_days, to_epoch(now), *parameters))

    @staticmethod
    def _quote(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    def counted_people(self) -> list[PersonRow]:
        """Return everyone with at least one counted contact, and everyone tracked."""
        return self._people("(p.tracked = 1 OR s.interactions > 0) AND p.ignored = 0")

    def person(self, person_id: int) -> PersonRow | None:
        """Return one person by id."""
        rows = self._people("p.id = ?", (person_id,))
        return rows[0] if rows else None

    def find_people(self, query: str) -> list[int]:
        """Return ids of people whose id, address or name matches ``query`` exactly."""
        text = query.strip()
        if text.isdigit():
            row = self._db.execute("SELECT id FROM people WHERE id = ?", (int(text),)).fetchone()
            if row:
                return [row[0]]
        row = self._db.execute("SELECT person_id FROM addresses WHERE address = ?",
                               (text.lower(),)).fetchone()
        if row:
            return [row[0]]
        return [row[0] for row in self._db.execute(
            "SELECT id FROM people WHERE name = ? COLLATE NOCASE ORDER BY tracked DESC, id",
            (text,))]

    def names_and_addresses(self) -> list[str]:
        """Return every person name and address (for "did you mean")."""
        names = [row[0] for row in self._db.execute(
            "SELECT DISTINCT name FROM people WHERE name != ''")]
        return names + [row[0] for row in self._db.execute("SELECT address FROM addresses")]

    def timeline(self, person_id: int, limit: int = 20,
                 counted_only: bool = True) -> list[TimelineEntry]:
        """Return the person's latest interactions, newest first."""
        condition = "AND c.counts = 1" if counted_only else ""
        rows = self._db.execute(
            "SELECT i.at, i.direction, c.counts, i.rule, i.reason, i.note FROM contacts c "
            "JOIN interactions i ON i.id = c.interaction_id "
            f"WHERE c.person_id = ? {condition} ORDER BY i.at DESC LIMIT ?",
            (person_id, limit)).fetchall()
        return [TimelineEntry(from_epoch(at), direction, bool(counts), rule, reason, note)
                for at, direction, counts, rule, reason, note in rows]

    def rule_counts(self) -> dict[str, int]:
        """Return how many interactions each rule decided (for summaries)."""
        return dict(self._db.execute(
            "SELECT rule, count(*) FROM interactions GROUP BY rule").fetchall())

    # --- alerts (syncd/alerts.py decides, the daemon records here) ------------------------------
    # Row kinds in ``alerts``: "alert" (one person named in a notification of their own),
    # "digest" (one row per person named in a digest; ``detail`` is the digest's id, so a
    # digest counts once towards max_per_day), and user actions "snooze" / "done".

    def record_notification(self, kind: str, people: Sequence[tuple[int, datetime | None]],
                            at: datetime, group: str) -> None:
        """Record one sent notification naming ``people`` (person id, due date), atomically."""
        epoch = to_epoch(at)
        with self.transaction():
            self._db.executemany(
                "INSERT INTO alerts(person_id, kind, at, due_at, detail) VALUES (?, ?, ?, ?, ?)",
                [(person_id, kind, epoch, to_epoch(due_at), group)
                 for person_id, due_at in people])

    def record_alert_action(self, person_id: int, kind: str, at: datetime,
                            detail: str | None = None) -> None:
        """Record an action taken on an alert (``snooze`` or ``done``)."""
        with self.transaction():
            self._db.execute("INSERT INTO alerts(person_id, kind, at, detail) VALUES (?, ?, ?, ?)",
                             (person_id, kind, to_epoch(at), detail))

    def last_alerted(self) -> dict[int, datetime]:
        """Return, per person, the last time they were named in a notification."""
        return {person_id: datetime.fromtimestamp(at, UTC) for person_id, at in self._db.execute(
            "SELECT person_id, max(at) FROM alerts WHERE kind IN ('alert', 'digest') "
            "GROUP BY person_id")}

    def notifications_since(self, since: datetime) -> int:
        """Return how many notifications were sent at or after ``since`` (a digest is one)."""
        row = self._db.execute(
            "SELECT count(CASE WHEN kind = 'alert' THEN 1 END), "
            "count(DISTINCT CASE WHEN kind = 'digest' THEN detail END) "
            "FROM alerts WHERE at >= ? AND kind IN ('alert', 'digest')",
            (to_epoch(since),)).fetchone()
        return int(row[0]) + int(row[1])

    def alert_actions(self, person_id: int) -> list[tuple[str, datetime, str | None]]:
        """Return (kind, when, detail) of every alert and action about a person, oldest first."""
        return [(kind, datetime.fromtimestamp(at, UTC), detail) for kind, at, detail in
                self._db.execute("SELECT kind, at, detail FROM alerts WHERE person_id = ? "
                                 "ORDER BY at, id", (person_id,))]
