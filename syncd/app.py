"""The composition root: builds config, store, rules, connectors and clock, and nothing else does.

Commands get an :class:`App` and call its methods; no module keeps global state.

:class:`App` is one object to its callers (the CLI, the daemon, the report), built from parts
with one job each: this module opens the store, applies the config and syncs;
:mod:`syncd.app_people` finds, lists and suggests people (and ``auto_track``);
:mod:`syncd.app_choices` applies and journals the user's choices. The parts are mixins over
the same ``config``, ``store`` and ``clock``, and none of them imports this module.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import connectors
from syncd.app_choices import (
    CHOICES_APPLIED,
    CHOICES_SIZE,
    ChoicesMixin,
    IgnoreResult,
    UnignoreResult,
)
from syncd.app_people import PeopleMixin
from syncd.cards import TierMap
from syncd.config import Config, SourceConfig
from syncd.errors import UsageError
from syncd.paths import private_directory
from syncd.rules import AddressPatterns, Rules
from syncd.store import Store

if TYPE_CHECKING:
    # The engine (with the prefetcher, the message codec and the connector base) and difflib
    # are imported where they are used: `syncd due`, `suggest`, `people` and `status` never
    # sync, and every command pays its module imports before it starts.
    from connectors.base import Connector
    from syncd.engine import Engine, ProgressCallback, SyncReport

# CHOICES_*, IgnoreResult and UnignoreResult are re-exported from syncd.app_choices: tests and
# benchmarks import them from here, where they used to live.
__all__ = ["CHOICES_APPLIED", "CHOICES_SIZE", "App", "Clock", "IgnoreResult", "UnignoreResult",
           "utc_now"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)


@dataclass
class App(ChoicesMixin, PeopleMixin):
    """One configured syncd: the config, its open store and a clock.

    Opening, the config and syncing are here; finding and listing people come from
    :class:`~syncd.app_people.PeopleMixin`, the user's choices from
    :class:`~syncd.app_choices.ChoicesMixin`.
    """

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
