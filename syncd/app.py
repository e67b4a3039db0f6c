"""The composition root: builds config, store, rules, connectors and clock, and nothing else does.

Commands get an :class:`App` and call its methods; no module keeps global state.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import connectors
from syncd.cards import TierMap, birthday_window, birthdays_within
from syncd.choices import Choice, ChoiceJournal
from syncd.config import Config, SourceConfig, line_of_ignore_pattern, line_of_person
from syncd.errors import AmbiguousPerson, PersonNotFound, SetInConfig, UsageError
from syncd.model import PersonRow
from syncd.paths import private_directory
from syncd.rules import AddressPatterns, Rules, is_automated_address
from syncd.store import Choices, Store
from syncd.strength import RECONNECT, TRACK, Suggestion, suggested
from syncd.ties import DEFAULT_CADENCE, Tie, due_ties, evaluate

if TYPE_CHECKING:
    # The engine (with the prefetcher, the message codec and the connector base),
    # difflib/uuid, and merge suggestions (only `people --duplicates`) are imported where
    # they are used: `syncd due`, `suggest`, `people` and `status` never sync, `syncd sync`
    # suggests no merge, and every command pays its module imports before it starts. So are
    # the monthly pictures (only `report`, `show` and `people --json`).
    from connectors.base import Connector
    from syncd.activity import MonthActivity
    from syncd.duplicates import Duplicate
    from syncd.engine import Engine, ProgressCallback, SyncReport

log = logging.getLogger(__name__)

#: Candidates scored beyond the number asked for, before ranking (see App._strongest).
_RANKING_MARGIN = 20

Clock = Callable[[], datetime]

#: The settings key holding how many lines of the choices journal the database has applied.
CHOICES_APPLIED = "choices_applied"
#: ... and the journal's size then: while it is unchanged, a command need not read the journal.
CHOICES_SIZE = "choices_size"


@dataclass(frozen=True, slots=True)
class IgnoreResult:
    """What ``syncd ignore PATTERN`` did and what the user should know about it."""

    pattern: str
    hidden: list[PersonRow]          # people hidden from listings now (never tracked ones)
    tracked: list[PersonRow]         # tracked people the pattern matches (warn: still listed)
    mine: list[str]                  # my own addresses the pattern matches (warn)


@dataclass(frozen=True, slots=True)
class UnignoreResult:
    """What ``syncd unignore PATTERN`` did."""

    pattern: str
    shown: list[PersonRow]           # people shown again


def utc_now() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)


@dataclass
class App:
    """One configured syncd: the config, its open store and a clock."""

    config: Config
    store: Store
    clock: Clock = utc_now

    @classmethod
    def open(cls, config: Config, clock: Clock = utc_now) -> App:
        """Open the store named by ``config`` and bring it in line with the config."""
        # The store makes the state directory 0700; its missing parents are made 0700 here
        # (when that fails, Store.open says why in one sentence).
        with contextlib.suppress(OSError):
            private_directory(config.state_dir)
        app = cls(config, Store.open(config.state_dir), clock)
        app.apply_config()
        app.replay_choices()
        # Meetings that started since the last sync are contact now, whatever runs next.
        app.store.promote_started_meetings(clock())
        return app

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def apply_config(self) -> None:
        """Write the config's own addresses, people and ignore rules into the store.

        Mail already stored that names an address newly added to ``[me]`` is decided again
        (``Engine.revisit``), as if the address had been mine all along.
        """
        known = self.store.my_addresses()
        self.store.set_configured_addresses(self.config.me)
        added = set(self.config.me) - known
        if added:
            from syncd.engine import Engine

            Engine(self.store, self.rules(), self.clock).revisit(added)
        self.store.sync_configured_people([
            (person.name, person.addresses, person.tier,
             person.every.total_seconds() / 86400 if person.every else None)
            for person in self.config.people])
        # Hiding people who match an ignore pattern scans every address, so it runs only when
        # the patterns changed; people met later never count under them anyway (rules.py).
        listed = sorted({*self.config.rules.ignore, *self.store.ignore_patterns()})
        applied = "\n".join(listed)
        if self.store.setting("ignore_applied") != applied:
            if listed:
                self.store.mark_ignored(AddressPatterns(listed).matches)
            # A pattern taken out of [rules].ignore shows the people it alone hid again.
            self.store.unmark_ignored(AddressPatterns(listed).matches if listed
                                      else (lambda address: False))
            self.store.set_setting("ignore_applied", applied)

    def rules(self) -> Rules:
        """Return the compiled rules, including ignore patterns added with ``syncd ignore``."""
        return Rules.from_config(self.config.rules, self.store.ignore_patterns())

    def tier_map(self) -> TierMap:
        """Return which tier an address-book card's categories map to (``[tiers.map]``)."""
        return TierMap(frozenset(self.config.tiers), self.config.tier_map)

    # --- syncing -------------------------------------------------------------------------------

    def selected_sources(self, names: Sequence[str]) -> list[SourceConfig]:
        """Return the sources named (all enabled ones when ``names`` is empty)."""
        return self.selected_sources_of(self.config, names)

    @staticmethod
    def selected_sources_of(config: Config, names: Sequence[str]) -> list[SourceConfig]:
        """Return the sources of ``config`` named (all enabled ones when ``names`` is empty).

        Raise :class:`UsageError` for a name the config does not define.
        """
        if not names:
            return [source for source in config.sources.values() if source.enabled]
        unknown = [name for name in names if name not in config.sources]
        if unknown:
            import difflib

            close = difflib.get_close_matches(unknown[0], list(config.sources), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            defined = ", ".join(config.sources) or "none"
            raise UsageError(f"no source named {unknown[0]!r} in the config{hint}; "
                             f"defined: {defined}")
        return [config.sources[name] for name in names]

    def connector(self, source: SourceConfig) -> Connector:
        """Build the connector for one source (importing its module only now)."""
        factory = connectors.load(source.type)
        options = source.options
        if getattr(factory, "wants_state_dir", False):
            # OAuth sources keep their token beside the database (syncd/token_store.py).
            options = {**options, "state_dir": str(self.config.state_dir)}
        return factory(source.name, options, self.config.timezone)

    def sources_sharing_token(self, connector: Any) -> list[Any]:
        """Return the connectors of every configured source that uses the same OAuth token as
        ``connector`` (Google sources of one account), ``connector`` itself included."""
        key = connector.token_key()
        sharing = [connector]
        for source in self.config.sources.values():
            if source.name == connector.name:
                continue
            if source.type not in connectors.OAUTH_TYPES:
                continue
            other = self.connector(source)
            token_key = getattr(other, "token_key", None)
            if token_key is not None and token_key() == key:
                sharing.append(other)
        return sharing

    def sync(self, names: Sequence[str] = (), *, full: bool = False,
             progress: Callable[[str], ProgressCallback | None] | None = None) -> list[SyncReport]:
        """Run one pass over each selected source; a failing source never stops the others."""
        from syncd.engine import Engine

        engine = Engine(self.store, self.rules(), self.clock, tier_map=self.tier_map())
        return [self.sync_source(engine, source, full=full,
                                 progress=progress(source.name) if progress else None)
                for source in self.selected_sources(names)]

    def sync_source(self, engine: Engine, source: SourceConfig, *, full: bool = False,
                    progress: ProgressCallback | None = None,
                    connector_factory: Callable[[SourceConfig], Connector] | None = None
                    ) -> SyncReport:
        """Run one pass over ``source``, then apply ``auto_track``; a connector that cannot even
        be built is recorded as that source's failure (it never stops the others)."""
        try:
            connector = (connector_factory or self.connector)(source)
        except Exception as error:
            from syncd.engine import SOURCE_FAILURE, SyncReport

            report = SyncReport(source.name, error=f"cannot start: {error}",
                                error_kind="internal")
            self.store.record_attempt(source.name, self.clock(), report.error, "internal")
            log.warning("%s: %s", source.name, report.error, extra=SOURCE_FAILURE)
            return report
        report = engine.sync(source.name, connector, full=full, progress=progress)
        self.auto_track()
        return report

    def first_sync_progress(self, name: str) -> str | None:
        """Return where an unfinished first sync of source ``name`` stands, when its connector
        can tell from the stored cursor (Gmail: "41,200 of 180,000 read, about 45 min left")."""
        source = self.config.sources.get(name)
        if source is None or source.type not in connectors.DESCRIBES_PROGRESS:
            return None
        describe = getattr(connectors.load(source.type), "describe_cursor", None)
        if describe is None:
            return None
        text: str | None = describe(self.store.cursor(name), source.options)
        return text

    # --- people --------------------------------------------------------------------------------

    def find_person(self, query: str) -> PersonRow:
        """Return the person ``query`` names (address, name, or id as ``12`` or ``#12``).

        PERSON is, in this order: ``#ID`` (or a bare id), an address, a whole name, or the
        start of exactly one person's name or address (a first name, ``bob@``). Raise
        :class:`PersonNotFound` with the closest people, counted ones first, when nobody
        matches, and :class:`AmbiguousPerson` naming them when several people do.
        """
        from syncd.addresses import normalize_address

        text = query.strip()
        if text.startswith("#") and text[1:].isdigit():
            found = self.store.person(int(text[1:]))
            if found is None:
                raise PersonNotFound(query, [])
            return found
        candidates = self.store.find_people(normalize_address(text) or text) if text else []
        if not candidates and text:
            matches = self.store.find_people_by_prefix(text)
            counted = [person_id for person_id, is_counted in matches if is_counted]
            # One counted person (a tie) wins over junk-folder senders who share the prefix.
            candidates = counted if len(counted) == 1 else [person_id for person_id, _ in matches]
            if len(candidates) > 1:
                raise AmbiguousPerson(query, [self._label(person_id)
                                              for person_id in candidates[:5]],
                                      len(candidates))
        if candidates:
            person = self.store.person(candidates[0])
            assert person is not None
            return person
        raise PersonNotFound(query, self._suggestions(text))

    def _label(self, person_id: int) -> str:
        row = self.store.person(person_id)
        if row is None:
            return f"#{person_id}"
        first = row.shown[0] if row.addresses else f"#{row.id}"
        return f"{row.name} <{first}>" if row.name and row.addresses else (row.name or first)

    def _suggestions(self, text: str) -> list[str]:
        """Return up to three people close to ``text``: counted people (tracked, or with a
        counted contact) first; others only when no counted person is close."""
        import difflib

        lowered = text.lower()
        best: dict[int, tuple[bool, float]] = {}
        for person_id, value, _kind, counted in self.store.suggestion_pool():
            candidate = value.lower()
            score = difflib.SequenceMatcher(None, lowered, candidate).ratio()
            if lowered and lowered in candidate:
                score = max(score, 0.8)
            if score >= 0.5 and score > best.get(person_id, (False, 0.0))[1]:
                best[person_id] = (counted, score)
        ranked = sorted(best.items(), key=lambda item: (not item[1][0], -item[1][1]))
        if any(counted for _, (counted, _score) in ranked):
            ranked = [item for item in ranked if item[1][0]]
        return [self._label(person_id) for person_id, _ in ranked[:3]]

    def tie(self, person: PersonRow) -> Tie:
        """Return the tie with ``person`` now."""
        return evaluate(person, self.config.tiers, self.clock())

    def due(self, *, not_alerted_within: timedelta | None = None) -> list[Tie]:
        """Return tracked ties that are quiet, due soon or never contacted.

        With ``not_alerted_within``, people alerted that recently are left out already in SQL
        (the daemon's alert check holds them back anyway).
        """
        tiers = self.config.tiers
        default = tiers.get("default", DEFAULT_CADENCE)
        now = self.clock()
        candidates = self.store.due_candidates(
            {name: cadence.total_seconds() / 86400 for name, cadence in tiers.items()},
            default.total_seconds() / 86400, now, renotify_after=not_alerted_within)
        return due_ties(candidates, tiers, now)

    def birthdays_ahead(self, window: timedelta | None = None
                        ) -> list[tuple[Tie, date, int | None]]:
        """Return (tie, local date, age or None) of tracked people whose birthday (from their
        address-book cards) comes within ``window`` (default: :func:`birthday_window`),
        soonest first."""
        today = self.clock().astimezone(self.config.timezone).date()
        found = birthdays_within(self.store.birthdays(), today,
                                 window or birthday_window(self.config.notify.birthdays))
        if not found:
            return []
        ties = {tie.person.id: tie for tie in self.people()}
        return [(ties[person_id], on, age) for person_id, on, age in found if person_id in ties]

    def people(self, everyone: bool = False) -> list[Tie]:
        """Return tracked people (or everyone with a counted contact), by name."""
        rows = self.store.counted_people() if everyone else self.store.tracked_people()
        now = self.clock()
        ties = [evaluate(row, self.config.tiers, now) for row in rows]
        ties.sort(key=lambda tie: (not tie.person.tracked, tie.person.name.lower(),
                                   tie.person.addresses))
        return ties

    def monthly(self, person_ids: Sequence[int]) -> dict[int, tuple[MonthActivity, ...]]:
        """Return each person's counted contact per month, the last 24 local months, oldest
        first (one query for all of them; months without contact are empty, not missing)."""
        from syncd.activity import fill_months, month_window

        window = month_window(self.clock(), self.config.timezone)
        found = self.store.monthly_activity(person_ids, window)
        return {person_id: fill_months(window, found.get(person_id)) for person_id in person_ids}

    # --- choices made on the command line (journaled: syncd/choices.py) -------------------------

    @property
    def journal(self) -> ChoiceJournal:
        """The choices journal beside the database."""
        return ChoiceJournal(self.config.state_dir)

    def refuse_if_configured(self, person: PersonRow) -> None:
        """Raise :class:`SetInConfig` when ``person`` is listed in ``[[people]]``."""
        if self.store.tracked_by(person.id) == "config":
            raise SetInConfig(person.name or person.addresses[0],
                              str(self.config.file) if self.config.file else None,
                              line_of_person(self.config.file, person.addresses))

    def track(self, person: PersonRow, tier: str | None = None,
              every: timedelta | None = None) -> None:
        """Track ``person``; keep their tier or cadence unless one is given.

        Raise :class:`SetInConfig` for a person of ``[[people]]`` (the config file wins).
        """
        self.refuse_if_configured(person)
        self._record(Choice(kind="track", name=person.name, addresses=person.addresses,
                            tier=tier, every_days=every.total_seconds() / 86400 if every
                            else None), person.id)

    def untrack(self, person: PersonRow) -> None:
        """Stop tracking ``person``. Raise :class:`SetInConfig` for a person of ``[[people]]``."""
        self.refuse_if_configured(person)
        self._record(Choice(kind="untrack", name=person.name, addresses=person.addresses),
                     person.id)

    def snooze(self, person: PersonRow, until: datetime | None) -> None:
        """Silence ``person`` until ``until``; None ends a snooze."""
        self._record(Choice(kind="snooze", name=person.name, addresses=person.addresses,
                            until=_iso(until)), person.id)

    def log_contact(self, person: PersonRow, at: datetime, note: str | None) -> None:
        """Log a contact the machine cannot see (``syncd done``)."""
        import uuid

        self._record(Choice(kind="done", name=person.name, addresses=person.addresses,
                            at=_iso(at), note=note, key=uuid.uuid4().hex), person.id)

    def merge(self, people: Sequence[PersonRow]) -> PersonRow:
        """Merge ``people`` into the first of them (see :meth:`Store.merge`) and return it.

        Raise :class:`UsageError` (changing nothing) for fewer than two people or a person
        named twice. Journaled, so a rebuilt database merges them again.
        """
        if len(people) < 2:
            raise UsageError("syncd merge needs two or more people; name them by #id, address "
                             "or name")
        seen: dict[int, PersonRow] = {}
        for row in people:
            if row.id in seen:
                raise UsageError(f"{self._label(row.id)} is named twice; a person cannot be "
                                 "merged with themself, name two different people")
            seen[row.id] = row
        name = next((row.name for row in people if row.name), "")
        addresses = tuple(address for row in people for address in row.addresses)
        self._record(Choice(kind="merge", name=name, addresses=addresses))
        merged = self.store.person(people[0].id)
        assert merged is not None
        log.info("merged %d people into #%d (%d addresses)", len(people), merged.id,
                 len(merged.addresses))
        return merged

    def split(self, person: PersonRow, address: str) -> PersonRow:
        """Give ``address`` of ``person`` its own person and return the new one.

        Raise :class:`UsageError` (changing nothing) when the address is not theirs or is
        their last one, :class:`SetInConfig` for a person of ``[[people]]``. Journaled.
        """
        from syncd.addresses import normalize_address

        canonical = normalize_address(address) or address.strip().lower()
        if canonical not in person.addresses:
            raise UsageError(f"{address} is not an address of {self._label(person.id)} (theirs: "
                             f"{', '.join(person.addresses) or 'none'}); give one of those")
        if len(person.addresses) < 2:
            raise UsageError(f"{address} is the only address of {self._label(person.id)}; a "
                             "split needs a person with two or more addresses")
        self.refuse_if_configured(person)
        # The addresses it leaves go in the line too: a rebuilt database replays this split
        # before any address book has made these addresses one person again, and must still
        # keep them apart when one does.
        self._record(Choice(kind="split", name=person.name, addresses=(
            canonical, *(other for other in person.addresses if other != canonical))))
        owner = self.store.owner_of(canonical)
        assert owner is not None
        new = self.store.person(owner)
        assert new is not None
        log.info("split %s off #%d into #%d", canonical, person.id, new.id)
        return new

    def duplicates(self) -> list[Duplicate]:
        """Return merge suggestions (syncd.duplicates) among tracked and counted people, my
        own addresses, ignored people, automated senders and groups holding people the user
        split apart left out. Applies nothing."""
        from syncd.duplicates import Candidate, duplicates

        mine = self.store.my_addresses()
        people: dict[int, tuple[str, list[str], list[str]]] = {}
        for person_id, name, address, written in self.store.identity_candidates():
            if address in mine or is_automated_address(address):
                continue
            entry = people.setdefault(person_id, (name, [], []))
            entry[1].append(address)
            entry[2].append(written)
        found = duplicates(Candidate(person_id, name, tuple(addresses), tuple(written))
                           for person_id, (name, addresses, written) in people.items())
        # People the user split apart are not suggested as one again (syncd merge still can).
        owner = {address: person_id for person_id, (_, addresses, _) in people.items()
                 for address in addresses}
        split = {frozenset((owner[first], owner[other]))
                 for first, other in self.store.kept_apart_pairs()
                 if first in owner and other in owner}
        return [duplicate for duplicate in found
                if not any(frozenset((first, other)) in split
                           for index, first in enumerate(duplicate.people)
                           for other in duplicate.people[index + 1:])]

    def _ignored_address(self) -> Callable[[str], bool]:
        """Return whether an ignore pattern (config or syncd ignore) matches an address."""
        return AddressPatterns([*self.config.rules.ignore,
                                *self.store.ignore_patterns()]).matches

    def _apply_identity(self, choice: Choice) -> None:
        """Apply a merge or split choice (idempotent: a replay of one applied changes nothing).
        Their stats, strength and rhythm are recomputed from contacts at once."""
        from syncd.engine import refresh_rhythms

        store = self.store
        if choice.kind == "merge":
            store.allow_together(choice.addresses)  # the latest choice wins over a split
            owners = list(dict.fromkeys(owner for address in choice.addresses
                                        if (owner := store.owner_of(address)) is not None))
            if not owners:
                store.person_with_addresses(choice.name, choice.addresses)
                return
            if len(owners) > 1:
                store.merge(owners)
            store.add_addresses(owners[0], choice.addresses)
        elif choice.kind == "split" and choice.addresses:
            # addresses[0] is split off; the rest (absent from lines before this version)
            # are the addresses it was split from, kept apart from it from now on.
            address, apart_from = choice.addresses[0], choice.addresses[1:]
            owner = store.owner_of(address)
            if owner is None or len(store.addresses_of(owner)) < 2:
                store.keep_apart(address, apart_from)
                return
            store.split(owner, address, self._ignored_address(), apart_from)
        refresh_rhythms(store)

    def ignore(self, pattern: str) -> IgnoreResult:
        """Never count ``pattern`` again; say who it hides and whom it should not match."""
        matches = AddressPatterns([pattern]).matches
        tracked = [row for row in self.store.tracked_people()
                   if any(matches(address) for address in row.addresses)]
        mine = sorted(address for address in self.store.my_addresses() if matches(address))
        marked = self._record(Choice(kind="ignore", pattern=pattern))
        # Tracked people stay listed (people, people --all): only the others are hidden.
        hidden = sorted((row for person_id in marked
                         if (row := self.store.person(person_id)) and not row.tracked),
                        key=_by_name)
        return IgnoreResult(pattern, hidden, tracked, mine)

    def unignore(self, pattern: str) -> UnignoreResult:
        """Count ``pattern`` again. Raise :class:`SetInConfig` for a ``[rules].ignore`` entry
        and :class:`UsageError` for a pattern never given to ``syncd ignore``."""
        if pattern in self.config.rules.ignore:
            raise SetInConfig(f"the ignore pattern {pattern!r}",
                              str(self.config.file) if self.config.file else None,
                              line_of_ignore_pattern(self.config.file, pattern))
        if pattern not in self.store.ignore_patterns():
            given = ", ".join(self.store.ignore_patterns()) or "none"
            raise UsageError(f"{pattern!r} is not an ignore pattern given with syncd ignore "
                             f"(given: {given})")
        shown = self._record(Choice(kind="unignore", pattern=pattern))
        return UnignoreResult(pattern, sorted((row for person_id in shown
                                               if (row := self.store.person(person_id))),
                                              key=_by_name))

    def ignored_by(self, person: PersonRow) -> list[tuple[str, str]]:
        """Return (pattern, where it was set) of every ignore pattern matching ``person``."""
        found = []
        for where, patterns in (("[rules].ignore", self.config.rules.ignore),
                                ("syncd ignore", self.store.ignore_patterns())):
            for pattern in patterns:
                if any(AddressPatterns([pattern]).matches(a) for a in person.addresses):
                    found.append((pattern, where))
        return found

    def _record(self, choice: Choice, person_id: int | None = None) -> list[int]:
        """Journal ``choice``, then apply it to the database; return what applying returns."""
        journal = self.journal
        journal.append(choice)
        result = self._apply_choice(choice, person_id)
        self.store.count_setting(CHOICES_APPLIED)
        self.store.set_setting(CHOICES_SIZE, str(journal.size()))
        return result

    def _apply_choice(self, choice: Choice, person_id: int | None = None) -> list[int]:
        """Apply one choice to the database (idempotent). Return the people an ignore hid or
        an unignore showed again, else an empty list."""
        store = self.store
        if choice.kind in ("ignore", "unignore"):
            pattern = choice.pattern or ""
            if choice.kind == "ignore":
                store.add_ignore_pattern(pattern)
            else:
                store.remove_ignore_pattern(pattern)
            listed = sorted({*self.config.rules.ignore, *store.ignore_patterns()})
            store.set_setting("ignore_applied", "\n".join(listed))
            if choice.kind == "ignore":
                return store.mark_ignored(AddressPatterns([pattern]).matches)
            return store.unmark_ignored(AddressPatterns(listed).matches if listed
                                        else (lambda address: False))
        if choice.kind in ("merge", "split"):
            self._apply_identity(choice)
            return []
        if person_id is None:
            if not choice.addresses:
                return []
            person_id = store.person_with_addresses(choice.name, choice.addresses)
        configured = store.tracked_by(person_id) == "config"
        if choice.kind == "track" and not configured:
            store.track(person_id, choice.tier, choice.every_days)
        elif choice.kind == "untrack" and not configured:
            store.untrack(person_id)
        elif choice.kind == "snooze":
            store.snooze(person_id, _from_iso(choice.until))
        elif choice.kind == "done" and choice.at:
            at = _from_iso(choice.at)
            assert at is not None
            store.log_manual(person_id, at, choice.note, key=choice.key)
        return []

    def replay_choices(self) -> int:
        """Apply the journal lines this database has not applied yet; return how many.

        A new or rebuilt database applies them all. A database from before the journal
        existed writes its choices into a new journal first, so a later rebuild keeps them.
        """
        journal = self.journal
        size = journal.size()
        if self.store.setting(CHOICES_SIZE) == str(size):
            return 0  # nothing appended since this database last looked: no need to read it
        applied_text = self.store.setting(CHOICES_APPLIED)
        if applied_text is None and not journal.exists():
            snapshot = self._choices_in_database()
            if snapshot:
                journal.append(*snapshot)
            self.store.set_setting(CHOICES_APPLIED, str(len(snapshot)))
            self.store.set_setting(CHOICES_SIZE, str(journal.size()))
            return 0
        choices = journal.read()
        applied = int(applied_text or 0)
        if applied >= len(choices):
            self.store.set_setting(CHOICES_SIZE, str(size))
            return 0
        for choice in choices[applied:]:
            try:
                self._apply_choice(choice)
            except Exception as error:  # one unusable line must not block every command
                log.warning("a %s choice from %s could not be applied: %s", choice.kind,
                            journal.path, error)
        self.store.set_setting(CHOICES_APPLIED, str(len(choices)))
        self.store.set_setting(CHOICES_SIZE, str(size))
        log.info("applied %d choices from %s", len(choices) - applied, journal.path)
        return len(choices) - applied

    def _choices_in_database(self) -> list[Choice]:
        """Return the choices a database from before the journal holds."""
        store = self.store
        choices: list[Choice] = []

        def person(person_id: int) -> PersonRow | None:
            return store.person(person_id)

        for person_id, tier, every_days in store.tracked_on_the_command_line():
            if row := person(person_id):
                choices.append(Choice(kind="track", name=row.name, addresses=row.addresses,
                                      tier=tier, every_days=every_days))
        for person_id, until in store.snoozes():
            if row := person(person_id):
                choices.append(Choice(kind="snooze", name=row.name, addresses=row.addresses,
                                      until=_iso(until)))
        for person_id, key, at, note in store.manual_contacts():
            if row := person(person_id):
                choices.append(Choice(kind="done", name=row.name, addresses=row.addresses,
                                      at=_iso(at), note=note, key=key))
        choices.extend(Choice(kind="ignore", pattern=pattern)
                       for pattern in store.ignore_patterns())
        return choices


    def exported_people(self) -> list[tuple[Tie, Choices]]:
        """Return everyone ``syncd export`` writes, with their tie now and their choices (and
        their birthday from address-book cards)."""
        from dataclasses import replace

        now = self.clock()
        exported = self.store.exported_people()
        birthdays = self.store.birthdays([row.id for row, _ in exported])
        return [(evaluate(row, self.config.tiers, now),
                 replace(choices, birthday=birthdays.get(row.id)))
                for row, choices in exported]

    # --- suggestions ---------------------------------------------------------------------------

    def suggest(self, limit: int = 10) -> list[Suggestion]:
        """Return up to ``limit`` suggestions per group ("track", "reconnect"), strongest first.

        Never suggested: tracked, ignored or untracked-by-me people, my own addresses, one-way
        incoming-only correspondents, automated addresses (noreply, notifications ...) and
        addresses an ignore pattern matches (syncd.strength has the scoring).
        """
        found = [*self._strongest(dormant=False, limit=limit),
                 *self._strongest(dormant=True, limit=limit)]
        found.sort(key=lambda item: (-item.strength.score, item.tie.person.id))
        return found

    def _strongest(self, *, dormant: bool, limit: int,
                   needs_rhythm: bool = False) -> list[Suggestion]:
        """Return the ``limit`` strongest suggestions of one group, paging past excluded ones.

        The store orders by the score stored at the last sync; the policy scores again at
        ``now`` (recency moves), so a margin of candidates is scored before ranking: asking
        for 5 or for 10 then gives the same first five.
        """
        now = self.clock()
        patterns = AddressPatterns([*self.config.rules.ignore, *self.store.ignore_patterns()])
        mine = self.store.my_addresses()
        result: list[Suggestion] = []
        offset = 0
        wanted = limit + _RANKING_MARGIN
        while len(result) < wanted:
            page = self.store.strongest_untracked(now, dormant=dormant, limit=limit + 20,
                                                  offset=offset, needs_rhythm=needs_rhythm)
            if not page:
                break
            offset += len(page)
            people = {row.id: row for row in self.store.people_with_ids(
                [person_id for person_id, _ in page])}
            for person_id, history in page:
                person = people.get(person_id)
                if person is None or any(address in mine or is_automated_address(address) or
                                         patterns.matches(address)
                                         for address in person.addresses):
                    continue
                scored = suggested(history, now)
                if scored is None or scored.group != (RECONNECT if dormant else TRACK):
                    continue  # the store's SQL mirrors the policy; the policy has the last word
                result.append(Suggestion(evaluate(person, self.config.tiers, now), scored))
                if len(result) == wanted:
                    break
        result.sort(key=lambda item: (-item.strength.score, item.tie.person.id))
        return result[:limit]

    def auto_track(self) -> int:
        """Track the strongest alive ties until ``[general] auto_track`` people are auto-tracked.

        Only ties with an inferred rhythm (their cadence is "inferred"), never someone the user
        untracked; each records why. Lowering the number untracks nobody: a tie that goes
        quiet is exactly what to be told about. Return how many were tracked now.
        """
        if not self.config.auto_track:
            return 0
        wanted = self.config.auto_track - self.store.auto_tracked_count()
        if wanted <= 0:
            return 0
        chosen = self._strongest(dormant=False, limit=wanted, needs_rhythm=True)
        self.store.track_automatically([
            (item.tie.person.id, f"auto_track: score {item.strength.score}, "
                                 f"{item.strength.why}") for item in chosen])
        if chosen:
            log.info("auto_track: tracking %d of the strongest ties", len(chosen))
        return len(chosen)


def _by_name(person: PersonRow) -> tuple[str, tuple[str, ...]]:
    return (person.name.lower(), person.addresses)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _from_iso(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
