"""Sources: cursors, source health (``syncd status``) and skipped items."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syncd.store.schema import StoreBase, from_epoch, to_epoch


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



class CursorsMixin(StoreBase):
    """Per-source cursors, pass outcomes, pauses and what each source skipped."""

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
