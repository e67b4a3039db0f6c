"""The state database: SQLite, one file, owned by the user alone.

One :class:`Store` over ONE connection and ONE transaction owner, assembled from parts a
newcomer can find by name:

- :mod:`~syncd.store.schema`: migrations, opening, ``transaction()`` and ``batch()``
  (and why the schema looks like it does);
- :mod:`~syncd.store.cursors`: source cursors, source health and skips;
- :mod:`~syncd.store.writer`: the page writer (interactions, observations, contacts);
- :mod:`~syncd.store.stats`: derived per-person stats and inferred rhythms;
- :mod:`~syncd.store.identity`: people by address, interactions by dedupe key, my addresses;
- :mod:`~syncd.store.upcoming`: upcoming meetings;
- :mod:`~syncd.store.tracking`: the user's tracking choices and ``[[people]]``;
- :mod:`~syncd.store.cards`: address-book cards (tiers from categories, birthdays);
- :mod:`~syncd.store.settings`: settings and ignore patterns;
- :mod:`~syncd.store.queries`: people listings, ``due`` candidates, the timeline;
- :mod:`~syncd.store.suggestions`: untracked ties ranked by strength, auto_track;
- :mod:`~syncd.store.exports`: everyone ``syncd export`` writes, with the user's choices;
- :mod:`~syncd.store.alerts`: the alert log;
- :mod:`~syncd.store.revisit`: messages kept to be decided again when an address of mine is
  learned later;
- :mod:`~syncd.store.activity`: contact per person and month (the strip, the report).
"""

from __future__ import annotations

from syncd.model import PersonRow
from syncd.store.activity import ActivityMixin
from syncd.store.alerts import AlertsMixin
from syncd.store.cards import CardsMixin
from syncd.store.cursors import CursorsMixin, SourceRow
from syncd.store.exports import Choices, ExportsMixin
from syncd.store.queries import TimelineEntry
from syncd.store.revisit import RevisitMixin
from syncd.store.schema import DATABASE_NAME, SCHEMA_VERSION, StoreBase, from_epoch, to_epoch
from syncd.store.settings import SettingsMixin
from syncd.store.suggestions import SuggestionsMixin
from syncd.store.writer import WriterMixin

__all__ = ["DATABASE_NAME", "SCHEMA_VERSION", "Choices", "PersonRow", "SourceRow", "Store",
           "StoreBase", "TimelineEntry", "from_epoch", "to_epoch"]


class Store(WriterMixin, CardsMixin, CursorsMixin, SettingsMixin, ExportsMixin,
            SuggestionsMixin, AlertsMixin, RevisitMixin, ActivityMixin):
    """The SQLite state database. Not thread-safe: one Store per thread."""
