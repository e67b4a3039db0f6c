"""Google OAuth and API calls shared by the Gmail, Google Calendar and Google Contacts sources.

- **Client**: the user's own "Desktop app" OAuth client, read from their ``client_secret.json``
  (``auth_uri`` and ``token_uri`` come from it, as Google's libraries read them). syncd embeds
  no client secret.
- **Token**: one refresh token per account (``token_name("google", account or client id)``),
  kept by :class:`syncd.token_store.TokenStore` as JSON with the client's ``token_uri``, so
  every refresh after a restart goes to the same endpoint (a Google-compatible server or the
  tests' fake works too). Access tokens are never stored. Tokens never reach logs or errors.
- **Scopes**: only those the configured Google sources need (:data:`SCOPES`);
  ``calendar.events.readonly`` cannot list calendars, so calendars ask ``calendar.readonly``.
- **Failures**: ``invalid_grant`` (revoked, expired, password changed) is permanent:
  :class:`~syncd.errors.AuthError` ("run: syncd auth NAME"), the source pauses, nothing is
  retried. 429, 403 ``rateLimitExceeded``/``userRateLimitExceeded``, 5xx and network errors are
  transient: retried with exponential backoff, then a :class:`~syncd.errors.SourceError`.
- **Threads**: httplib2 is not thread-safe, so a :class:`GoogleSession` builds one service object
  per thread (https://googleapis.github.io/google-api-python-client/docs/thread_safety.html).

Library types (credentials, HttpError, service objects) never leave the connectors that use this
module.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from syncd.errors import AuthError, CredentialError, SourceError
from syncd.token_store import Saved, TokenStore, token_name

log = logging.getLogger(__name__)

GMAIL_SCOPE = "https://www.googleapis.com/auth/gmail.metadata"
CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar.readonly"
CONTACTS_SCOPE = "https://www.googleapis.com/auth/contacts.readonly"
#: The one scope each Google source type needs, nothing broader.
SCOPES: Mapping[str, str] = {
    "gmail": GMAIL_SCOPE,
    "google_calendar": CALENDAR_SCOPE,
    "google_contacts": CONTACTS_SCOPE,
}
GOOGLE_TYPES = frozenset(SCOPES)
#: The option the app adds to a Google source's options: where its token store lives.
STATE_DIR_OPTION = "state_dir"

#: Statuses worth retrying (Gmail "Resolve errors" guide; Calendar "Handle API errors").
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"})
MAX_ATTEMPTS = 6
HTTP_TIMEOUT_SECONDS = 60.0


class ApiRefused(SourceError):
    """Google answered a call with a status that retrying will not change (``status``)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def auth_hint(source: str) -> str:
    return f"run: syncd auth {source}"


def refusal(source: str, error: Exception) -> AuthError:
    """Return the AuthError for a grant Google refused; its message never holds a token."""
    kind = "invalid_grant" if "invalid_grant" in str(error) else "refused"
    return AuthError(f"Google refused the stored authorization of {source!r} ({kind}: revoked, "
                     f"expired or the password changed); {auth_hint(source)}")


# --- the client -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientSecrets:
    """The parts of a ``client_secret.json`` syncd uses ("installed" or "web" client)."""

    client_id: str
    client_secret: str
    auth_uri: str
    token_uri: str
    config: Mapping[str, Any]  # the whole file, as google-auth-oauthlib wants it


def read_client_secrets(path: str | os.PathLike[str]) -> ClientSecrets:
    """Read the user's OAuth client file.

    Raise :class:`CredentialError` with the fix when it is missing or not a client file.
    """
    how = ("create a \"Desktop app\" OAuth client in the Google Cloud console "
           "(APIs & Services > Credentials) and download its JSON")
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CredentialError(f"no OAuth client file at {path}; {how}") from None
    except (OSError, ValueError) as error:
        raise CredentialError(f"cannot read the OAuth client file {path} "
                              f"({type(error).__name__}); {how}") from None
    client = data.get("installed") or data.get("web") if isinstance(data, dict) else None
    keys = ("client_id", "client_secret", "auth_uri", "token_uri")
    if not isinstance(client, dict) or not all(isinstance(client.get(key), str)
                                               for key in keys):
        raise CredentialError(f"{path} is not an OAuth client file (it needs an \"installed\" "
                              f"section with {', '.join(keys)}); {how}")
    return ClientSecrets(client["client_id"], client["client_secret"], client["auth_uri"],
                         client["token_uri"], data)


def account_token_name(options: Mapping[str, Any], client: ClientSecrets) -> str:
    """Return the token name of a source: by ``account`` when set, else by client id.

    Sources with the same account (or, without one, the same client) share one token.
    """
    return token_name("google", options.get("account") or client.client_id)


def token_store(options: Mapping[str, Any]) -> TokenStore:
    from syncd.paths import default_state_dir

    state_dir = options.get(STATE_DIR_OPTION)
    return TokenStore(Path(state_dir) if state_dir else default_state_dir())


# --- syncd auth -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Authorized:
    """What ``syncd auth`` tells the user: which token, which scopes, where it went."""

    name: str
    scopes: tuple[str, ...]
    saved: Saved


def _loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


class _Redirects:
    """A loopback HTTP server that receives the authorization redirect (RFC 8252 §7.3)."""

    def __init__(self, deliver: Callable[[str], None]) -> None:
        from http.server import BaseHTTPRequestHandler, HTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = b"syncd: authorization received; you may close this window.\n"
                if "code=" not in self.path and "error=" not in self.path:
                    self.send_response(404)
                    body = b"not an authorization redirect\n"
                else:
                    self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                if b"received" in body:
                    deliver(f"http://localhost:{port()}{self.path}")

            def log_message(self, format: str, *args: Any) -> None:
                # The query holds the authorization code: never logged.
                pass

        def port() -> int:
            return self.port

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       name="oauth-redirect")
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def _tokens_unlogged() -> Iterator[None]:
    """Keep requests-oauthlib quiet while it holds tokens: at DEBUG it logs the whole token
    response ("Obtained token {...}"), access and refresh tokens included."""
    loggers = [logging.getLogger(name) for name in ("requests_oauthlib", "oauthlib")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@contextlib.contextmanager
def _loopback_http(client: ClientSecrets) -> Iterator[None]:
    """Let oauthlib talk plain http to endpoints on this machine (a test server), never to
    others: it refuses non-https URLs unless OAUTHLIB_INSECURE_TRANSPORT is set."""
    if not (_loopback(client.auth_uri) and _loopback(client.token_uri)):
        yield
        return
    previous = os.environ.get("OAUTHLIB_INSECURE_TRANSPORT")
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("OAUTHLIB_INSECURE_TRANSPORT", None)
        else:
            os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = previous


def authorize(client_secrets: str | os.PathLike[str], scopes: Iterable[str], name: str,
              store: TokenStore, *, show_url: Callable[[str], None],
              open_browser: bool = True, pasted: Callable[[], str | None] | None = None,
              login_hint: str | None = None, timeout: float = 600.0) -> Authorized:
    """Run the installed-app flow with a loopback redirect and store the refresh token.

    ``show_url`` is given the authorization URL (the CLI prints it). The redirect is awaited
    on 127.0.0.1; ``pasted``, when given, is called in a thread and may return the final
    redirected URL the user copied from a browser on another machine (either arrives first).
    ``login_hint`` names the account to sign in with. Return where the token went. Raise
    :class:`CredentialError` when the user refused, the wait timed out, or the token endpoint
    refused the code.
    """
    import queue

    from google_auth_oauthlib.flow import InstalledAppFlow

    client = read_client_secrets(client_secrets)
    wanted = tuple(sorted(set(scopes)))
    arrived: queue.Queue[str] = queue.Queue()
    redirects = _Redirects(arrived.put)
    with contextlib.closing(redirects), _loopback_http(client), _tokens_unlogged():
        flow = InstalledAppFlow.from_client_config(dict(client.config), scopes=list(wanted))
        # Google accepts any port on a loopback redirect for Desktop clients (RFC 8252 §7.3).
        flow.redirect_uri = f"http://localhost:{redirects.port}/"
        hint = {"login_hint": login_hint} if login_hint else {}
        url, _state = flow.authorization_url(access_type="offline", prompt="consent", **hint)
        show_url(url)
        if open_browser:
            import webbrowser

            webbrowser.open(url, new=1)
        if pasted is not None:
            def read_pasted() -> None:
                answer = pasted()
                if answer and answer.strip():
                    arrived.put(answer.strip())
            threading.Thread(target=read_pasted, daemon=True, name="oauth-paste").start()
        try:
            response = arrived.get(timeout=timeout)
        except queue.Empty:
            raise CredentialError(f"no authorization arrived in {timeout:.0f} s; run the "
                                  "command again") from None
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(response).query)
        if "error" in query:
            raise CredentialError(f"Google said {query['error'][0]!r}: authorization refused")
        if "code" not in query:
            raise CredentialError("that is not the redirected URL: it has no code= in it; "
                                  "copy the whole address the browser shows after consenting")
        try:
            # oauthlib insists on https for the response URL (the loopback one is http by
            # design, RFC 8252 §8.3); see _loopback_http for the endpoints.
            flow.fetch_token(authorization_response=response.replace("http://", "https://", 1))
        except Exception as error:
            raise CredentialError(f"the token endpoint refused the authorization "
                                  f"({type(error).__name__}); run the command again") from None
        credentials = flow.credentials
    if not credentials.refresh_token:
        raise CredentialError("Google sent no refresh token; remove syncd's access at "
                              "myaccount.google.com/permissions and run the command again")
    granted = tuple(sorted(credentials.granted_scopes or wanted))
    stored = {"refresh_token": credentials.refresh_token, "token_uri": client.token_uri,
              "client_id": client.client_id, "client_secret": client.client_secret,
              "scopes": list(granted)}
    return Authorized(name, granted, store.save(name, json.dumps(stored)))


# --- calls --------------------------------------------------------------------------------------


def error_details(error: Exception) -> tuple[int, str]:
    """Return (HTTP status, Google's error reason) of an ``HttpError`` (0, "" otherwise)."""
    response = getattr(error, "resp", None)
    status = int(getattr(response, "status", 0) or 0)
    reason = ""
    content = getattr(error, "content", b"")
    try:
        body = json.loads(content.decode("utf-8") if isinstance(content, bytes) else content)
        errors = body.get("error", {}).get("errors") or [{}]
        reason = str(errors[0].get("reason") or body["error"].get("status") or "")
    except (ValueError, AttributeError, TypeError, KeyError):
        pass
    return status, reason


def is_transient(status: int, reason: str) -> bool:
    """True for errors Google says to retry with backoff (429, 403 rate limits, 5xx)."""
    return status in RETRY_STATUSES or (status == 403 and reason in RATE_REASONS)


@dataclass
class Backoff:
    """Exponential backoff with full jitter; ``sleep`` is injected for tests."""

    base: float = 1.0
    ceiling: float = 32.0
    sleep: Callable[[float], None] = time.sleep

    def wait(self, attempt: int) -> None:
        self.sleep(random.uniform(0, min(self.ceiling, self.base * 2 ** attempt)))


@dataclass
class TokenBucket:
    """A client-side rate limit: ``rate`` quota units per second, bursts up to ``capacity``.

    Gmail allows 15,000 units per user per minute (250/s); ``messages.get`` costs 5
    (https://developers.google.com/gmail/api/reference/quota). Staying under it makes 429s
    the exception rather than the pacing mechanism. ``rate = 0`` turns it off.
    """

    rate: float
    capacity: float = 0.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _level: float = field(default=0.0, init=False)
    _at: float | None = field(default=None, init=False)

    def take(self, units: float) -> None:
        """Wait until ``units`` are available and spend them."""
        if self.rate <= 0:
            return
        capacity = max(self.capacity or self.rate, units)
        now = self.clock()
        if self._at is None:
            # Start empty: the rate over any stretch from the first call on stays under the
            # ceiling (a full bucket at the start would let a short sync run ~20% over it).
            self._level, self._at = 0.0, now
        self._level = min(capacity, self._level + (now - self._at) * self.rate)
        self._at = now
        self._level -= units
        if self._level < 0:
            # Spend now, wait out the debt: the next caller sees a level that already paid it.
            self.sleep(-self._level / self.rate)


class StoredGrant:
    """One stored Google grant and the access tokens refreshed from it.

    The one refresh path of every Google sign-in: the API sources (:class:`GoogleSession`) and
    IMAP's ``oauth_provider = "google"`` (:mod:`connectors.google._imap_oauth`). The grant is
    the JSON :func:`authorize` stores under ``name``; ``scope`` must be among its scopes.
    Credentials are google-auth's, refreshed at the grant's own ``token_uri``.
    """

    def __init__(self, source: str, client_secrets: str | os.PathLike[str], name: str,
                 scope: str, store: TokenStore) -> None:
        self.source = source
        self.client_secrets = client_secrets
        self.name = name
        self.scope = scope
        self.store = store
        self.backoff = Backoff()
        self._credentials: Any = None
        self._lock = threading.Lock()

    def credentials(self, *, fresh: bool = False) -> Any:
        """Return google-auth credentials with an access token that is still valid, refreshed
        when there is none yet, it expired, or ``fresh`` (the server refused it).

        Raise :class:`AuthError` (pause, "run: syncd auth NAME") when there is no grant, it
        lacks ``scope``, or Google refuses it; :class:`SourceError` when the token endpoint
        stays unreachable.
        """
        with self._lock:
            if self._credentials is None:
                self._credentials = self._load()
            if fresh or not self._credentials.valid:
                self._refresh(self._credentials)
            return self._credentials

    def _load(self) -> Any:
        from google.oauth2.credentials import Credentials

        try:
            client = read_client_secrets(self.client_secrets)
        except CredentialError as error:
            raise SourceError(str(error)) from None
        text = self.store.load(self.name)
        if text is None:
            raise AuthError(f"source {self.source!r} has no Google authorization yet; "
                            f"{auth_hint(self.source)}")
        try:
            info = json.loads(text)
            scopes = list(info.get("scopes") or [])
            # Built directly, not with Credentials.from_authorized_user_info: google-auth 2.x
            # replaces the stored token_uri by Google's there ("always overrides"), and every
            # refresh must go to the endpoint the token came from.
            credentials = Credentials(  # type: ignore[no-untyped-call]
                None, refresh_token=str(info["refresh_token"]),
                token_uri=str(info.get("token_uri") or client.token_uri),
                client_id=str(info.get("client_id") or client.client_id),
                client_secret=str(info.get("client_secret") or client.client_secret),
                scopes=scopes)
        except (ValueError, TypeError, AttributeError, KeyError):
            raise AuthError(f"the stored Google authorization of {self.source!r} is unreadable;"
                            f" {auth_hint(self.source)}") from None
        if self.scope not in scopes:
            raise AuthError(f"the stored Google authorization does not allow {self.scope} "
                            f"(needed by {self.source!r}); {auth_hint(self.source)}")
        return credentials

    def _refresh(self, credentials: Any) -> None:
        from google.auth.exceptions import RefreshError, TransportError
        from google.auth.transport.requests import Request

        for attempt in range(MAX_ATTEMPTS):
            try:
                credentials.refresh(Request())
                return
            except RefreshError as error:
                if not getattr(error, "retryable", False) or attempt == MAX_ATTEMPTS - 1:
                    raise self.refused(error) from None
            except TransportError:
                if attempt == MAX_ATTEMPTS - 1:
                    raise SourceError("Google's token endpoint cannot be reached; will retry "
                                      "on the next pass") from None
            log.info("%s: token refresh failed (attempt %d); backing off", self.source,
                     attempt + 1)
            self.backoff.wait(attempt)

    def refused(self, error: Exception) -> AuthError:
        """Return the AuthError for a refused refresh."""
        return refusal(self.source, error)


class GoogleSession:
    """Credentials of one API source plus one service object per thread and API."""

    def __init__(self, source: str, options: Mapping[str, Any], scope: str) -> None:
        self.source = source
        self.options = options
        self.scope = scope
        self.endpoint: str | None = options.get("api_endpoint")
        self.backoff = Backoff()
        self._local = threading.local()
        self._grant: StoredGrant | None = None

    def credentials(self) -> Any:
        """Return google-auth credentials with a fresh access token (see
        :meth:`StoredGrant.credentials` for what it raises)."""
        if self._grant is None:
            try:
                client = read_client_secrets(self.options["client_secrets"])
            except CredentialError as error:
                raise SourceError(str(error)) from None
            self._grant = StoredGrant(self.source, self.options["client_secrets"],
                                      account_token_name(self.options, client), self.scope,
                                      token_store(self.options))
            self._grant.backoff = self.backoff
        return self._grant.credentials()

    def refused(self, error: Exception) -> AuthError:
        """Return the AuthError for a refused refresh (its message never holds a token)."""
        return refusal(self.source, error)

    def service(self, api: str, version: str, path: str = "") -> Any:
        """Return this thread's service object for ``api`` (built once per thread).

        ``path`` is appended to ``api_endpoint``: Calendar's resource paths are relative to
        ``calendar/v3/`` where Gmail's and People's carry their own prefix.
        """
        cache: dict[str, Any] | None = getattr(self._local, "services", None)
        if cache is None:
            cache = self._local.services = {}
        if api not in cache:
            import google_auth_httplib2
            import httplib2
            from googleapiclient.discovery import build

            http = google_auth_httplib2.AuthorizedHttp(
                self.credentials(), http=httplib2.Http(timeout=HTTP_TIMEOUT_SECONDS))
            client_options = ({"api_endpoint": self.endpoint.rstrip("/") + "/" + path}
                              if self.endpoint else None)
            cache[api] = build(api, version, http=http, static_discovery=True,
                               cache_discovery=False, client_options=client_options)
        return cache[api]

    def batch_uri(self, api: str, version: str) -> str:
        """The batch endpoint; built by hand because ``new_batch_http_request()`` ignores
        ``api_endpoint`` (google-api-python-client#1107)."""
        root = (self.endpoint or f"https://{api}.googleapis.com/").rstrip("/")
        return f"{root}/batch/{api}/{version}"

    def execute(self, request: Any, what: str) -> Any:
        """Execute one API request with backoff for transient errors.

        Raise :class:`AuthError` for refused credentials, :class:`SourceError` once retries
        are exhausted, :class:`ApiRefused` (with the status, e.g. 404 of history.list or 410
        of events.list, which callers handle) for other refusals.
        """
        from google.auth.exceptions import RefreshError, TransportError
        from googleapiclient.errors import HttpError
        from httplib2 import HttpLib2Error

        for attempt in range(MAX_ATTEMPTS):
            try:
                return request.execute()
            except HttpError as error:
                status, reason = error_details(error)
                if status == 401:
                    raise AuthError(f"Google refused the credentials of {self.source!r}; "
                                    f"{auth_hint(self.source)}") from None
                if status == 403 and reason in ("insufficientPermissions",
                                                "ACCESS_TOKEN_SCOPE_INSUFFICIENT"):
                    raise AuthError(f"the Google authorization of {self.source!r} lacks a "
                                    f"scope {what} needs; {auth_hint(self.source)}") from None
                if status == 403 and reason in ("accessNotConfigured", "SERVICE_DISABLED"):
                    raise ApiRefused(f"Google refused {what}: the API is not enabled for your "
                                     "OAuth client's Cloud project; enable it under APIs & "
                                     "Services > Library", status) from None
                if not is_transient(status, reason):
                    raise ApiRefused(f"Google refused {what} (HTTP {status})", status) from None
                failure = f"HTTP {status} {reason}".strip()
            except RefreshError as error:
                raise self.refused(error) from None
            except (TransportError, HttpLib2Error, OSError) as error:
                failure = type(error).__name__
            if attempt == MAX_ATTEMPTS - 1:
                raise SourceError(f"Google kept failing {what} ({failure}) after "
                                  f"{MAX_ATTEMPTS} attempts; will retry on the next pass")
            log.info("%s: %s failed (%s); backing off", self.source, what, failure)
            self.backoff.wait(attempt)
        raise AssertionError("unreachable")


def http_status(error: Exception) -> int:
    """Return the HTTP status of an ``HttpError`` (0 for anything else)."""
    return error_details(error)[0]


class GoogleSource:
    """What the three Google connectors share: the session and ``syncd auth``.

    Subclasses set ``scope`` (one of :data:`SCOPES`) and ``source_type``.
    """

    scope: str = ""
    #: The app adds ``state_dir`` to the options (the token store lives there).
    wants_state_dir = True

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.options = options
        self.session = GoogleSession(name, options, self.scope)

    def token_key(self) -> str:
        """The name of this source's token; sources with the same one share it."""
        return account_token_name(self.options,
                                  read_client_secrets(self.options["client_secrets"]))

    def authorize(self, scopes: Iterable[str], *, show_url: Callable[[str], None],
                  open_browser: bool, pasted: Callable[[], str | None] | None) -> Authorized:
        """Run ``syncd auth`` for this source, asking for ``scopes`` (this one's included)."""
        return authorize(self.options["client_secrets"], {*scopes, self.scope},
                         self.token_key(), token_store(self.options), show_url=show_url,
                         open_browser=open_browser, pasted=pasted)
