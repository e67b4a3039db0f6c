"""iCalendar files and subscriptions: meetings from ``.ics`` files on disk or at a URL.

``path`` is one ``.ics`` file, a directory (every ``*.ics`` below it, as vdirsyncer and khal
keep them) or a glob. ``url`` is a calendar subscription (``webcal://`` is read as https),
fetched with ``If-None-Match`` / ``If-Modified-Since`` (RFC 9110 §13.1) so an unchanged feed
costs one short 304 response.

Cursor (JSON): per file, the SHA-256 of its content and the time from which the moving window
reveals occurrences it has not yielded yet
(see :class:`connectors.calendars._calendar.ParsedCalendar`);
for a URL, the ETag and Last-Modified validators plus the same two. A file is parsed again only
when its content changed or that time has come. A changed or deleted file is reported as the
removal of its prefix ``<file>|``, so its upcoming meetings are replaced, never duplicated, and
meetings that already happened stay counted.

A file that cannot be read or parsed is skipped with its reason (``syncd status``); the rest
still count. A source whose files all vanish raises :class:`SourceEmpty` instead of looking
like a mass deletion.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
from collections.abc import Callable, Container, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from connectors.calendars._calendar import (
    CalendarUnreadable,
    calendar_prefix,
    load_state,
    occurrences,
    window,
)
from syncd.errors import AuthError, SourceEmpty, SourceError
from syncd.model import Meeting, Page, Skip

log = logging.getLogger(__name__)

_CURSOR_VERSION = 1
_PAGE_SIZE = 2000
_TIMEOUT_SECONDS = 60
_MAX_BYTES = 64 * 1024 * 1024


def _epoch(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


class IcsConnector:
    """Reads ``.ics`` files (``path``) or one subscription (``url``); see the module docstring."""

    source_type = "ics"

    def __init__(self, name: str, options: Mapping[str, Any], timezone: ZoneInfo, *,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.name = name
        self.path: str | None = options.get("path")
        self.url: str | None = options.get("url")
        if self.url and self.url.lower().startswith("webcal://"):
            self.url = "https://" + self.url[len("webcal://"):]
        if not self.path and not self.url:
            raise SourceError(f"source {name!r} has neither path nor url; set one in "
                              f"[sources.{name}]")
        self.history: timedelta = options.get("history") or timedelta(days=3 * 365)
        self.lookahead: timedelta = options.get("lookahead") or timedelta(days=30)
        self.timezone = timezone
        self.clock = clock or (lambda: datetime.now(UTC))

    # --- cursor --------------------------------------------------------------------------------

    def _load(self, cursor: str | None) -> dict[str, Any]:
        return load_state(cursor, _CURSOR_VERSION, "this calendar source")

    # --- pulling ---------------------------------------------------------------------------------

    def pull(self, cursor: str | None, known: Container[str]) -> Iterator[Page]:
        """Yield pages of meetings from changed files (or the changed feed); see the module doc."""
        state = self._load(cursor)
        start, end = window(self.clock(), self.history, self.lookahead)
        if self.url:
            yield from self._pull_url(state, start, end)
        else:
            yield from self._pull_files(state, start, end)

    def _files(self) -> list[Path]:
        assert self.path is not None
        root = Path(self.path)
        if root.is_dir():
            return sorted(p for p in root.rglob("*") if p.suffix.lower() == ".ics" and p.is_file())
        if root.is_file():
            return [root]
        if any(character in self.path for character in "*?["):
            return sorted(Path(p) for p in glob.glob(self.path, recursive=True)
                          if os.path.isfile(p))
        raise SourceError(f"{self.path} does not exist; fix [sources.{self.name}].path "
                          "(a file, a directory or a glob)")

    def _pull_files(self, state: dict[str, Any], start: datetime,
                    end: datetime) -> Iterator[Page]:
        previous: dict[str, list[Any]] = state.get("files", {})
        files = self._files()
        if not files and previous:
            raise SourceEmpty(
                f"{self.path} holds no .ics file any more, though {len(previous)} were read "
                f"before; if you removed them on purpose, run: syncd sync {self.name} --full")
        if not files:
            # "0 read" would look like success for a path with a typo in it.
            raise SourceError(f"{self.path} matches no .ics file; fix "
                              f"[sources.{self.name}].path (a file, a directory or a glob)")
        now_end = _epoch(end)
        assert now_end is not None
        current: dict[str, list[Any]] = {}
        records: list[Meeting] = []
        skipped: list[Skip] = []
        removals: list[str] = []
        changed = 0
        for file in files:
            key = str(file.resolve())
            try:
                data = file.read_bytes()
            except OSError as error:
                skipped.append(Skip(calendar_prefix(key), f"{file.name}: cannot be read "
                                                          f"({error.strerror or error})"))
                if key in previous:
                    current[key] = previous[key]  # keep what we knew; try again next time
                continue
            digest = hashlib.sha256(data).hexdigest()
            old = previous.get(key)
            if old is not None and old[0] == digest and (old[1] is None or old[1] > now_end):
                current[key] = old
                continue
            changed += 1
            if old is not None and old[0] != digest:
                removals.append(calendar_prefix(key))
            try:
                parsed = occurrences(data, key, self.timezone, start, end)
            except CalendarUnreadable as reason:
                skipped.append(Skip(calendar_prefix(key), f"{file.name}: {reason}"))
                current[key] = [digest, None]
                continue
            records.extend(parsed.meetings)
            skipped.extend(parsed.skipped)
            current[key] = [digest, _epoch(parsed.revisit_at)]
            if len(records) >= _PAGE_SIZE:
                yield Page(records=tuple(records), skipped=tuple(skipped),
                           removals=tuple(removals))
                records, skipped, removals = [], [], []
        removals.extend(calendar_prefix(key) for key in previous if key not in current)
        log.info("%s: %d .ics files, %d read again, %d gone", self.name, len(files), changed,
                 len([key for key in previous if key not in current]))
        yield Page(records=tuple(records), skipped=tuple(skipped), removals=tuple(removals),
                   cursor=json.dumps({"v": _CURSOR_VERSION, "files": current},
                                     separators=(",", ":")))

    def _pull_url(self, state: dict[str, Any], start: datetime,
                  end: datetime) -> Iterator[Page]:
        import requests

        assert self.url is not None
        headers = {"User-Agent": "syncd (calendar subscription)"}
        revisit = state.get("revisit")
        due = revisit is not None and revisit <= (_epoch(end) or 0)
        if state and not due:
            # Conditional GET (RFC 9110 §13.1.2, §13.1.3): 304 when the feed did not change.
            if state.get("etag"):
                headers["If-None-Match"] = state["etag"]
            if state.get("modified"):
                headers["If-Modified-Since"] = state["modified"]
        try:
            response = requests.get(self.url, headers=headers, timeout=_TIMEOUT_SECONDS,
                                    stream=True)
        except requests.RequestException as error:
            raise SourceError(f"cannot fetch the calendar of source {self.name!r} "
                              f"({type(error).__name__}); check the url and the network"
                              ) from None
        with response:
            if response.status_code == 304 and state:
                log.info("%s: the subscription did not change", self.name)
                yield Page(cursor=json.dumps(state, separators=(",", ":")))
                return
            if response.status_code in (401, 403):
                raise AuthError(f"the calendar server refused the subscription of source "
                                f"{self.name!r} (HTTP {response.status_code}); check its url, "
                                "it may hold an expired secret")
            if response.status_code >= 400:
                raise SourceError(f"the calendar subscription of source {self.name!r} "
                                  f"answered HTTP {response.status_code}; check its url")
            data = response.raw.read(_MAX_BYTES + 1, decode_content=True)
            if len(data) > _MAX_BYTES:
                raise SourceError(f"the calendar subscription of source {self.name!r} is over "
                                  f"{_MAX_BYTES // 2**20} MB; is the url right?")
            etag = response.headers.get("ETag")
            modified = response.headers.get("Last-Modified")
        digest = hashlib.sha256(data).hexdigest()
        new_state: dict[str, Any] = {"v": _CURSOR_VERSION, "etag": etag, "modified": modified,
                                     "hash": digest, "revisit": revisit}
        if state.get("hash") == digest and not due:
            yield Page(cursor=json.dumps(new_state, separators=(",", ":")))
            return
        key = "url"
        removals = (calendar_prefix(key),) if state.get("hash") not in (None, digest) else ()
        try:
            parsed = occurrences(data, key, self.timezone, start, end)
        except CalendarUnreadable as reason:
            if state.get("hash"):
                raise SourceError(f"the calendar subscription of source {self.name!r} is no "
                                  f"longer iCalendar ({reason})") from None
            yield Page(skipped=(Skip(calendar_prefix(key), f"the subscription: {reason}"),),
                       cursor=json.dumps(new_state, separators=(",", ":")))
            return
        if not parsed.uids and state.get("hash"):
            raise SourceEmpty(f"the calendar subscription of source {self.name!r} lists no "
                              "events any more; if that is right, run: "
                              f"syncd sync {self.name} --full")
        new_state["revisit"] = _epoch(parsed.revisit_at)
        log.info("%s: the subscription has %d events, %d occurrences in the window", self.name,
                 len(parsed.uids), len(parsed.meetings))
        yield Page(records=tuple(parsed.meetings), skipped=tuple(parsed.skipped),
                   removals=removals, cursor=json.dumps(new_state, separators=(",", ":")))
