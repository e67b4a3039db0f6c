"""Gmail through the Gmail API (``gmail.metadata`` scope): message headers, never bodies.

Full sync (https://developers.google.com/gmail/api/guides/sync):

1. ``users.getProfile`` gives the current ``historyId``, recorded *before* listing (a page with
   no records carries it), so nothing that arrives during the listing is missed;
2. ``messages.list`` pages (500 ids, SPAM and TRASH left out by ``includeSpamTrash=false``);
   ids carrying an excluded label (DRAFT and, by default, the Promotions, Social, Updates and
   Forums categories) are listed first per label, which costs 5 quota units per 500 ids instead
   of 5 per message, and are never fetched;
3. ``messages.get format=metadata`` with only the headers the rules read, in batches of at most
   50 sent to ``<endpoint>/batch/gmail/v1`` (``new_batch_http_request()`` ignores
   ``api_endpoint``, google-api-python-client#1107).

Every page (one ``messages.list`` page) carries a cursor with the next page token, so an
interrupted first sync of 200,000 messages resumes where it stopped. Failed sub-requests of a
batch (429, 403 ``rateLimitExceeded``/``userRateLimitExceeded``, 5xx) are re-sent with backoff;
a page whose messages are not all read is never yielded, so a partial batch never advances the
cursor. A client-side token bucket keeps under the per-user quota (250 units/s).

Incremental sync: ``history.list`` from the stored historyId (``messageAdded``). A 404 means the
history is gone: :class:`~syncd.errors.CursorExpired`, and the engine runs a full pass in which
messages already stored (``known``) are not fetched again, so nothing is counted twice.

Records: the metadata headers are put back into a header block and read by the same parser as
every mail source (:mod:`connectors.mail._mail`), so the rules, the dedupe key (Message-ID) and the
date policy (Date, falling back to ``internalDate`` when missing, unparseable or more than two
days after it) are the same as for IMAP. ``SENT`` → a Sent-role message (outgoing).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Container, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from connectors.base import load_json_cursor
from connectors.google._auth import (
    GMAIL_SCOPE,
    MAX_ATTEMPTS,
    ApiRefused,
    GoogleSource,
    TokenBucket,
    error_details,
    is_transient,
)
from connectors.mail._mail import FETCH_HEADERS, parse_or_skip
from syncd.errors import AuthError, CursorExpired, SourceError
from syncd.model import Message, Page, Role, Skip

log = logging.getLogger(__name__)

CURSOR_VERSION = 1
#: Gmail's batch guide: more than 50 requests per batch triggers rate limiting.
BATCH_SIZE = 50
LIST_PAGE_SIZE = 500
#: Quota units per call (https://developers.google.com/gmail/api/reference/quota).
GET_UNITS = 5
LIST_UNITS = 5
HISTORY_UNITS = 2
PROFILE_UNITS = 1
DEFAULT_UNITS_PER_SECOND = 250
#: Never read: their messages are not contact (DESIGN §3).
ALWAYS_EXCLUDED = ("SPAM", "TRASH", "DRAFT")
DEFAULT_EXCLUDED_CATEGORIES = ("CATEGORY_PROMOTIONS", "CATEGORY_SOCIAL", "CATEGORY_UPDATES",
                               "CATEGORY_FORUMS")
#: Gmail's own label ids (https://developers.google.com/gmail/api/guides/labels).
SYSTEM_LABELS = frozenset({
    "INBOX", "SENT", "SPAM", "TRASH", "DRAFT", "STARRED", "IMPORTANT", "UNREAD", "CHAT",
    "CATEGORY_PERSONAL", "CATEGORY_SOCIAL", "CATEGORY_PROMOTIONS", "CATEGORY_UPDATES",
    "CATEGORY_FORUMS"})
#: The metadata headers asked for: exactly what the shared parser reads.
METADATA_HEADERS = tuple(FETCH_HEADERS)


def _cursor(state: Mapping[str, Any]) -> str:
    return json.dumps({"v": CURSOR_VERSION, **state}, separators=(",", ":"))


def _load(cursor: str | None) -> dict[str, Any]:
    return load_json_cursor(cursor, CURSOR_VERSION, "the saved Gmail position", ("history",))


def estimate(read: int, total: int, units_per_second: float) -> str:
    """Return "41,200 of 180,000 read, about 45 min left at Google's rate limit"."""
    text = f"{read:,} of {max(total, read):,} read"
    if units_per_second > 0 and total > read:
        seconds = (total - read) * GET_UNITS / units_per_second
        minutes = max(1, round(seconds / 60))
        left = f"{minutes} min" if minutes < 120 else f"{minutes / 60:.1f} h"
        text += f", about {left} left at Google's rate limit"
    return text


class GmailConnector(GoogleSource):
    """One Gmail account through the Gmail API."""

    source_type = "gmail"
    scope = GMAIL_SCOPE

    def __init__(self, name: str, options: Mapping[str, Any], timezone: ZoneInfo) -> None:
        super().__init__(name, options)
        self.excluded = frozenset((*ALWAYS_EXCLUDED, *options.get(
            "exclude_labels", DEFAULT_EXCLUDED_CATEGORIES)))
        self.units_per_second = float(options.get("quota_units_per_second",
                                                  DEFAULT_UNITS_PER_SECOND))
        self.bucket = TokenBucket(self.units_per_second)

    @staticmethod
    def describe_cursor(cursor: str | None, options: Mapping[str, Any]) -> str | None:
        """Return where an unfinished first sync stands, for ``syncd status`` (else None)."""
        try:
            state = _load(cursor)
        except CursorExpired:
            return None
        if "next" not in state:
            return None
        rate = float(options.get("quota_units_per_second", DEFAULT_UNITS_PER_SECOND))
        return "Gmail: " + estimate(int(state.get("read", 0)), int(state.get("total", 0)), rate)

    # --- the API ----------------------------------------------------------------------------

    def _users(self) -> Any:
        return self.session.service("gmail", "v1").users()

    def pull(self, cursor: str | None, known: Container[str]) -> Iterator[Page]:
        """Yield pages of messages; see the module docstring."""
        state = _load(cursor)
        if state and "next" not in state:
            yield from self._incremental(state, known)
        else:
            yield from self._full(state, known)

    def _full(self, state: dict[str, Any], known: Container[str]) -> Iterator[Page]:
        if not state:
            self.bucket.take(PROFILE_UNITS)
            profile = self.session.execute(self._users().getProfile(userId="me"),
                                           "users.getProfile")
            state = {"history": str(profile["historyId"]), "next": "", "read": 0,
                     "total": int(profile.get("messagesTotal") or 0)}
            # The starting point is stored before the listing begins (Gmail sync guide).
            yield Page(cursor=_cursor(state))
        excluded = self._excluded_ids()
        token = state["next"] or None
        read = int(state.get("read", 0))
        while True:
            self.bucket.take(LIST_UNITS)
            request = self._users().messages().list(
                userId="me", maxResults=LIST_PAGE_SIZE, pageToken=token, includeSpamTrash=False)
            try:
                response = self.session.execute(request, "messages.list")
            except ApiRefused as refused:
                if token and refused.status == 400:
                    raise CursorExpired("Gmail no longer accepts the saved listing "
                                        "position") from None
                raise
            ids = [item["id"] for item in response.get("messages", ())]
            wanted = [identifier for identifier in ids
                      if identifier not in excluded and identifier not in known]
            records, skipped = self._fetch(wanted)
            read += len(ids)
            token = response.get("nextPageToken")
            next_state = {"history": state["history"], "read": read, "total": state["total"]}
            if token:
                next_state["next"] = token
            log.info("%s: %s", self.name, estimate(read, int(state["total"]),
                                                   self.units_per_second))
            yield self._page(records, skipped, _cursor(next_state))
            if not token:
                return

    def _label_ids(self) -> frozenset[str]:
        """Return the ids of the excluded labels; names of user labels ("Newsletters") are
        looked up with ``labels.list``, since messages carry ids ("Label_12")."""
        unknown = self.excluded - SYSTEM_LABELS
        if not unknown:
            return self.excluded
        self.bucket.take(LIST_UNITS)
        response = self.session.execute(self._users().labels().list(userId="me"),
                                        "labels.list")
        by_name: dict[str, str] = {}
        for label in response.get("labels", ()):
            by_name[str(label.get("id", "")).casefold()] = str(label.get("id"))
            by_name[str(label.get("name", "")).casefold()] = str(label.get("id"))
        found = set(self.excluded & SYSTEM_LABELS)
        for wanted in sorted(unknown):
            if wanted.casefold() in by_name:
                found.add(by_name[wanted.casefold()])
            else:
                log.warning("%s: exclude_labels names %r, but the account has no such label",
                            self.name, wanted)
        self.excluded = frozenset(found)
        return self.excluded

    def _excluded_ids(self) -> frozenset[str]:
        """Return the ids of messages carrying an excluded label (listed per label)."""
        found: set[str] = set()
        for label in sorted(self._label_ids() - {"SPAM", "TRASH"}):
            token: str | None = None
            while True:
                self.bucket.take(LIST_UNITS)
                response = self.session.execute(self._users().messages().list(
                    userId="me", labelIds=[label], maxResults=LIST_PAGE_SIZE, pageToken=token,
                    includeSpamTrash=False), f"messages.list of {label}")
                found.update(item["id"] for item in response.get("messages", ()))
                token = response.get("nextPageToken")
                if not token:
                    break
        return frozenset(found)

    def _incremental(self, state: dict[str, Any], known: Container[str]) -> Iterator[Page]:
        excluded = self._label_ids()
        ids: dict[str, None] = {}
        token: str | None = None
        latest = state["history"]
        while True:
            self.bucket.take(HISTORY_UNITS)
            request = self._users().history().list(
                userId="me", startHistoryId=state["history"], historyTypes=["messageAdded"],
                maxResults=500, pageToken=token)
            try:
                response = self.session.execute(request, "history.list")
            except ApiRefused as refused:
                if refused.status == 404:
                    # History is kept "at least a week" and sometimes only hours (history.list
                    # reference): a full sync, whose stored messages are not fetched again.
                    raise CursorExpired("Gmail no longer has the history since the last "
                                        "sync") from None
                raise
            for record in response.get("history", ()):
                for added in record.get("messagesAdded", ()):
                    identifier = added["message"]["id"]
                    if identifier not in known and not (
                            excluded & set(added["message"].get("labelIds", ()))):
                        ids[identifier] = None
            latest = str(response.get("historyId") or latest)
            token = response.get("nextPageToken")
            if not token:
                break
        wanted = list(ids)
        final = _cursor({"history": latest})
        if not wanted:
            yield Page(cursor=final)
            return
        for start in range(0, len(wanted), LIST_PAGE_SIZE):
            chunk = wanted[start:start + LIST_PAGE_SIZE]
            records, skipped = self._fetch(chunk)
            last = start + LIST_PAGE_SIZE >= len(wanted)
            # Until the last page the old historyId stays: a stop replays from there, and the
            # messages already stored are not fetched again (``known``).
            yield self._page(records, skipped, final if last else _cursor(state))

    @staticmethod
    def _page(records: list[Message], skipped: list[Skip], cursor: str) -> Page:
        mine = frozenset(record.sender.email for record in records
                         if record.folder_role is Role.SENT and record.sender is not None)
        return Page(records=tuple(records), skipped=tuple(skipped), cursor=cursor,
                    my_addresses=mine)

    def _fetch(self, ids: Sequence[str]) -> tuple[list[Message], list[Skip]]:
        """Read the metadata of ``ids`` in batches; return records and skips in id order.

        Raise :class:`SourceError` when some ids still fail after :data:`MAX_ATTEMPTS` rounds:
        the caller then yields no page, so the cursor does not move past them.
        """
        from google.auth.exceptions import RefreshError, TransportError
        from googleapiclient.errors import HttpError
        from googleapiclient.http import BatchHttpRequest
        from httplib2 import HttpLib2Error

        answers: dict[str, Message | Skip | None] = {}
        pending = list(ids)
        messages = self._users().messages()
        batch_uri = self.session.batch_uri("gmail", "v1")
        attempt = 0
        retry: list[str] = []
        failure = ""

        def answered(request_id: str, response: Any, exception: Exception | None) -> None:
            nonlocal failure
            if exception is None:
                answers[request_id] = self._message(request_id, response)
                return
            status, reason = error_details(exception)
            if status == 401:
                raise AuthError(f"Google refused the credentials of {self.name!r}; "
                                f"run: syncd auth {self.name}")
            if status == 404:
                answers[request_id] = None  # deleted since it was listed
            elif is_transient(status, reason):
                retry.append(request_id)
                failure = f"HTTP {status} {reason}".strip()
            else:
                answers[request_id] = Skip(request_id, f"Gmail refused it (HTTP {status})")

        while pending:
            for start in range(0, len(pending), BATCH_SIZE):
                chunk = pending[start:start + BATCH_SIZE]
                self.bucket.take(GET_UNITS * len(chunk))
                batch = BatchHttpRequest(callback=answered, batch_uri=batch_uri)
                for identifier in chunk:
                    batch.add(messages.get(userId="me", id=identifier, format="metadata",
                                           metadataHeaders=list(METADATA_HEADERS)),
                              request_id=identifier)
                try:
                    batch.execute()
                except HttpError as error:
                    status, reason = error_details(error)
                    if status == 401:
                        raise AuthError(f"Google refused the credentials of {self.name!r}; "
                                        f"run: syncd auth {self.name}") from None
                    if not is_transient(status, reason):
                        raise SourceError(f"Gmail refused a batch (HTTP {status})") from None
                    retry.extend(identifier for identifier in chunk
                                 if identifier not in answers and identifier not in retry)
                    failure = f"HTTP {status} {reason}".strip()
                except RefreshError as error:
                    raise self.session.refused(error) from None
                except (TransportError, HttpLib2Error, OSError) as error:
                    retry.extend(identifier for identifier in chunk
                                 if identifier not in answers and identifier not in retry)
                    failure = type(error).__name__
            pending = list(retry)
            retry.clear()
            if pending:
                attempt += 1
                if attempt >= MAX_ATTEMPTS:
                    raise SourceError(f"Gmail kept failing to send {len(pending)} messages "
                                      f"({failure}) after {MAX_ATTEMPTS} attempts; will retry "
                                      "on the next pass")
                log.info("%s: %d of a page's messages failed (%s); retrying them", self.name,
                         len(pending), failure)
                self.session.backoff.wait(attempt)
        records: list[Message] = []
        skipped: list[Skip] = []
        for identifier in ids:
            answer = answers.get(identifier)
            if isinstance(answer, Message):
                records.append(answer)
            elif isinstance(answer, Skip):
                skipped.append(answer)
        return records, skipped

    def _message(self, identifier: str, response: Mapping[str, Any]) -> Message | Skip | None:
        """Turn one ``format=metadata`` answer into a record (None: an excluded label)."""
        labels = set(response.get("labelIds") or ())
        if "SENT" in labels and "DRAFT" not in labels:
            role = Role.SENT  # mail I sent stays contact whatever else is on it
        elif labels & self.excluded:
            return None
        else:
            role = Role.INBOX if "INBOX" in labels else Role.ARCHIVE
        try:
            received: datetime | None = datetime.fromtimestamp(
                int(response["internalDate"]) / 1000, UTC)
        except (KeyError, ValueError, TypeError, OverflowError, OSError):
            received = None
        headers = response.get("payload", {}).get("headers") or ()
        block = "".join(f"{header.get('name', '')}: {header.get('value', '')}\r\n"
                        for header in headers if header.get("name"))
        return parse_or_skip(block.encode("utf-8", "surrogatepass") + b"\r\n",
                             source_id=identifier, folder_role=role, received=received)
