"""A fake OAuth 2.0 world on loopback for the IMAP-with-OAuth tests.

One :class:`FakeIdentity` holds the truth about tokens and serves it three ways:

- ``/introspect`` over plain HTTP (RFC 7662), which Dovecot's ``oauth2`` passdb asks about every
  token: ``{"active": true, "username": ...}`` for a live access token, ``{"active": false}``
  otherwise. Tests flip tokens inactive to play "expired" and "revoked".
- a Microsoft identity platform over HTTPS (MSAL insists on https; the certificate comes from a
  test CA the test trusts through ``REQUESTS_CA_BUNDLE``): the tenant's OpenID configuration,
  the device authorization endpoint (RFC 8628) and the token endpoint (device_code and
  refresh_token grants), with id_token and client_info as Entra ID sends them.
- a Google-style token endpoint (``/google/token``: authorization_code with PKCE and
  refresh_token grants) and a client_secret.json that points at it.

Every form posted is recorded (:attr:`FakeIdentity.requests`) so tests can check what the real
libraries sent. :attr:`FakeIdentity.issued` lists every token handed out, for the tests that
grep logs, errors and the database for them.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import secrets
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from secrets_registry import secret

from tests.servers.dovecot import Certificates

TENANT = "contoso-tenant"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
_counter = itertools.count(1)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(claims: dict[str, Any]) -> str:
    """An unsigned JWT (MSAL reads an id_token's claims; it does not check the signature)."""
    header = _b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64url(json.dumps(claims).encode())}."


@dataclass
class FakeIdentity:
    """Tokens and who they belong to; see the module docstring."""

    certificates: Certificates
    #: access token -> user name, for tokens that are live.
    active: dict[str, str] = field(default_factory=dict)
    #: refresh token -> user name; revoked ones are removed.
    refresh: dict[str, str] = field(default_factory=dict)
    #: every access or refresh token ever issued.
    issued: list[str] = field(default_factory=list)
    #: (path, form) of every POST.
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    #: device_code -> user name, once the "user" approved it in the browser.
    approved: dict[str, str] = field(default_factory=dict)
    #: user_code -> device_code, until approved.
    pending: dict[str, str] = field(default_factory=dict)
    #: Google authorization codes -> (user, code_challenge).
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: Who signs in at the device login page when a device code is pending (None: nobody).
    browser_user: str | None = None
    access_lifetime: int = 3600
    http_port: int = 0
    https_port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    # --- what tests do ------------------------------------------------------------------------

    def issue(self, user: str) -> str:
        """Hand out a new live access token for ``user``."""
        token = secret(f"at-{next(_counter)}-{secrets.token_urlsafe(24)}")
        with self.lock:
            self.active[token] = user
            self.issued.append(token)
        return token

    def expire(self, token: str) -> None:
        """The access token dies (as one does after an hour); its refresh token lives on."""
        with self.lock:
            self.active.pop(token, None)

    def revoke_all(self, user: str) -> None:
        """The user revoked syncd's access: every token of ``user`` dies."""
        with self.lock:
            for table in (self.active, self.refresh):
                for token in [t for t, owner in table.items() if owner == user]:
                    del table[token]

    def approve(self, user_code: str, user: str) -> None:
        """The user entered ``user_code`` at the device login page and signed in as ``user``."""
        with self.lock:
            self.approved[self.pending.pop(user_code)] = user

    def grants(self, grant_type: str) -> list[dict[str, str]]:
        """The token requests with this grant_type, oldest first."""
        return [form for path, form in self.requests
                if path.endswith("/token") and form.get("grant_type") == grant_type]

    @property
    def introspection_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/introspect"

    @property
    def authority_host(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def google_client_secrets(self, directory: Path) -> Path:
        """Write a client_secret.json for a Desktop client whose endpoints are this fake."""
        path = directory / "client_secret.json"
        path.write_text(json.dumps({"installed": {
            "client_id": "google-client.apps.example", "client_secret": "gcs-not-secret",
            "auth_uri": f"http://127.0.0.1:{self.http_port}/google/auth",
            "token_uri": f"http://127.0.0.1:{self.http_port}/google/token",
            "redirect_uris": ["http://localhost"]}}))
        return path

    def google_consent(self, authorization_url: str, user: str) -> str:
        """Play the browser: the user consents; return the redirect the browser would follow."""
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorization_url).query))
        code = f"code-{secrets.token_urlsafe(12)}"
        with self.lock:
            self.codes[code] = (user, query["code_challenge"])
        return (f"{query['redirect_uri']}?"
                + urllib.parse.urlencode({"code": code, "state": query["state"]}))

    # --- token endpoint logic -----------------------------------------------------------------

    def _tokens_for(self, user: str, **extra: Any) -> dict[str, Any]:
        access = self.issue(user)
        refresh = secret(f"rt-{next(_counter)}-{secrets.token_urlsafe(24)}")
        with self.lock:
            self.refresh[refresh] = user
            self.issued.append(refresh)
        return {"token_type": "Bearer", "access_token": access, "refresh_token": refresh,
                "expires_in": self.access_lifetime, **extra}

    def _microsoft_extras(self, user: str) -> dict[str, Any]:
        now = int(time.time())
        uid = hashlib.sha256(user.encode()).hexdigest()[:16]
        return {
            "scope": "https://outlook.office.com/IMAP.AccessAsUser.All",
            "ext_expires_in": self.access_lifetime,
            "client_info": _b64url(json.dumps({"uid": uid, "utid": TENANT}).encode()),
            "id_token": _jwt({"iss": f"{self.authority_host}/{TENANT}/v2.0",
                              "aud": CLIENT_ID, "sub": uid, "oid": uid, "tid": TENANT,
                              "preferred_username": user, "iat": now, "nbf": now,
                              "exp": now + 3600}),
        }

    def token(self, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = form.get("grant_type", "")
        microsoft = path.startswith(f"/{TENANT}/")
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            code = form.get("device_code", "")
            user = self.approved.get(code)
            if user is None:
                # The user at the browser (when a test set one) finishes signing in while
                # the client waits: this poll is still pending, the next one succeeds.
                if self.browser_user and code in self.pending.values():
                    with self.lock:
                        self.pending = {k: v for k, v in self.pending.items() if v != code}
                        self.approved[code] = self.browser_user
                return 400, {"error": "authorization_pending"}
            return 200, self._tokens_for(user, **self._microsoft_extras(user))
        if grant == "refresh_token":
            with self.lock:
                user = self.refresh.get(form.get("refresh_token", ""))
            if user is None:
                return 400, {"error": "invalid_grant",
                             "error_description": "AADSTS70000: the grant is revoked"}
            extras = self._microsoft_extras(user) if microsoft else {}
            return 200, self._tokens_for(user, **extras)
        if grant == "authorization_code":
            with self.lock:
                user, challenge = self.codes.pop(form.get("code", ""), ("", ""))
            verifier = form.get("code_verifier", "")
            if not user or _b64url(hashlib.sha256(verifier.encode()).digest()) != challenge:
                return 400, {"error": "invalid_grant"}
            return 200, self._tokens_for(user, scope="https://mail.google.com/")
        return 400, {"error": "unsupported_grant_type"}

    def openid_configuration(self) -> dict[str, Any]:
        base = f"{self.authority_host}/{TENANT}"
        return {"issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "response_types_supported": ["code"]}

    def device_code(self, form: dict[str, str]) -> dict[str, Any]:
        code = f"dc-{secrets.token_urlsafe(12)}"
        user_code = f"ABCD-{next(_counter):04d}"
        with self.lock:
            self.pending[user_code] = code
        return {"device_code": code, "user_code": user_code,
                "verification_uri": "https://microsoft.com/devicelogin",
                "expires_in": 900, "interval": 1,
                "message": "To sign in, use a web browser to open the page "
                           "https://microsoft.com/devicelogin and enter the code "
                           f"{user_code} to authenticate."}


def _handler(identity: FakeIdentity) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            path = urllib.parse.urlsplit(self.path).path
            if path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
                self._reply(200, identity.openid_configuration())
            else:
                self._reply(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            path = urllib.parse.urlsplit(self.path).path
            with identity.lock:
                identity.requests.append((path, form))
            if path == "/introspect":
                with identity.lock:
                    user = identity.active.get(form.get("token", ""))
                self._reply(200, {"active": True, "username": user} if user
                            else {"active": False})
            elif path.endswith("/devicecode"):
                self._reply(200, identity.device_code(form))
            elif path.endswith("/token"):
                self._reply(*identity.token(path, form))
            else:
                self._reply(404, {"error": "not_found"})

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def running_identity(directory: Path) -> Iterator[FakeIdentity]:
    """Serve a :class:`FakeIdentity` (HTTP and HTTPS on 127.0.0.1) until the block ends."""
    identity = FakeIdentity(Certificates.make(directory, "syncd test identity CA"))
    plain = ThreadingHTTPServer(("127.0.0.1", 0), _handler(identity))
    secure = ThreadingHTTPServer(("127.0.0.1", 0), _handler(identity))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(identity.certificates.cert, identity.certificates.key)
    secure.socket = context.wrap_socket(secure.socket, server_side=True)
    identity.http_port = int(plain.server_address[1])
    identity.https_port = int(secure.server_address[1])
    threads = [threading.Thread(target=server.serve_forever, daemon=True)
               for server in (plain, secure)]
    for thread in threads:
        thread.start()
    try:
        yield identity
    finally:
        for server in (plain, secure):
            server.shutdown()
            server.server_close()
