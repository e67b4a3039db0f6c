"""mbox source: the header metadata of every message in one mbox file or a tree of them.

Format (RFC 4155): messages follow each other, each introduced by a ``From_`` line
(``From sender asctime-date``). Writers escape body lines that start with ``From `` (mboxo,
mboxrd), but not all do, so a ``From `` line starts a message only when it follows an empty
line (or starts the file) and the line after it looks like a header field. Old Netscape and
Solaris writers put no empty line before From_ lines; such a line is still accepted when it is
unmistakably a From_ line (``From - `` or ``From sender asctime-date``) followed by a header
field. When a message carries a ``Content-Length`` that points exactly at the next ``From_``
line or at the end of the file (the mboxcl/mboxcl2 variants), the scanner trusts it and jumps
over the body, as mutt does; a wrong Content-Length is ignored.

Files are streamed in binary in 1 MiB chunks; only each message's header block is kept, so a
file of many GB needs a few MB of memory. LF, CRLF and bare-CR files are read.

Directories are read recursively (Thunderbird ``Local Folders``, ``Inbox.sbd/``, Apple Mail's
``Sent.mbox/mbox``); dotfiles, dot-directories and Thunderbird ``*.msf`` index files are
ignored, as are files that do not start with a ``From `` line (a file named as ``path`` itself
that is not an mbox becomes one skip).

Identity: a record's source id is ``<relative file path>:<byte offset of its From_ line>``.

Incremental pulls: the cursor records per file its size, mtime, inode, the offset of the last
message start and a SHA-1 of its first 4 KiB. Unchanged files are not opened. A file that only
grew (same inode, same first bytes, a ``From_`` line still at the recorded offset) is read from
its last message on, which is read again so a message that was still being written is
completed. Any other change (a rewrite after deletions, an in-place status update) scans the
file from the start, parsing only messages whose source id the store does not know.

Google Takeout: the ``X-Gmail-Labels`` header gives each message's role (Sent, Spam, Trash,
Drafts, Inbox, else archived), which overrides the file's role.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Container, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from connectors.mail._folders import role_for_folder_name
from connectors.mail._mail import (
    HEADER_LIMIT,
    find_blank_line,
    parse_date,
    parse_or_skip,
    uses_lf_line_endings,
)
from connectors.mail._pages import PageBuilder
from syncd.errors import SourceEmpty, SourceError
from syncd.model import Message, Page, Role, Skip

logger = logging.getLogger(__name__)

_CURSOR_VERSION = 1
_PAGE_SIZE = 500
_CHUNK = 1024 * 1024
_HEAD = 4096
_FROM = b"From "
_UTF8_BOM = b"\xef\xbb\xbf"
#: The longest From_ line looked at; longer lines are not From_ lines.
_FROM_LINE_LIMIT = 64 * 1024
#: A header field line: RFC 5322 §3.6.8 field-name (printable ASCII but ":"), optional
#: obsolete whitespace (§4.5), then ":".
_HEADER_LINE = re.compile(rb"[!-9;-~]+[ \t]*:")
_CONTENT_LENGTH = re.compile(rb"(?:\A|[\r\n])content-length[ \t]*:[ \t]*(\d{1,15})", re.IGNORECASE)
#: The asctime date of a From_ line (RFC 4155 §2), with the optional zone some writers add.
_ASCTIME = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),?\s+"
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+\d{1,2}\s+"
    r"\d{1,2}:\d{2}(?::\d{2})?(?:\s+(?:[A-Z]{1,5}|[+-]\d{4}))?\s+\d{4}",
    re.IGNORECASE,
)
#: A line that can only be a From_ line: Netscape/Thunderbird's "From - [date]", or
#: "From sender asctime-date" (RFC 4155 §2).
_STRICT_FROM_LINE = re.compile(
    rb"From (?:-[ \t]*\Z|\S+[ \t]+(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[ \t]+"
    rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[ \t]+\d{1,2}[ \t]+\d{1,2}:\d\d)"
)
_MBOX_SUFFIXES = (".mbox", ".mbx")


@dataclass(frozen=True, slots=True)
class MboxFile:
    """One mbox file: path relative to the configured ``path`` (``/``-separated), full path,
    role from its name."""

    relative: str
    path: str
    role: Role


@dataclass(frozen=True, slots=True)
class _RawMessage:
    """One message as the scanner found it."""

    offset: int  # of the From_ line
    from_line: bytes
    header: bytes  # the header block, without the From_ line and the empty line
    complete: bool  # False: the file ended (or the size limit hit) before an empty line
    body_start: int


class _Scanner:
    """Finds message starts and header blocks in an open mbox file, one chunk at a time.

    ``_buffer`` holds the bytes of the file from offset ``_base`` on. Positions are kept as
    file offsets; bytes before the earliest position still needed are dropped only when the
    next chunk is read, so memory stays at about a chunk plus one header block, and each byte
    is copied a bounded number of times however many messages a chunk holds.
    """

    def __init__(self, handle: BinaryIO, *, lf: bool) -> None:
        self._handle = handle
        self._lf = lf
        self._eol = b"\n" if lf else b"\r"
        self._separator = self._eol + _FROM
        self._base = 0
        self._buffer = b""
        self._eof = False

    def messages(self, start: int) -> Iterator[_RawMessage]:
        """Yield every message from the From_ line at file offset ``start`` to the end."""
        self._reset(start)
        position: int | None = start
        while position is not None:
            message = self._read_header(position)
            yield message
            trusted, after = self._content_length_jump(message)
            if trusted:
                position = after
                if position is not None:
                    self._reset(position)
            else:
                position = self._next_start(message.offset + 1)

    # -- buffer ---------------------------------------------------------------------------

    def _reset(self, offset: int) -> None:
        self._handle.seek(offset)
        self._base = offset
        self._buffer = b""
        self._eof = False

    def _fill(self, keep: int) -> bool:
        """Forget the bytes before file offset ``keep`` and append the next chunk; return
        False at the end of the file."""
        if self._eof:
            return False
        chunk = self._handle.read(_CHUNK)
        if not chunk:
            self._eof = True
            return False
        cut = keep - self._base
        if cut > 0:
            self._buffer = self._buffer[cut:] + chunk
            self._base = keep
        else:
            self._buffer += chunk
        return True

    def _end(self) -> int:
        """The file offset just after the buffered bytes."""
        return self._base + len(self._buffer)

    def _peek(self, offset: int, size: int) -> bytes:
        """Return up to ``size`` bytes at file offset ``offset`` without moving the scan."""
        start = offset - self._base
        if start >= 0 and start + size <= len(self._buffer):
            return self._buffer[start : start + size]
        position = self._handle.tell()
        self._handle.seek(offset)
        data = self._handle.read(size)
        self._handle.seek(position)
        return data

    # -- messages -------------------------------------------------------------------------

    def _read_header(self, position: int) -> _RawMessage:
        """Read the From_ line at file offset ``position`` and the header block after it."""
        while True:
            eol = self._buffer.find(self._eol, position - self._base)
            if eol >= 0 or self._end() - position >= _FROM_LINE_LIMIT:
                break
            if not self._fill(position):
                break
        if eol < 0:
            # The file ends inside the From_ line (or it is absurdly long): no header at all.
            line = self._buffer[position - self._base :][:1024]
            return _RawMessage(position, line.rstrip(b"\r\n"), b"", False, self._end())
        eol_at = self._base + eol
        from_line = self._buffer[position - self._base : eol].rstrip(b"\r")
        search_at = eol_at  # an empty line right after the From_ line means an empty header
        while True:
            end, body = find_blank_line(self._buffer, search_at - self._base, lf=self._lf)
            header_start = eol_at + 1 - self._base
            if end >= 0:
                header = self._buffer[header_start:end]
                return _RawMessage(position, from_line, header, True, self._base + body)
            if len(self._buffer) - header_start >= HEADER_LIMIT:
                header = self._buffer[header_start : header_start + HEADER_LIMIT]
                return _RawMessage(position, from_line, header, False, eol_at + 1 + HEADER_LIMIT)
            # Look again from just before the seam: the empty line may straddle it.
            search_at = max(eol_at, self._end() - 2)
            if not self._fill(position):
                header = self._buffer[eol_at + 1 - self._base :]
                return _RawMessage(position, from_line, header, False, self._end())

    def _content_length_jump(self, message: _RawMessage) -> tuple[bool, int | None]:
        """Return (True, next start or None at the end) when the message's Content-Length
        points exactly at the next From_ line or the end of the file; else (False, None)."""
        if not message.complete or b"ontent-" not in message.header:
            return False, None
        match = _CONTENT_LENGTH.search(message.header)
        if match is None:
            return False, None
        target = message.body_start + int(match.group(1))
        size = os.fstat(self._handle.fileno()).st_size
        if target > size:
            return False, None
        ahead = self._peek(target, 8)
        if ahead.startswith(_FROM):
            return True, target
        for gap in (self._eol, b"\r\n"):
            if ahead.startswith(gap + _FROM):
                return True, target + len(gap)
        if target == size or (ahead in (self._eol, b"\r\n") and target + len(ahead) == size):
            return True, None  # the body runs exactly to the end of the file
        return False, None

    def _next_start(self, offset: int) -> int | None:
        """Return the file offset of the next From_ line at or after ``offset`` that starts a
        message (see the module docstring); None at the end of the file."""
        search_at = offset
        while True:
            found = self._buffer.find(self._separator, search_at - self._base)
            if found < 0:
                # A separator may straddle the chunk boundary; keep its possible start and the
                # two bytes before it that the empty-line check reads.
                search_at = max(search_at, self._end() - len(self._separator) + 1)
                if not self._fill(search_at - 2):
                    return None
                continue
            found_at = self._base + found
            strict = not self._follows_empty_line(found)
            if self._starts_message(found_at + 1, strict=strict):
                return found_at + 1
            search_at = found_at + 1

    def _follows_empty_line(self, index: int) -> bool:
        """True if the line break at buffer ``index`` ends an empty line."""
        if index >= 1 and self._buffer[index - 1 : index] == self._eol:
            return True
        # CRLF text: the empty line is "\r\n" after the previous line's "\n".
        return self._lf and index >= 2 and self._buffer[index - 2 : index] == b"\n\r"

    def _starts_message(self, line_at: int, *, strict: bool) -> bool:
        """True if the From_ line at file offset ``line_at`` is followed by a header field line
        (or by the end of the file: a truncated message is still a message). With ``strict``
        the line itself must also have the shape of a From_ line (it follows no empty line)."""
        keep = line_at - 3  # what _next_start may still look at
        while True:
            eol = self._buffer.find(self._eol, line_at - self._base)
            if eol >= 0:
                break
            if self._end() - line_at > _FROM_LINE_LIMIT:
                return False
            if not self._fill(keep):
                return True  # the file ends inside the From_ line: a truncated message
        eol_at = self._base + eol
        line = self._buffer[line_at - self._base : eol].rstrip(b"\r")
        if strict and not _STRICT_FROM_LINE.match(line):
            return False
        # Enough of the next line to see a field name.
        while self._end() - eol_at < 1024 and self._fill(keep):
            pass
        next_line = eol_at + 1 - self._base
        if next_line >= len(self._buffer):
            return True
        # An empty next line ("\n" or "\r\n") does not match: a From_ line followed by an
        # empty line is body text, not a message without headers.
        return _HEADER_LINE.match(self._buffer, next_line) is not None


def _first_message(head: bytes) -> int | None:
    """Return the offset of the first From_ line if ``head`` (a file's first bytes) starts an
    mbox, -1 for an empty or blank file, None if it is not an mbox. A UTF-8 byte order mark
    and leading empty lines are tolerated."""
    text = head[len(_UTF8_BOM) :] if head.startswith(_UTF8_BOM) else head
    stripped = text.lstrip(b"\r\n")
    if not stripped:
        return -1
    if stripped.startswith(_FROM):
        return len(head) - len(stripped)
    return None


def _from_line_date(from_line: bytes) -> datetime | None:
    """Return the delivery date of a From_ line, UTC per RFC 4155 §2, or None."""
    text = from_line.decode("latin-1")
    match = _ASCTIME.search(text)
    if match is None:
        return None
    return parse_date(match.group(0), received=None)


class MboxConnector:
    """Reads mbox files; see the module docstring for the format, identity and cursors.

    ``options`` (validated and defaulted by the config): ``path`` (an mbox file or a directory
    of them, ``~`` expanded), ``sent`` (file names or relative paths that hold sent mail).
    """

    source_type = "mbox"

    def __init__(self, name: str, options: Mapping[str, Any], timezone: ZoneInfo) -> None:
        self.name = name
        self._path = os.path.expanduser(str(options["path"]))
        self._sent = {str(entry).strip("/").casefold() for entry in options.get("sent", [])}
        self._timezone = timezone

    def pull(self, cursor: str | None, known: Container[str]) -> Iterator[Page]:
        """Yield pages of new messages since ``cursor`` (see :class:`connectors.base.Connector`).

        Sent-role files are read first; every page's ``my_addresses`` holds the From addresses
        of the Sent-role messages (by file or by Gmail label) read so far in this pass. Pages
        hold at most 500 entries and each carries a cursor valid if the pass stops after it.
        Unreadable files and messages become skips. Raise
        :class:`~syncd.errors.SourceError` if ``path`` does not exist.
        """
        if not os.path.exists(self._path):
            raise SourceError(
                f"the mbox path {self._path} does not exist; fix sources.{self.name}.path "
                "in the config"
            )
        previous = self._load_cursor(cursor)
        single = os.path.isfile(self._path)
        files = sorted(self.files(), key=lambda mbox: (mbox.role is not Role.SENT, mbox.relative))
        if previous and not files:
            # PROTOCOL-NOTES rule 12: a source that had data and lists nothing is an error.
            raise SourceEmpty(
                f"{self._path} holds no mbox files now but held {len(previous)} at the last "
                "sync; if its disk is not mounted, mount it (nothing was changed)"
            )
        state: dict[str, dict[str, Any]] = {}
        builder = PageBuilder(size=_PAGE_SIZE)
        opened = 0
        for mbox in files:
            entry = previous.get(mbox.relative)
            yield from self._read_file(mbox, entry, known, builder, state, explicit=single)
            if state.get(mbox.relative) is not entry:
                opened += 1
        logger.debug(
            "mbox %s: %d files, %d read, %d new messages, %d skipped",
            self.name,
            len(files),
            opened,
            builder.record_count,
            builder.skip_count,
        )
        yield builder.page(self._dump_cursor(state))

    def files(self) -> list[MboxFile]:
        """Return the candidate mbox files under ``path`` with their roles (not yet sniffed)."""
        if os.path.isfile(self._path):
            name = os.path.basename(self._path)
            return [MboxFile(name, self._path, self._role(name))]
        found: list[MboxFile] = []
        for directory, subdirectories, file_names in os.walk(self._path):
            subdirectories[:] = sorted(name for name in subdirectories if not name.startswith("."))
            for file_name in sorted(file_names):
                if file_name.startswith(".") or file_name.endswith(".msf"):
                    continue  # dotfiles; Thunderbird's Mork index files
                path = os.path.join(directory, file_name)
                relative = os.path.relpath(path, self._path).replace(os.sep, "/")
                found.append(MboxFile(relative, path, self._role(relative)))
        return found

    def _role(self, relative: str) -> Role:
        parts = relative.split("/")
        name = parts[-1]
        if name == "mbox" and len(parts) > 1:
            name = parts[-2]  # Apple Mail exports "Sent.mbox/mbox"
        for suffix in _MBOX_SUFFIXES:
            if name.lower().endswith(suffix):
                name = name[: -len(suffix)]
        if {relative.casefold(), parts[-1].casefold(), name.casefold()} & self._sent:
            return Role.SENT
        return role_for_folder_name(name)

    # ---------------------------------------------------------------------------------------

    def _read_file(
        self,
        mbox: MboxFile,
        previous: dict[str, Any] | None,
        known: Container[str],
        builder: PageBuilder,
        state: dict[str, dict[str, Any]],
        *,
        explicit: bool,
    ) -> Iterator[Page]:
        """Read one file's new messages into ``builder``, yielding full pages, and record the
        file's new cursor entry in ``state`` (left unset if the file could not be read, so it
        is tried again next time)."""
        try:
            info = os.stat(mbox.path)
        except FileNotFoundError:
            return
        except OSError as error:
            builder.add(Skip(mbox.relative, f"cannot read file: {error.strerror or error}"))
            return
        identity = {"size": info.st_size, "mtime_ns": info.st_mtime_ns, "inode": info.st_ino}
        if (
            previous is not None
            and not previous.get("partial")
            and all(previous.get(key) == value for key, value in identity.items())
        ):
            state[mbox.relative] = previous  # unchanged: not opened
            return
        try:
            handle = open(mbox.path, "rb")  # noqa: SIM115 - closed by the with below
        except FileNotFoundError:
            return
        except OSError as error:
            builder.add(Skip(mbox.relative, f"cannot read file: {error.strerror or error}"))
            return
        with handle:
            try:
                head = handle.read(_HEAD)
            except OSError as error:
                builder.add(Skip(mbox.relative, f"cannot read file: {error.strerror or error}"))
                return
            first = _first_message(head)
            if first is None:
                state[mbox.relative] = {**identity, "mbox": False}
                if explicit:
                    reason = "not an mbox file: no 'From ' line at the start"
                    builder.add(Skip(mbox.relative, reason))
                else:
                    logger.debug("mbox %s: %s is not an mbox file", self.name, mbox.relative)
                return
            entry: dict[str, Any] = {
                **identity,
                "mbox": True,
                "head": hashlib.sha1(head, usedforsecurity=False).hexdigest(),
                "head_len": len(head),
                "last": None,
            }
            if first < 0:
                state[mbox.relative] = entry  # empty mbox
                return
            start = self._resume_offset(handle, head, info, previous)
            forced = start
            if start is None:
                start, forced = first, None
            fallback = datetime.fromtimestamp(info.st_mtime, UTC)
            scanner = _Scanner(handle, lf=uses_lf_line_endings(head))
            try:
                for raw in scanner.messages(start):
                    entry["last"] = raw.offset
                    source_id = f"{mbox.relative}:{raw.offset}"
                    if raw.offset != forced and source_id in known:
                        continue
                    builder.add(self._parse(raw, source_id, mbox.role, fallback))
                    if builder.full:
                        state[mbox.relative] = {**entry, "partial": True}
                        yield builder.page(self._dump_cursor(state))
            except OSError as error:
                builder.add(Skip(mbox.relative, f"cannot read file: {error.strerror or error}"))
                state.pop(mbox.relative, None)
                if previous is not None:
                    state[mbox.relative] = previous
                return
            state[mbox.relative] = entry

    @staticmethod
    def _resume_offset(
        handle: BinaryIO, head: bytes, info: os.stat_result, previous: dict[str, Any] | None
    ) -> int | None:
        """Return the offset to resume at if the file only grew since ``previous`` (or a pass
        stopped inside it), else None (read from the start)."""
        if previous is None or not previous.get("mbox") or previous.get("last") is None:
            return None
        if previous.get("inode") != info.st_ino:
            return None  # replaced by another file (a rewrite after deletions)
        grew = info.st_size > int(previous.get("size", 0))
        if not (grew or (previous.get("partial") and info.st_size == previous.get("size"))):
            return None  # shrank, or edited in place without growing
        old_length = int(previous.get("head_len", 0))
        old_head = hashlib.sha1(head[:old_length], usedforsecurity=False).hexdigest()
        if len(head) < old_length or old_head != previous.get("head"):
            return None  # the beginning changed: not an append
        last = int(previous["last"])
        handle.seek(last)
        if handle.read(len(_FROM)) != _FROM:
            return None
        return last

    @staticmethod
    def _parse(raw: _RawMessage, source_id: str, role: Role, fallback: datetime) -> Message | Skip:
        received = _from_line_date(raw.from_line) or fallback
        item = parse_or_skip(
            raw.header,
            source_id=source_id,
            folder_role=role,
            received=received,
            gmail_labels=True,
        )
        if isinstance(item, Skip) and not raw.complete:
            return Skip(source_id, f"truncated message: {item.reason}")
        return item

    # ---------------------------------------------------------------------------------------

    def _load_cursor(self, cursor: str | None) -> dict[str, dict[str, Any]]:
        """Return the recorded per-file state; an unreadable cursor means "read everything"."""
        if not cursor:
            return {}
        try:
            data = json.loads(cursor)
            if data.get("version") != _CURSOR_VERSION:
                raise ValueError("unknown cursor version")
            files = data["files"]
            return {str(name): dict(entry) for name, entry in files.items()}
        except (ValueError, TypeError, KeyError, AttributeError):
            logger.warning("mbox %s: ignoring an unreadable cursor; reading every file", self.name)
            return {}

    @staticmethod
    def _dump_cursor(state: Mapping[str, Mapping[str, Any]]) -> str:
        return json.dumps({"version": _CURSOR_VERSION, "files": dict(state)}, sort_keys=True)
