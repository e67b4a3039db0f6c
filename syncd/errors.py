"""The one error tree of syncd.

Every error a user can meet is a :class:`SyncdError`; its message is one sentence that says
what is wrong and how to fix it. The CLI maps each branch to an exit code and never shows a
traceback for these unless ``-v`` is given::

    SyncdError                      exit 1 unless stated
    ├── ConfigError                 exit 78 (EX_CONFIG): the config file is invalid
    ├── UsageError                  exit 2: the command line names something that does not exist
    │   ├── PersonNotFound          exit 1: PERSON matched nobody (closest matches attached)
    │   ├── AmbiguousPerson         exit 1: PERSON is the start of several people's names
    │   └── SetInConfig             exit 2: the command would change what the config file sets
    ├── CredentialError             a secret could not be read or stored (no keyring, ...)
    ├── NotifyError                 a notification could not be delivered (retried next check)
    ├── AlreadyRunning              another `syncd run` holds the state directory's lock
    ├── SourceError                 one source failed; the others go on
    │   ├── CursorExpired           the saved cursor is invalid: full resync, not a failure
    │   ├── AuthError               credentials refused: the source pauses until `syncd auth NAME`
    │   └── SourceEmpty             a source that had data lists nothing: not a deletion
    └── StoreError                  the state database cannot be used
        └── StoreTooNew             written by a newer syncd: refused, never modified
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class SyncdError(Exception):
    """Base of every error syncd reports to a user."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem in a config file: where (a dotted key path) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(SyncdError):
    """The configuration is invalid; carries every problem found, not just the first."""

    exit_code = 78

    def __init__(self, problems: Sequence[ConfigProblem], file: str | None = None) -> None:
        self.problems = tuple(problems)
        self.file = file
        where = f" in {file}" if file else ""
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        count = len(self.problems)
        super().__init__(f"the configuration{where} has {count} "
                         f"{'problem' if count == 1 else 'problems'}:\n{lines}")


class UsageError(SyncdError):
    """The command line asks for something that does not exist."""

    exit_code = 2


class PersonNotFound(UsageError):
    """PERSON matched no one; ``suggestions`` holds the closest names/addresses."""

    exit_code = 1

    def __init__(self, query: str, suggestions: Sequence[str]) -> None:
        self.query = query
        self.suggestions = tuple(suggestions)
        hint = f"; did you mean: {', '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"no person matches {query!r}{hint}")


class AmbiguousPerson(UsageError):
    """PERSON is the start of several people's names or addresses; ``matches`` names some."""

    exit_code = 1

    def __init__(self, query: str, matches: Sequence[str], count: int) -> None:
        self.query = query
        self.matches = tuple(matches)
        more = f" and {count - len(matches)} more" if count > len(matches) else ""
        super().__init__(f"{count} people match {query!r}: {'; '.join(self.matches)}{more}; "
                         "name one by address, whole name or #id")


class SetInConfig(UsageError):
    """A command would change a person or pattern the config file sets: the file wins."""

    def __init__(self, what: str, file: str | None, line: int | None) -> None:
        where = "the config file" + (f" {file}" if file else "")
        at = f" (line {line})" if line else ""
        super().__init__(f"{what} is set in {where}{at}; edit it there")


class CredentialError(SyncdError):
    """A secret could not be read or stored."""


class NotifyError(SyncdError):
    """A notification could not be delivered; it is not recorded, so the next check retries."""


class AlreadyRunning(SyncdError):
    """Another ``syncd run`` already owns this state directory."""


class SourceError(SyncdError):
    """One source failed. The engine records it and goes on with the others."""


class CursorExpired(SourceError):
    """The source no longer accepts the saved cursor; the engine runs a full resync."""


class AuthError(SourceError):
    """The server refused the credentials; the source is paused until ``syncd auth NAME``."""


class SourceEmpty(SourceError):
    """A source that held data now lists none: treated as an error, never as mass deletion."""


class StoreError(SyncdError):
    """The state database cannot be opened or written."""


class StoreTooNew(StoreError):
    """The database was written by a newer syncd; it is refused and left untouched."""
