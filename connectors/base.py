"""The interface every connector implements.

A connector is a read-only protocol adapter: it turns one source's wire or file format into
:mod:`syncd.model` records plus an opaque cursor. It never writes the store, decides who a
person is, or notifies; library types never cross its boundary.

Contract:

- ``pull(cursor, known)`` yields :class:`~syncd.model.Page` objects. ``cursor`` is the string the
  last stored page carried (None on a first or full sync). ``known`` answers "is this source id
  already stored?" so a connector can skip items it has seen without a cursor that lists them.
- The last page of a pass carries the cursor that makes the next pass incremental. A pass that
  finds nothing new yields one page with no records and the (possibly unchanged) cursor.
- Items that cannot be read become :class:`~syncd.model.Skip` entries, never exceptions.
- Source-wide failures raise :class:`~syncd.errors.SourceError` (or a subclass); a cursor the
  source no longer accepts raises :class:`~syncd.errors.CursorExpired`.
"""

from __future__ import annotations

import json
from collections.abc import Container, Iterator, Mapping
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from syncd.errors import CursorExpired
from syncd.model import Page


class Connector(Protocol):
    """One configured source."""

    name: str

    def pull(self, cursor: str | None, known: Container[str]) -> Iterator[Page]:
        """Yield pages of records since ``cursor``; see the module docstring."""
        ...


class ConnectorFactory(Protocol):
    """Builds a connector from its validated ``[sources.NAME]`` options."""

    def __call__(self, name: str, options: Mapping[str, Any], timezone: ZoneInfo) -> Connector:
        ...


def load_json_cursor(cursor: str | None, version: int, what: str,
                     required: tuple[str, ...] = ()) -> dict[str, Any]:
    """Return the JSON object a connector saved as its cursor, ``{}`` when there is none.

    Raise :class:`~syncd.errors.CursorExpired` (a full resync, not a failure) when it is not
    JSON, not an object, of another ``version`` (its ``"v"``), or lacks a ``required`` key;
    ``what`` names the position in the message ("the saved Gmail position").
    """
    if cursor is None:
        return {}
    try:
        state = json.loads(cursor)
    except ValueError:
        raise CursorExpired(f"{what} is unreadable") from None
    if (not isinstance(state, dict) or state.get("v") != version
            or not all(key in state for key in required)):
        raise CursorExpired(f"{what} is from another version")
    return state
