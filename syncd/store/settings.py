"""Small stored settings and the ignore patterns given on the command line."""

from __future__ import annotations

from collections.abc import Callable

from syncd.store.schema import StoreBase


class SettingsMixin(StoreBase):
    """Key/value settings, ignore patterns, and flagging ignored people."""

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
