"""The composition root: builds config, store, rules, connectors and clock, and nothing else does.

Commands get an :class:`App` and call its methods; no module keeps global state.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import connectors
from connectors.base import Connector
from syncd.config import Config, SourceConfig
from syncd.engine import Engine, ProgressCallback, SyncReport
from syncd.errors import PersonNotFound, UsageError
from syncd.model import PersonRow
from syncd.rules import AddressPatterns, Rules
from syncd.store import Store
from syncd.ties import DEFAULT_CADENCE, Tie, due_ties, evaluate

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


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
        app = cls(config, Store.open(config.state_dir), clock)
        app.apply_config()
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
            self.store.set_setting("ignore_applied", applied)

    def rules(self) -> Rules:
        """Return the compiled rules, including ignore patterns added with ``syncd ignore``."""
        return Rules.from_config(self.config.rules, self.store.ignore_patterns())

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

    def sync(self, names: Sequence[str] = (), *, full: bool = False,
             progress: Callable[[str], ProgressCallback | None] | None = None) -> list[SyncReport]:
        """Run one pass over each selected source; a failing source never stops the others."""
        engine = Engine(self.store, self.rules(), self.clock)
        return [self.sync_source(engine, source, full=full,
                                 progress=progress(source.name) if progress else None)
                for source in self.selected_sources(names)]

    def sync_source(self, engine: Engine, source: SourceConfig, *, full: bool = False,
                    progress: ProgressCallback | None = None,
                    connector_factory: Callable[[SourceConfig], Connector] | None = None
                    ) -> SyncReport:
        """Run one pass over ``source``; a connector that cannot even be built is recorded as
        that source's failure (it never stops the others)."""
        try:
            connector = (connector_factory or self.connector)(source)
        except Exception as error:
            report = SyncReport(source.name, error=f"cannot start: {error}",
                                error_kind="internal")
            self.store.record_attempt(source.name, self.clock(), report.error, "internal")
            log.warning("%s: %s", source.name, report.error)
            return report
        return engine.sync(source.name, connector, full=full, progress=progress)

    # --- people --------------------------------------------------------------------------------

    def find_person(self, query: str) -> PersonRow:
        """Return the person ``query`` names (address, name or id).

        Raise :class:`PersonNotFound` with the closest names/addresses when nobody matches.
        """
        from syncd.addresses import normalize_address

        candidates = self.store.find_people(normalize_address(query) or query)
        if candidates:
            person = self.store.person(candidates[0])
            assert person is not None
            return person
        choices = self.store.names_and_addresses()
        lowered = {choice.lower(): choice for choice in choices}
        close = difflib.get_close_matches(query.lower(), list(lowered), n=3, cutoff=0.5)
        contains = [choice for choice in choices if query.lower() in choice.lower()][:3]
        suggestions = list(dict.fromkeys([*contains, *(lowered[c] for c in close)]))[:3]
        raise PersonNotFound(query, suggestions)

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

    def people(self, everyone: bool = False) -> list[Tie]:
        """Return tracked people (or everyone with a counted contact), by name."""
        rows = self.store.counted_people() if everyone else self.store.tracked_people()
        now = self.clock()
        ties = [evaluate(row, self.config.tiers, now) for row in rows]
        ties.sort(key=lambda tie: (not tie.person.tracked, tie.person.name.lower(),
                                   tie.person.addresses))
        return ties
