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

    def count_setting(self, key: str, by: int = 1) -> None:
        """Add ``by`` to a numeric setting (0 when never set), in one statement."""
        with self.transaction():
            self._db.execute(
                "INSERT INTO settings VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                "value = CAST(CAST(value AS INTEGER) + ? AS TEXT)", (key, str(by), by))

    def add_ignore_pattern(self, pattern: str) -> None:
        """Remember an ignore pattern given on the command line."""
        with self.transaction():
            self._db.execute("INSERT OR IGNORE INTO ignore_patterns VALUES (?)", (pattern,))

    def ignore_patterns(self) -> list[str]:
        """Return the ignore patterns given on the command line."""
        return [row[0] for row in self._db.execute("SELECT pattern FROM ignore_patterns")]

    def mark_ignored(self, predicate: Callable[[str], bool]) -> list[int]:
        """Flag every person not from the config who has an address ``predicate`` accepts.

        Return the ids of the people hidden now (not those hidden before).
        """
        hits = {person_id for address, person_id in self._db.execute(
            "SELECT a.address, a.person_id FROM addresses a JOIN people p ON p.id = a.person_id "
            "WHERE p.ignored = 0 AND p.tracked_by IS NOT 'config'") if predicate(address)}
        with self.transaction():
            self._db.executemany("UPDATE people SET ignored = 1 WHERE id = ?",
                                 [(person_id,) for person_id in hits])
        return sorted(hits)

    def remove_ignore_pattern(self, pattern: str) -> bool:
        """Forget an ignore pattern given on the command line; False when it was not there."""
        with self.transaction():
            return bool(self._db.execute("DELETE FROM ignore_patterns WHERE pattern = ?",
                                         (pattern,)).rowcount)

    def unmark_ignored(self, predicate: Callable[[str], bool]) -> list[int]:
        """Show again every hidden person none of whose addresses ``predicate`` accepts.

        Return their ids.
        """
        hidden: dict[int, bool] = {}
        for address, person_id in self._db.execute(
                "SELECT a.address, a.person_id FROM addresses a JOIN people p "
                "ON p.id = a.person_id WHERE p.ignored = 1"):
            hidden[person_id] = hidden.get(person_id, False) or predicate(address)
        freed = sorted(person_id for person_id, still in hidden.items() if not still)
        with self.transaction():
            self._db.executemany("UPDATE people SET ignored = 0 WHERE id = ?",
                                 [(person_id,) for person_id in freed])
        return freed

    def is_ignored(self, person_id: int) -> bool:
        """Return True when a person is hidden by an ignore pattern."""
        row = self._db.execute("SELECT ignored FROM people WHERE id = ?",
                               (person_id,)).fetchone()
        return bool(row and row[0])
