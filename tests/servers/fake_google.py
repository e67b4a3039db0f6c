"""A fake Google server on loopback, written for the tests: the REST endpoints syncd uses.

It speaks what the real google-api-python-client and google-auth send, so tests exercise the
real client code (discovery, paging, the ``/batch`` multipart format, token refresh):

- OAuth 2.0: ``GET /o/oauth2/auth`` (redirects to the client's loopback ``redirect_uri`` with
  a code, RFC 6749 §4.1.2) and ``POST /token`` (``authorization_code`` with PKCE S256, RFC 7636,
  and ``refresh_token`` grants; a revoked refresh token gets ``400 invalid_grant``).
- Gmail v1: ``users.getProfile``, ``messages.list`` (``labelIds``, ``includeSpamTrash``,
  paging), ``messages.get`` (``format=metadata`` + ``metadataHeaders`` only: the
  ``gmail.metadata`` scope refuses the others), ``history.list`` (404 for a historyId older
  than the oldest kept) and the ``/batch/gmail/v1`` multipart endpoint.
- Calendar v3: ``calendarList.list`` and ``events.list`` (``syncToken``, 410 for an expired
  one, empty pages that still carry a ``nextPageToken``).
- People v1: ``people.connections.list`` (``syncToken``) and ``contactGroups.list``.

Faults: :meth:`FakeGoogle.inject` queues HTTP statuses for the next calls of one endpoint
(``messages.get`` inside batches too), so a test can say "the next three sub-requests get 429".
Every request is counted per endpoint (:attr:`FakeGoogle.calls`) and every Authorization
header seen is kept, so tests can assert what was (not) re-fetched.

Run ``python -m tests.servers.fake_google N`` to serve N generated messages in a process of
its own (the bench does this, so the server's CPU is not counted as the client's).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import secrets
import sys
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

try:  # in the test session, every token issued joins the end-of-session secret sweep
    from secrets_registry import secret as register_secret
except ImportError:  # run as its own process (bench): nothing to register with
    def register_secret(value: str) -> str:
        return value

JsonObject = dict[str, Any]


@dataclass
class FakeMessage:
    id: str
    labels: list[str]
    internal_date: datetime
    headers: list[tuple[str, str]]
    history_id: int


@dataclass
class FakeEvent:
    id: str
    body: JsonObject
    updated: int  # the fake's change counter when last written


@dataclass
class FakePerson:
    resource_name: str
    body: JsonObject
    updated: int
    deleted: bool = False


class HttpFault(Exception):
    def __init__(self, status: int, reason: str = "backendError", message: str = "") -> None:
        super().__init__(status)
        self.status = status
        self.reason = reason
        self.message = message or reason


@dataclass
class FakeGoogle:
    """The state of one fake Google account plus its OAuth clients. Thread-safe."""

    email: str = "me@gmail.com"
    client_id: str = "fake-client.apps.googleusercontent.com"
    client_secret: str = "fake-client-secret"
    base: str = ""
    messages: dict[str, FakeMessage] = field(default_factory=dict)
    history: list[tuple[int, str]] = field(default_factory=list)
    history_id: int = 1000
    oldest_history_id: int = 0
    calls: Counter[str] = field(default_factory=Counter)
    authorizations: list[str] = field(default_factory=list)
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # token -> scope
    access_tokens: set[str] = field(default_factory=set)
    refresh_tokens_issued: list[str] = field(default_factory=list)
    access_tokens_issued: list[str] = field(default_factory=list)
    granted_scopes: list[str] = field(default_factory=list)
    calendars: dict[str, JsonObject] = field(default_factory=dict)
    events: dict[str, dict[str, FakeEvent]] = field(default_factory=lambda: defaultdict(dict))
    people: dict[str, FakePerson] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)  # resourceName -> name
    #: Gmail user labels: id -> name (system labels are listed too, by their ids).
    labels: dict[str, str] = field(default_factory=dict)
    change: int = 1
    #: Sync tokens (Calendar, People) issued at or before this change are expired (410).
    sync_floor: int = 0
    empty_pages: int = 0  # events.list: this many empty pages (with nextPageToken) first
    #: Seconds each batch waits before answering (lets a test kill a client mid-sync).
    batch_delay: float = 0.0
    _faults: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    _codes: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    # --- test-facing setup ------------------------------------------------------------------

    def inject(self, endpoint: str, *statuses: int) -> None:
        """Answer the next calls of ``endpoint`` (``messages.get``, ``messages.list``,
        ``batch``, ``history.list``, ``events.list``, ``token`` ...) with these statuses.

        403 comes as ``rateLimitExceeded``, 429 as ``RESOURCE_EXHAUSTED``, 5xx as backend errors.
        """
        with self._lock:
            self._faults[endpoint].extend(statuses)

    def _fault(self, endpoint: str) -> None:
        with self._lock:
            self.calls[endpoint] += 1
            queue = self._faults.get(endpoint)
            status = queue.pop(0) if queue else None
        if status is not None:
            reason = {403: "rateLimitExceeded", 429: "rateLimitExceeded"}.get(status,
                                                                             "backendError")
            raise HttpFault(status, reason)

    def add_message(self, *, sender: str, to: str = "", cc: str = "", date: str | None = None,
                    labels: tuple[str, ...] = ("INBOX",), message_id: str | None = None,
                    internal_date: datetime | None = None,
                    extra: tuple[tuple[str, str], ...] = ()) -> str:
        """Add a message (newest first in listings) and a ``messageAdded`` history record."""
        with self._lock:
            number = next(self._counter)
            message_id_value = message_id if message_id is not None else f"<m{number}@fake>"
            internal = internal_date or datetime(2025, 1, 1, tzinfo=UTC).replace(
                minute=number % 60, hour=(number // 60) % 24)
            headers = [("From", sender)]
            if to:
                headers.append(("To", to))
            if cc:
                headers.append(("Cc", cc))
            headers.append(("Date", date if date is not None else format_datetime(internal)))
            if message_id_value:
                headers.append(("Message-ID", message_id_value))
            headers.append(("Subject", f"message {number}"))
            headers.extend(extra)
            self.history_id += 1
            identifier = f"{number:016x}"
            self.messages[identifier] = FakeMessage(identifier, list(labels), internal,
                                                    headers, self.history_id)
            self.history.append((self.history_id, identifier))
            return identifier

    def add_raw(self, raw: bytes, labels: tuple[str, ...] = ("INBOX",)) -> str:
        """Add a message given as an RFC 5322 header block (folded lines joined)."""
        head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("utf-8", "replace")
        headers = []
        for line in head.split("\n"):
            if line[:1] in (" ", "\t") and headers:
                headers[-1] = (headers[-1][0], headers[-1][1] + " " + line.strip())
            elif ":" in line:
                name, _, value = line.partition(":")
                headers.append((name.strip(), value.strip()))
        with self._lock:
            number = next(self._counter)
            self.history_id += 1
            identifier = f"{number:016x}"
            self.messages[identifier] = FakeMessage(
                identifier, list(labels), datetime(2024, 3, 2, tzinfo=UTC), headers,
                self.history_id)
            self.history.append((self.history_id, identifier))
            return identifier

    def forget_history(self) -> None:
        """Make every historyId issued so far too old (history.list answers 404)."""
        with self._lock:
            self.history_id += 1
            self.oldest_history_id = self.history_id

    def revoke(self) -> None:
        """Revoke every refresh and access token (the user removed the app's access)."""
        with self._lock:
            self.refresh_tokens.clear()
            self.access_tokens.clear()

    def issue_refresh_token(self, scope: str) -> str:
        """Return a refresh token valid for ``scope`` (as if the user had consented)."""
        token = "1//fake-refresh-" + secrets.token_urlsafe(12)
        with self._lock:
            self.refresh_tokens[token] = scope
            self.refresh_tokens_issued.append(token)
        register_secret(token)
        return token

    def add_event(self, calendar: str, body: JsonObject) -> None:
        """Add or replace an event (``body`` as the API returns it; ``id`` required)."""
        with self._lock:
            self.change += 1
            self.events[calendar][body["id"]] = FakeEvent(body["id"], dict(body), self.change)

    def expire_sync_tokens(self) -> None:
        """Make every Calendar and People sync token issued so far expired."""
        with self._lock:
            self.sync_floor = self.change

    def delete_event(self, calendar: str, identifier: str) -> None:
        """Delete an event: sync listings return it with status "cancelled"."""
        with self._lock:
            self.change += 1
            event = self.events[calendar][identifier]
            event.body = {"id": identifier, "status": "cancelled",
                          **{key: event.body[key] for key in ("recurringEventId",
                                                              "originalStartTime")
                             if key in event.body}}
            event.updated = self.change

    def add_person(self, resource_name: str, body: JsonObject) -> None:
        with self._lock:
            self.change += 1
            self.people[resource_name] = FakePerson(resource_name, dict(body), self.change)

    def delete_person(self, resource_name: str) -> None:
        with self._lock:
            self.change += 1
            person = self.people[resource_name]
            person.deleted = True
            person.updated = self.change

    def client_secrets(self) -> JsonObject:
        """The client_secret.json of a "Desktop app" OAuth client of this server."""
        return {"installed": {
            "client_id": self.client_id, "client_secret": self.client_secret,
            "auth_uri": f"{self.base}o/oauth2/auth", "token_uri": f"{self.base}token",
            "redirect_uris": ["http://localhost"]}}

    # --- request handling -------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes
               ) -> tuple[int, dict[str, str], bytes]:
        parsed = urllib.parse.urlsplit(target)
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        path = parsed.path
        try:
            if path == "/o/oauth2/auth":
                return self._authorize(query)
            if path == "/token" and method == "POST":
                return self._token(headers, body)
            self._check_bearer(headers)
            if path == "/batch/gmail/v1" and method == "POST":
                return self._batch(headers, body)
            return 200, {"Content-Type": "application/json"}, json.dumps(
                self._api(method, path, query)).encode()
        except HttpFault as fault:
            return fault.status, {"Content-Type": "application/json"}, json.dumps(
                {"error": {"code": fault.status, "message": fault.message,
                           "errors": [{"reason": fault.reason, "message": fault.message}],
                           "status": "PERMISSION_DENIED" if fault.status == 403 else "ERROR"}}
            ).encode()

    def _check_bearer(self, headers: dict[str, str]) -> None:
        authorization = headers.get("authorization", "")
        self.authorizations.append(authorization)
        token = authorization.removeprefix("Bearer ")
        with self._lock:
            if token not in self.access_tokens:
                raise HttpFault(401, "authError", "Invalid Credentials")

    def _authorize(self, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        redirect = query["redirect_uri"][0]
        if query.get("client_id", [""])[0] != self.client_id:
            raise HttpFault(401, "invalid_client")
        code = "4/fake-code-" + secrets.token_urlsafe(8)
        scope = query.get("scope", [""])[0]
        with self._lock:
            self.granted_scopes.append(scope)
            self._codes[code] = (redirect, query.get("code_challenge", [""])[0], scope)
        location = redirect + ("&" if "?" in redirect else "?") + urllib.parse.urlencode(
            {"state": query.get("state", [""])[0], "code": code, "scope": scope})
        return 302, {"Location": location}, b""

    def _token(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        form = {key: values[0] for key, values in
                urllib.parse.parse_qs(body.decode(), keep_blank_values=True).items()}
        basic = headers.get("authorization", "")
        if basic.startswith("Basic "):
            # Client credentials in HTTP Basic auth (RFC 6749 §2.3.1), as requests-oauthlib sends.
            client_id, _, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
            form["client_id"] = urllib.parse.unquote_plus(client_id)
            form["client_secret"] = urllib.parse.unquote_plus(client_secret)
        self._fault("token")
        if (form.get("client_id") != self.client_id
                or form.get("client_secret") != self.client_secret):
            return _json(401, {"error": "invalid_client"})
        access = "ya29.fake-access-" + secrets.token_urlsafe(12)
        self.access_tokens_issued.append(access)
        register_secret(access)
        if form.get("grant_type") == "authorization_code":
            with self._lock:
                entry = self._codes.pop(form.get("code", ""), None)
            if entry is None or entry[0] != form.get("redirect_uri"):
                return _json(400, {"error": "invalid_grant",
                                   "error_description": "Malformed auth code."})
            verifier = form.get("code_verifier", "").encode()
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
            if entry[1] and challenge.decode() != entry[1]:
                return _json(400, {"error": "invalid_grant",
                                   "error_description": "Invalid code verifier."})
            refresh = self.issue_refresh_token(entry[2])
            with self._lock:
                self.access_tokens.add(access)
            return _json(200, {"access_token": access, "expires_in": 3599,
                               "refresh_token": refresh, "scope": entry[2],
                               "token_type": "Bearer"})
        if form.get("grant_type") == "refresh_token":
            with self._lock:
                scope = self.refresh_tokens.get(form.get("refresh_token", ""))
                if scope is not None:
                    self.access_tokens.add(access)
            if scope is None:
                return _json(400, {"error": "invalid_grant",
                                   "error_description": "Token has been expired or revoked."})
            return _json(200, {"access_token": access, "expires_in": 3599, "scope": scope,
                               "token_type": "Bearer"})
        return _json(400, {"error": "unsupported_grant_type"})

    def _api(self, method: str, path: str, query: dict[str, list[str]]) -> JsonObject:
        parts = path.strip("/").split("/")
        if parts[:3] == ["gmail", "v1", "users"] and method == "GET":
            rest = parts[4:]
            if rest == ["profile"]:
                self._fault("users.getProfile")
                with self._lock:
                    return {"emailAddress": self.email, "messagesTotal": len(self.messages),
                            "threadsTotal": len(self.messages),
                            "historyId": str(self.history_id)}
            if rest == ["messages"]:
                return self._list_messages(query)
            if rest == ["labels"]:
                self._fault("labels.list")
                system = ("INBOX", "SENT", "SPAM", "TRASH", "DRAFT", "STARRED", "IMPORTANT",
                          "UNREAD", "CATEGORY_PERSONAL", "CATEGORY_SOCIAL",
                          "CATEGORY_PROMOTIONS", "CATEGORY_UPDATES", "CATEGORY_FORUMS")
                return {"labels": [*({"id": label, "name": label, "type": "system"}
                                     for label in system),
                                   *({"id": key, "name": name, "type": "user"}
                                     for key, name in self.labels.items())]}
            if len(rest) == 2 and rest[0] == "messages":
                return self._get_message(rest[1], query)
            if rest == ["history"]:
                return self._history(query)
        if parts[:2] == ["calendar", "v3"] and method == "GET":
            rest = parts[2:]
            if rest == ["users", "me", "calendarList"]:
                self._fault("calendarList.list")
                with self._lock:
                    return {"items": list(self.calendars.values())}
            if len(rest) == 3 and rest[0] == "calendars" and rest[2] == "events":
                return self._events(urllib.parse.unquote(rest[1]), query)
        if parts == ["v1", "people", "me", "connections"] and method == "GET":
            return self._connections(query)
        if parts == ["v1", "contactGroups"] and method == "GET":
            self._fault("contactGroups.list")
            with self._lock:
                # System groups keep a fixed name and a localized formattedName.
                return {"contactGroups": [
                    {"resourceName": key, "name": name,
                     "formattedName": name[0].upper() + name[1:] if key[14:] == name else name,
                     "groupType": "SYSTEM_CONTACT_GROUP" if key[14:] == name
                     else "USER_CONTACT_GROUP"}
                    for key, name in self.groups.items()]}
        raise HttpFault(404, "notFound", f"no such endpoint: {method} {path}")

    def _list_messages(self, query: dict[str, list[str]]) -> JsonObject:
        self._fault("messages.list" + (".page" if query.get("pageToken") else ""))
        if "q" in query:
            raise HttpFault(403, "forbidden", "Metadata scope does not support 'q' parameter")
        wanted = set(query.get("labelIds", []))
        include_spam_trash = query.get("includeSpamTrash", ["false"])[0] == "true"
        size = min(int(query.get("maxResults", ["100"])[0]), 500)
        offset = int(query.get("pageToken", ["0"])[0] or 0)
        with self._lock:
            listed = [message for message in reversed(self.messages.values())
                      if wanted <= set(message.labels)
                      and (include_spam_trash or not {"SPAM", "TRASH"} & set(message.labels))]
        page = listed[offset:offset + size]
        answer: JsonObject = {"resultSizeEstimate": len(listed)}
        if page:
            answer["messages"] = [{"id": message.id, "threadId": message.id}
                                  for message in page]
        if offset + size < len(listed):
            answer["nextPageToken"] = str(offset + size)
        return answer

    def _get_message(self, identifier: str, query: dict[str, list[str]]) -> JsonObject:
        self._fault("messages.get")
        self._fault(f"messages.get {identifier}")  # one message's faults: "messages.get ID"
        if query.get("format", ["full"])[0] != "metadata":
            raise HttpFault(403, "forbidden",
                            "Metadata scope doesn't allow format FULL")
        with self._lock:
            message = self.messages.get(identifier)
        if message is None:
            raise HttpFault(404, "notFound", "Requested entity was not found.")
        wanted = {name.lower() for name in query.get("metadataHeaders", [])}
        return {"id": message.id, "threadId": message.id, "labelIds": message.labels,
                "snippet": "", "sizeEstimate": 1000, "historyId": str(message.history_id),
                "internalDate": str(int(message.internal_date.timestamp() * 1000)),
                "payload": {"mimeType": "text/plain", "headers": [
                    {"name": name, "value": value} for name, value in message.headers
                    if not wanted or name.lower() in wanted]}}

    def _history(self, query: dict[str, list[str]]) -> JsonObject:
        self._fault("history.list")
        start = int(query["startHistoryId"][0])
        size = int(query.get("maxResults", ["100"])[0])
        offset = int(query.get("pageToken", ["0"])[0] or 0)
        with self._lock:
            if start < self.oldest_history_id:
                raise HttpFault(404, "notFound", "Requested entity was not found.")
            records = [(history_id, identifier) for history_id, identifier in self.history
                       if history_id > start]
            current = self.history_id
        page = records[offset:offset + size]
        answer: JsonObject = {"historyId": str(current)}
        if page:
            answer["history"] = [
                {"id": str(history_id), "messages": [{"id": identifier, "threadId": identifier}],
                 "messagesAdded": [{"message": {"id": identifier, "threadId": identifier}}]}
                for history_id, identifier in page]
        if offset + size < len(records):
            answer["nextPageToken"] = str(offset + size)
        return answer

    def _events(self, calendar: str, query: dict[str, list[str]]) -> JsonObject:
        self._fault("events.list")
        if calendar == "primary":
            calendar = self.email
        sync_token = query.get("syncToken", [""])[0]
        if sync_token and ("timeMin" in query or "timeMax" in query):
            raise HttpFault(400, "invalid", "Sync token cannot be combined with timeMin")
        since = int(sync_token.removeprefix("s")) if sync_token else 0
        if sync_token and since <= self.sync_floor:
            raise HttpFault(410, "fullSyncRequired", "Sync token is no longer valid")
        page_token = query.get("pageToken", [""])[0]
        size = int(query.get("maxResults", ["250"])[0])
        with self._lock:
            if calendar not in self.calendars and calendar not in self.events:
                raise HttpFault(404, "notFound", "Not Found")
            events = sorted((event for event in self.events.get(calendar, {}).values()
                             if event.updated > since), key=lambda event: event.updated)
            if not sync_token:
                events = [event for event in events if event.body.get("status") != "cancelled"]
            current = self.change
        empty, offset = (int(part) for part in (page_token or "0.0").split("."))
        if empty < self.empty_pages:
            return {"items": [], "nextPageToken": f"{empty + 1}.{offset}"}
        page = events[offset:offset + size]
        answer: JsonObject = {"items": [event.body for event in page]}
        if offset + size < len(events):
            answer["nextPageToken"] = f"{empty}.{offset + size}"
        else:
            answer["nextSyncToken"] = f"s{current}"
        return answer

    def _connections(self, query: dict[str, list[str]]) -> JsonObject:
        self._fault("connections.list")
        sync_token = query.get("syncToken", [""])[0]
        since = int(sync_token.removeprefix("p")) if sync_token else 0
        if sync_token and since <= self.sync_floor:
            # People API: an expired sync token fails with reason EXPIRED_SYNC_TOKEN.
            raise HttpFault(400, "failedPrecondition", "EXPIRED_SYNC_TOKEN")
        offset = int(query.get("pageToken", ["0"])[0] or 0)
        size = int(query.get("pageSize", ["100"])[0])
        with self._lock:
            people = sorted((person for person in self.people.values()
                             if person.updated > since and (sync_token or not person.deleted)),
                            key=lambda person: person.updated)
            current = self.change
        page = people[offset:offset + size]
        items = []
        for person in page:
            body = {"resourceName": person.resource_name, "etag": f"e{person.updated}",
                    **({"metadata": {"deleted": True}} if person.deleted else person.body)}
            items.append(body)
        answer: JsonObject = {"connections": items, "totalPeople": len(people)}
        if offset + size < len(people):
            answer["nextPageToken"] = str(offset + size)
        elif query.get("requestSyncToken", ["false"])[0] == "true":
            answer["nextSyncToken"] = f"p{current}"
        return answer

    def _batch(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Answer a multipart/mixed batch (https://developers.google.com/gmail/api/guides/batch).

        Each part is one ``application/http`` request; each answer part carries the
        ``Content-ID`` ``<response-ID>`` of its request.
        """
        self._fault("batch")
        if self.batch_delay:
            time.sleep(self.batch_delay)
        content_type = headers.get("content-type", "")
        boundary = content_type.split("boundary=", 1)[1].strip('"')
        answers = []
        for part in body.decode().split(f"--{boundary}")[1:]:
            if part.startswith("--"):
                break
            head, _, inner = part.replace("\r\n", "\n").partition("\n\n")
            content_id = next(line.split(":", 1)[1].strip() for line in head.splitlines()
                              if line.lower().startswith("content-id:"))
            request_line, _, rest = inner.strip("\n").partition("\n")
            inner_headers = {}
            for line in rest.split("\n\n", 1)[0].splitlines():
                name, _, value = line.partition(":")
                inner_headers[name.strip().lower()] = value.strip()
            method, target, _ = request_line.split(" ", 2)
            status, _, payload = self.handle(method, target, inner_headers, b"")
            reason = {200: "OK", 404: "Not Found", 429: "Too Many Requests",
                      403: "Forbidden", 401: "Unauthorized"}.get(status, "Error")
            answers.append(
                f"--batch_fake\r\nContent-Type: application/http\r\n"
                f"Content-ID: <response-{content_id[1:-1]}>\r\n\r\n"
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=UTF-8"
                f"\r\n\r\n{payload.decode()}\r\n")
        answer = ("".join(answers) + "--batch_fake--\r\n").encode()
        return 200, {"Content-Type": "multipart/mixed; boundary=batch_fake"}, answer


def _json(status: int, value: JsonObject) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(value).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One write per answer and no Nagle: otherwise a kept-alive connection waits ~40 ms for
    # a delayed ACK between the header and body writes.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    fake: FakeGoogle

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, answer_headers, payload = self.fake.handle(self.command, self.path, headers,
                                                           body)
        self.send_response(status)
        for name, value in answer_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _serve  # noqa: N815 - http.server names its hooks so
    do_POST = _serve  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class RunningFake:
    """A fake served on 127.0.0.1 in a thread of this process."""

    fake: FakeGoogle
    server: ThreadingHTTPServer
    thread: threading.Thread

    @property
    def base(self) -> str:
        return self.fake.base

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def serve(fake: FakeGoogle | None = None, port: int = 0) -> RunningFake:
    """Start ``fake`` (a new one by default) on 127.0.0.1 in a daemon thread."""
    fake = fake or FakeGoogle()
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    fake.base = f"http://127.0.0.1:{server.server_port}/"
    thread = threading.Thread(target=server.serve_forever, name="fake-google", daemon=True)
    thread.start()
    return RunningFake(fake, server, thread)


def fill_mailbox(fake: FakeGoogle, count: int, *, me: str = "me@gmail.com") -> None:
    """Add ``count`` messages: every fifth one sent by me, the rest from 200 correspondents."""
    for number in range(count):
        friend = f"friend{number % 200}@example.org"
        if number % 5 == 0:
            fake.add_message(sender=me, to=friend, labels=("SENT",))
        else:
            fake.add_message(sender=friend, to=me, labels=("INBOX", "CATEGORY_PERSONAL"))


def main(argv: list[str]) -> None:
    """Serve N generated messages; print the base URL, client id/secret and a refresh token."""
    count = int(argv[1]) if len(argv) > 1 else 1000
    running = serve()
    fill_mailbox(running.fake, count)
    refresh = running.fake.issue_refresh_token(
        "https://www.googleapis.com/auth/gmail.metadata")
    print(json.dumps({"base": running.base, "refresh_token": refresh,
                      "client_secrets": running.fake.client_secrets()}), flush=True)
    try:
        sys.stdin.read()
    finally:
        running.stop()


if __name__ == "__main__":
    main(sys.argv)

