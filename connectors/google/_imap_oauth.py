"""Gmail IMAP access tokens: Google's installed-app flow and refresh, for ``oauth_provider =
"google"``.

A deliberately small seam: the Gmail API sources have their own Google OAuth module; this one
does only what IMAP needs, so the two can be unified later behind :class:`GoogleImapTokens`.

- **Client**: the user's own "Desktop app" OAuth client, its ``client_secret.json`` in
  ``client_secrets`` (``auth_uri`` and ``token_uri`` are read from it). syncd embeds none.
- **Scope**: ``https://mail.google.com/``, the only one Gmail's IMAP accepts
  (https://developers.google.com/gmail/imap/xoauth2-protocol).
- **Sign-in** (``syncd auth NAME``): authorization code with PKCE (RFC 7636) and a loopback
  redirect (RFC 8252 §7.3); ``access_type=offline`` and ``prompt=consent`` so Google sends a
  refresh token.
- **Grant**: JSON ``{refresh_token, token_uri, client_id, client_secret, scopes}`` in
  :class:`~syncd.token_store.TokenStore` under ``google-imap-<username>`` (not the Gmail API's
  name: that token has other scopes). Access tokens live in memory only.
- **Failures**: ``invalid_grant`` (revoked, 6 months unused, password changed) is an
  :class:`~syncd.errors.AuthError`; an unreachable endpoint is a
  :class:`~syncd.errors.SourceError`. Tokens never reach a log or a message.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from syncd.errors import AuthError, CredentialError, SourceError
from syncd.token_store import TokenStore, token_name

log = logging.getLogger(__name__)

IMAP_SCOPE = "https://mail.google.com/"
_HTTP_TIMEOUT = 30.0
#: Refresh this long before Google's ``expires_in`` runs out, so a token is not handed out
#: seconds before it dies.
_EARLY = 60.0


@dataclass(frozen=True, slots=True)
class Client:
    """The parts of a ``client_secret.json`` ("installed" section) syncd uses."""

    client_id: str
    client_secret: str
    auth_uri: str
    token_uri: str


def read_client(path: str) -> Client:
    """Read the user's OAuth client file; raise :class:`CredentialError` with the fix.

    The file is the same one the Google API sources read, so the reading is theirs.
    """
    from connectors.google._auth import read_client_secrets

    secrets_file = read_client_secrets(path)
    return Client(secrets_file.client_id, secrets_file.client_secret, secrets_file.auth_uri,
                  secrets_file.token_uri)


class GoogleImapTokens:
    """Access tokens for Gmail IMAP, refreshed from a stored grant."""

    def __init__(self, source: str, username: str, client_secrets: str,
                 store: TokenStore) -> None:
        self.source = source
        self.username = username
        self.client_secrets = client_secrets
        self._store = store
        self.token_name = token_name("google-imap", username)
        self._lock = threading.Lock()
        self._token: tuple[str, float] | None = None  # (access token, expires at, monotonic)

    @classmethod
    def from_options(cls, source: str, options: Mapping[str, Any],
                     store: TokenStore) -> GoogleImapTokens:
        """Build from validated ``[sources.NAME]`` options."""
        return cls(source, str(options["username"]), str(options["client_secrets"]), store)

    def access_token(self, *, fresh: bool = False) -> str:
        """Return the access token in memory, or (``fresh``, expired, none yet) a new one.

        Raise :class:`AuthError` when there is no grant or Google refuses it,
        :class:`SourceError` when the token endpoint cannot be reached.
        """
        with self._lock:
            if not fresh and self._token is not None and time.monotonic() < self._token[1]:
                return self._token[0]
            grant = self._grant()
            answer = self._post(grant["token_uri"], {
                "grant_type": "refresh_token", "refresh_token": grant["refresh_token"],
                "client_id": grant["client_id"], "client_secret": grant["client_secret"]})
            token = answer.get("access_token")
            if not isinstance(token, str) or not token:
                raise SourceError("Google's token endpoint answered without an access token; "
                                  "will retry on the next pass")
            lifetime = float(answer.get("expires_in") or 3600)
            self._token = (token, time.monotonic() + max(0.0, lifetime - _EARLY))
            return token

    def _grant(self) -> dict[str, str]:
        text = self._store.load(self.token_name)
        if text is None:
            raise AuthError(f"source {self.source!r} has no Google sign-in yet; run: syncd "
                            f"auth {self.source}")
        try:
            data = json.loads(text)
            grant = {key: str(data[key]) for key in ("refresh_token", "token_uri",
                                                     "client_id", "client_secret")}
        except (ValueError, TypeError, KeyError):
            raise AuthError(f"the stored Google sign-in of {self.source!r} is unreadable; run: "
                            f"syncd auth {self.source}") from None
        if IMAP_SCOPE not in (data.get("scopes") or [IMAP_SCOPE]):
            raise AuthError(f"the stored Google sign-in does not allow IMAP ({IMAP_SCOPE}); "
                            f"run: syncd auth {self.source}")
        return grant

    def _post(self, url: str, form: Mapping[str, str]) -> dict[str, Any]:
        """POST ``form`` to the token endpoint; return its JSON (RFC 6749 §5.1).

        Raise :class:`AuthError` for ``invalid_grant`` / ``invalid_client`` (RFC 6749 §5.2),
        :class:`SourceError` for anything else.
        """
        import requests

        try:
            response = requests.post(url, data=dict(form), timeout=_HTTP_TIMEOUT,
                                     headers={"Accept": "application/json"})
            answer = response.json()
        except (requests.RequestException, ValueError) as error:
            raise SourceError(f"Google's token endpoint cannot be reached "
                              f"({type(error).__name__}); will retry on the next pass"
                              ) from None
        if not isinstance(answer, dict):
            raise SourceError("Google's token endpoint answered nonsense; will retry")
        error_code = answer.get("error")
        if error_code in ("invalid_grant", "invalid_client", "unauthorized_client"):
            raise AuthError(f"Google refused the stored sign-in of {self.username} "
                            f"({error_code}: revoked, expired or the password changed); run: "
                            f"syncd auth {self.source}")
        if response.status_code != 200 or error_code:
            raise SourceError(f"Google's token endpoint answered HTTP {response.status_code} "
                              f"{str(error_code or '')[:40]}; will retry on the next pass")
        return answer

    def authorize(self, say: Callable[[str], None], *, timeout: float = 600.0) -> str:
        """Run the installed-app flow: ``say`` gets the URL to open; a loopback server on
        127.0.0.1 receives the redirect; the code is exchanged and the grant stored.

        Return where it went. Raise :class:`CredentialError` when the user refused, nothing
        arrived within ``timeout`` seconds, or Google sent no refresh token.
        """
        client = read_client(self.client_secrets)
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state = secrets.token_urlsafe(16)
        with _Redirect(timeout) as redirect:
            redirect_uri = f"http://127.0.0.1:{redirect.port}/"
            query = urllib.parse.urlencode({
                "client_id": client.client_id, "redirect_uri": redirect_uri,
                "response_type": "code", "scope": IMAP_SCOPE, "access_type": "offline",
                "prompt": "consent", "login_hint": self.username, "state": state,
                "code_challenge": challenge, "code_challenge_method": "S256"})
            say(f"open this page, sign in as {self.username} and allow access:\n"
                f"{client.auth_uri}?{query}")
            answer = redirect.wait()
        if answer.get("state") != state:
            raise CredentialError("the sign-in answer does not belong to this request; run "
                                  "the command again")
        if "code" not in answer:
            raise CredentialError(f"Google said {answer.get('error', 'nothing')!r}: sign-in "
                                  "refused or cancelled")
        try:
            tokens = self._post(client.token_uri, {
                "grant_type": "authorization_code", "code": answer["code"],
                "redirect_uri": redirect_uri, "client_id": client.client_id,
                "client_secret": client.client_secret, "code_verifier": verifier})
        except SourceError as error:
            raise CredentialError(str(error)) from None
        if not tokens.get("refresh_token"):
            raise CredentialError("Google sent no refresh token; remove syncd's access at "
                                  "myaccount.google.com/permissions and run the command again")
        grant = {"refresh_token": tokens["refresh_token"], "token_uri": client.token_uri,
                 "client_id": client.client_id, "client_secret": client.client_secret,
                 "scopes": [IMAP_SCOPE]}
        saved = self._store.save(self.token_name, json.dumps(grant))
        with self._lock:
            if isinstance(tokens.get("access_token"), str):
                lifetime = float(tokens.get("expires_in") or 3600)
                self._token = (tokens["access_token"], time.monotonic() + lifetime - _EARLY)
        return saved.where


class _Redirect:
    """A one-shot HTTP server on 127.0.0.1 that receives the authorization redirect."""

    def __init__(self, timeout: float) -> None:
        from http.server import BaseHTTPRequestHandler, HTTPServer

        received: dict[str, str] = {}
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                received.update({key: values[0] for key, values in query.items()})
                body = b"syncd: you may close this window.\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the query holds the authorization code: never logged

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.server.timeout = timeout
        self.port = int(self.server.server_address[1])

    def __enter__(self) -> _Redirect:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.server_close()

    def wait(self) -> dict[str, str]:
        """Serve until a request with ``code`` or ``error`` arrived, or the timeout."""
        deadline = time.monotonic() + float(self.server.timeout or 600)
        while not ({"code", "error"} & set(self.received)) and time.monotonic() < deadline:
            self.server.handle_request()
        if not self.received:
            raise CredentialError("no sign-in answer arrived in time; run the command again")
        return self.received
