"""The choices journal: what the user decided on the command line, kept beside the database.

``track``, ``untrack``, ``snooze``, ``done``, ``ignore``, ``unignore``, ``merge`` and ``split``
(and the *Snooze* and *Done* actions of a notification) are the only state that no source can
give back. A ``merge`` line lists every address of the merged people, the first person's
first; a ``split`` line names the address split off, then the addresses it was split from
(lines written before syncd kept split addresses apart name only the first), which stay
apart whatever an address book says until a later ``merge`` lists them together. Each is
appended to ``STATE_DIR/choices.jsonl`` (one JSON object a line, file 0600) before it is applied
to the database, and the database remembers how many lines it has applied. A new or rebuilt
database (the old one moved away after corruption, then ``syncd sync --full``) replays the
whole journal, so a rebuild loses none of these choices.

A person is named in the journal by their name and addresses, never by a database id: ids are
only valid inside one database. Replaying is idempotent (a logged contact carries its own key),
so a crash between the journal and the database costs nothing.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

JOURNAL_NAME = "choices.jsonl"
#: What a rebuilt database gets back from the journal, and what it does not (for messages).
KEPT = ("tracked people with their tier or cadence, snoozes, contacts logged with syncd done, "
        "ignore patterns, and merges and splits of people")
KINDS = frozenset({"track", "untrack", "snooze", "done", "ignore", "unignore", "merge",
                   "split"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Choice:
    """One decision. ``kind`` says which; the other fields are those it needs."""

    kind: str
    name: str = ""
    addresses: tuple[str, ...] = ()
    tier: str | None = None
    every_days: float | None = None
    until: str | None = None          # snooze: ISO 8601 UTC, None ends a snooze
    at: str | None = None             # done: when the contact was (ISO 8601 UTC)
    note: str | None = None
    key: str | None = None            # done: the contact's own key, so a replay stores it once
    pattern: str | None = None        # ignore / unignore

    def to_line(self) -> str:
        """Return the journal line (JSON, no newline), leaving out empty fields."""
        values = {name: (list(value) if isinstance(value, tuple) else value)
                  for name, value in asdict(self).items() if value not in (None, (), "")}
        return json.dumps(values, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_line(cls, line: str) -> Choice:
        """Parse a journal line; raise ValueError when it is not one."""
        data = json.loads(line)
        if not isinstance(data, dict) or data.get("kind") not in KINDS:
            raise ValueError("not a choice")
        known = {name: value for name, value in data.items() if name in cls.__dataclass_fields__}
        known["addresses"] = tuple(known.get("addresses", ()))
        return cls(**known)


class ChoiceJournal:
    """The append-only file of choices in a state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / JOURNAL_NAME

    def exists(self) -> bool:
        """Return True when the journal file exists."""
        return self.path.exists()

    def size(self) -> int:
        """Return the journal's size in bytes (0 when there is none yet)."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def append(self, *choices: Choice) -> None:
        """Append choices and flush them to disk before they are applied anywhere."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, "".join(choice.to_line() + "\n" for choice in choices).encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self) -> list[Choice]:
        """Return every choice in order; a line that cannot be read (a write cut short by a
        crash, a hand edit) is skipped with a warning naming its line number."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        choices = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                choices.append(Choice.from_line(line))
            except (ValueError, TypeError):
                log.warning("%s line %d is not a choice syncd wrote; skipped", self.path,
                            number)
        return choices
