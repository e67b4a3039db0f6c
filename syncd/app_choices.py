"""The user's choices for :class:`syncd.app.App`: track, untrack, snooze, done, merge, split,
ignore and unignore, each journaled (:mod:`syncd.choices`) before it is applied to the
database, and the replay of the journal into a new or rebuilt database.

A mixin: :class:`ChoicesMixin` uses the ``config`` and ``store`` of the App it is mixed into.
It never imports :mod:`syncd.app`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from syncd.app_people import person_label
from syncd.choices import Choice, ChoiceJournal
from syncd.config import line_of_ignore_pattern, line_of_person
from syncd.errors import SetInConfig, UsageError
from syncd.model import PersonRow
from syncd.rules import AddressPatterns, is_automated_address
from syncd.ties import Tie, evaluate

if TYPE_CHECKING:
    # Merge suggestions are imported where they are used (only `people --duplicates`).
    from syncd.config import Config
    from syncd.duplicates import Duplicate
    from syncd.store import Choices, Store

# Log lines keep the name they had before App was split (as the daemon's parts keep theirs).
log = logging.getLogger("syncd.app")

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


class ChoicesMixin:
    """The choices made on the command line (and by notification actions), and their journal."""

    config: Config
    store: Store
    clock: Callable[[], datetime]

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
                raise UsageError(f"{person_label(self.store, row.id)} is named twice; a person "
                                 "cannot be merged with themself, name two different people")
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
            raise UsageError(f"{address} is not an address of "
                             f"{person_label(self.store, person.id)} (theirs: "
                             f"{', '.join(person.addresses) or 'none'}); give one of those")
        if len(person.addresses) < 2:
            raise UsageError(f"{address} is the only address of "
                             f"{person_label(self.store, person.id)}; a split needs a person "
                             "with two or more addresses")
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


def _by_name(person: PersonRow) -> tuple[str, tuple[str, ...]]:
    return (person.name.lower(), person.addresses)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _from_iso(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
