"""Maildir source: the header metadata of every message in a local Maildir tree.

Layouts read (both may be mixed under one root):

- **plain trees** (mbsync ``SubFolders Verbatim``, offlineimap): every directory with ``cur/``
  and ``new/`` is a folder, named by its path below the root (``Sent``, ``Archive/2023``);
  ``SubFolders Legacy`` dot-directories (``Archive/.2023``) are read as ``Archive/2023``.
- **Maildir++** (Courier, Dovecot): the root itself is ``INBOX`` and each folder is a
  dot-directory in the root, levels separated by dots (``.Sent``, ``.INBOX.Sent`` is shown as
  ``INBOX/Sent``, ``.Archive.2023`` as ``Archive/2023``). Names are stored in IMAP modified
  UTF-7 (RFC 3501 §5.1.3) and decoded for display.

Identity: a record's source id is ``<folder>/<unique name>``; the unique name is the file name
before the ``:`` that starts the info part (``:2,FLAGS``), so it survives flag changes and the
move from ``new/`` to ``cur/`` (https://cr.yp.to/proto/maildir.html).

Incremental pulls: the cursor records the mtimes of every folder's ``cur/`` and ``new/``. A
directory's mtime changes whenever a file is added, renamed or removed in it, so a folder whose
two mtimes are unchanged has nothing new and is not even listed. A folder whose directories
changed less than two seconds before they were stat-ed is not recorded, because file systems
with coarse timestamps could hide a later change in the same tick. Listed folders open only
files whose source id the store does not know yet.

Deleted messages are not reported as removals: contact that happened stays in the history.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import logging
import os
import time
from collections.abc import Container, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from connectors.mail._folders import role_for_folder_name
from connectors.mail._mail import (
    is_plausible_time,
    parse_or_skip,
    read_header_bytes,
)
from connectors.mail._pages import PageBuilder
from syncd.errors import SourceEmpty, SourceError
from syncd.model import Message, Page, Role, Skip

logger = logging.getLogger(__name__)

_CURSOR_VERSION = 1
#: A directory mtime this close to the time it was read may still change within the same tick.
_SETTLE_NS = 2_000_000_000
_PAGE_SIZE = 500
_MAX_DEPTH = 32


@dataclass(frozen=True, slots=True)
class MaildirFolder:
    """One maildir folder: display name, directory, role."""

    name: str
    path: str
    role: Role


def decode_modified_utf7(text: str) -> str:
    """Decode an IMAP mailbox name in modified UTF-7 (RFC 3501 §5.1.3); return it unchanged if
    it is not valid modified UTF-7 (a plain name such as ``R&D`` stays as written)."""
    if "&" not in text:
        return text
    result: list[str] = []
    index = 0
    while index < len(text):
        amp = text.find("&", index)
        if amp < 0:
            result.append(text[index:])
            break
        result.append(text[index:amp])
        dash = text.find("-", amp)
        if dash < 0:
            return text
        encoded = text[amp + 1 : dash]
        if not encoded:
            result.append("&")  # "&-" is a literal ampersand
        else:
            # Modified base64: "," replaces "/", and padding is omitted.
            padded = encoded.replace(",", "/") + "=" * (-len(encoded) % 4)
            try:
                result.append(base64.b64decode(padded, validate=True).decode("utf-16-be"))
            except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
                return text
        index = dash + 1
    return "".join(result)


def _unique_name(file_name: str) -> str:
    """Return the Maildir unique name: the file name before the info separator ``:``."""
    return file_name.split(":", 1)[0]


def _delivery_time(file_name: str) -> datetime | None:
    """Return the delivery time encoded in a Maildir file name's leading digits, if plausible.

    Maildir unique names start with the delivery time in seconds since the epoch
    (``1700000000.M1P2.host``); other tools' names (``msg-1``) give None.
    """
    digits = 0
    for character in file_name:
        if not character.isdigit():
            break
        digits += 1
    if not 9 <= digits <= 11:
        return None
    try:
        moment = datetime.fromtimestamp(int(file_name[:digits]), UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment if is_plausible_time(moment) else None


def _is_maildir(path: str) -> bool:
    return os.path.isdir(os.path.join(path, "cur")) and os.path.isdir(os.path.join(path, "new"))


def _matches(name: str, patterns: Sequence[str]) -> bool:
    """Case-insensitive glob match; ``*`` also matches ``/``, so ``"*"`` matches every folder."""
    folded = name.casefold()
    return any(fnmatch.fnmatchcase(folded, pattern.casefold()) for pattern in patterns)


class MaildirConnector:
    """Reads a Maildir tree; see the module docstring for layouts, identity and cursors.

    ``options`` (validated and defaulted by the config): ``path`` (the root, ``~`` expanded),
    ``sent`` (folder names to treat as Sent, default none), ``folders`` (globs to read, default
    ``["*"]``), ``exclude_folders`` (globs to leave out, default none).
    """

    source_type = "maildir"

    def __init__(self, name: str, options: Mapping[str, Any], timezone: ZoneInfo) -> None:
        self.name = name
        self._root = os.path.expanduser(str(options["path"]))
        self._sent = {str(folder).strip("/").casefold() for folder in options.get("sent", [])}
        self._include = [str(pattern) for pattern in options.get("folders", ["*"])]
        self._exclude = [str(pattern) for pattern in options.get("exclude_folders", [])]
        self._timezone = timezone

    # ---------------------------------------------------------------------------------------

    def pull(self, cursor: str | None, known: Container[str]) -> Iterator[Page]:
        """Yield pages of new messages since ``cursor`` (see :class:`connectors.base.Connector`).

        Sent-role folders are read first, and every page's ``my_addresses`` holds the From
        addresses of the Sent-role messages read so far in this pass. Pages hold at most 500
        entries; each carries a cursor that is valid if the pass stops after it. Files that
        cannot be read become skips; files moved away between listing and opening are ignored
        (they are found in their new folder). Raise :class:`~syncd.errors.SourceError` if the
        root does not exist or is not a directory.
        """
        if not os.path.isdir(self._root):
            what = "does not exist" if not os.path.exists(self._root) else "is not a directory"
            raise SourceError(
                f"the Maildir {self._root} {what}; fix sources.{self.name}.path in the config"
            )
        previous = self._load_cursor(cursor)
        # Sent folders first, so my addresses are known before the mail that depends on them.
        folders = sorted(
            self.folders(), key=lambda folder: (folder.role is not Role.SENT, folder.name)
        )
        if previous and not folders:
            # An unmounted disk or a wiped sync target looks like this; refuse to call it
            # "nothing here" (PROTOCOL-NOTES rule 12) and leave the cursor as it was.
            raise SourceEmpty(
                f"the Maildir {self._root} holds no mail folders now but held "
                f"{len(previous)} at the last sync; if its disk is not mounted, mount it "
                "(nothing was changed)"
            )
        state: dict[str, list[int]] = {}
        builder = PageBuilder(size=_PAGE_SIZE)
        listed = 0
        for folder in folders:
            stamped_at = time.time_ns()
            stamp = self._stamp(folder)
            if stamp is not None and previous.get(folder.name) == stamp:
                state[folder.name] = stamp  # unchanged since a settled record: not listed
                continue
            listed += 1
            for item in self._read_folder(folder, known):
                builder.add(item)
                if builder.full:
                    yield builder.page(self._dump_cursor(state))
            if stamp is not None and stamped_at - max(stamp) > _SETTLE_NS:
                state[folder.name] = stamp
        logger.debug(
            "maildir %s: %d folders, %d listed, %d new messages, %d skipped",
            self.name,
            len(folders),
            listed,
            builder.record_count,
            builder.skip_count,
        )
        yield builder.page(self._dump_cursor(state))

    # ---------------------------------------------------------------------------------------

    def folders(self) -> list[MaildirFolder]:
        """Return the folders under the root that the ``folders``/``exclude_folders`` globs
        select, with their roles. Never raises for unreadable subdirectories (they are left
        out)."""
        found: list[MaildirFolder] = []
        visited: set[tuple[int, int]] = set()

        def visit(path: str, parts: list[str], depth: int) -> None:
            try:
                info = os.stat(path)
            except OSError:
                return
            if (info.st_dev, info.st_ino) in visited or depth > _MAX_DEPTH:
                return  # a symlink loop, or absurd nesting
            visited.add((info.st_dev, info.st_ino))
            is_maildir = _is_maildir(path)
            if is_maildir:
                name = "/".join(parts) if parts else "INBOX"
                if _matches(name, self._include) and not _matches(name, self._exclude):
                    found.append(MaildirFolder(name, path, self._role(name)))
            try:
                with os.scandir(path) as entries:
                    children = sorted(
                        (entry.name, entry.path) for entry in entries if entry.is_dir()
                    )
            except OSError:
                return
            for child_name, child_path in children:
                if is_maildir and child_name in ("cur", "new", "tmp"):
                    continue
                if child_name.startswith("."):
                    # Maildir++ folder (".Sent", ".Archive.2023") or a legacy subfolder; other
                    # dot-directories (.notmuch, .git) are tools' data and are not maildirs.
                    components = [part for part in child_name[1:].split(".") if part]
                    if not components or not _is_maildir(child_path):
                        continue
                else:
                    components = [child_name]
                decoded = [decode_modified_utf7(component) for component in components]
                visit(child_path, parts + decoded, depth + 1)

        visit(self._root, [], 0)
        return found

    def _role(self, name: str) -> Role:
        if name.casefold() in self._sent:
            return Role.SENT
        return role_for_folder_name(name)

    @staticmethod
    def _stamp(folder: MaildirFolder) -> list[int] | None:
        """Return the mtimes (ns) of the folder's cur/ and new/, or None if either is gone."""
        try:
            return [
                os.stat(os.path.join(folder.path, "cur")).st_mtime_ns,
                os.stat(os.path.join(folder.path, "new")).st_mtime_ns,
            ]
        except OSError:
            return None

    def _read_folder(
        self, folder: MaildirFolder, known: Container[str]
    ) -> Iterator[Message | Skip]:
        """Yield a Message or Skip for every file in the folder whose source id is unknown."""
        for subdirectory in ("new", "cur"):
            directory = os.path.join(folder.path, subdirectory)
            try:
                scanner = os.scandir(directory)
            except FileNotFoundError:
                continue
            except OSError as error:
                yield Skip(f"{folder.name}/{subdirectory}", f"cannot list: {error.strerror}")
                continue
            with scanner:
                for entry in scanner:
                    # The Maildir spec: names starting with a dot are not messages. Anything
                    # but a regular file (a FIFO would block the read) is not one either.
                    if entry.name.startswith(".") or not entry.is_file():
                        continue
                    source_id = f"{folder.name}/{_unique_name(entry.name)}"
                    if source_id in known:
                        continue
                    item = self._read_message(entry.path, entry.name, source_id, folder.role)
                    if item is not None:
                        yield item

    @staticmethod
    def _read_message(
        path: str, file_name: str, source_id: str, role: Role
    ) -> Message | Skip | None:
        """Parse one message file; return a Message, a Skip, or None if it vanished."""
        try:
            raw = read_header_bytes(path)
        except FileNotFoundError:
            return None  # moved by a mail client since the listing; read in its new place
        except OSError as error:
            return Skip(source_id, f"cannot read file: {error.strerror or error}")
        received = _delivery_time(file_name)
        if received is None:
            try:
                received = datetime.fromtimestamp(os.stat(path).st_mtime, UTC)
            except OSError:
                received = None
        return parse_or_skip(raw, source_id=source_id, folder_role=role, received=received)

    # ---------------------------------------------------------------------------------------

    def _load_cursor(self, cursor: str | None) -> dict[str, list[int]]:
        """Return the recorded folder mtimes; an unreadable cursor means "list everything"."""
        if not cursor:
            return {}
        try:
            data = json.loads(cursor)
            if data.get("version") != _CURSOR_VERSION:
                raise ValueError("unknown cursor version")
            folders = data["folders"]
            return {str(name): [int(stamp[0]), int(stamp[1])] for name, stamp in folders.items()}
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            logger.warning(
                "maildir %s: ignoring an unreadable cursor; listing every folder", self.name
            )
            return {}

    @staticmethod
    def _dump_cursor(state: Mapping[str, list[int]]) -> str:
        return json.dumps({"version": _CURSOR_VERSION, "folders": dict(state)}, sort_keys=True)
