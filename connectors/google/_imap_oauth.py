"""Gmail IMAP access tokens for ``oauth_provider = "google"``.

The sign-in and the refreshes are those of the Google API sources (:mod:`connectors.google.
_auth`: :func:`~connectors.google._auth.authorize` and
:class:`~connectors.google._auth.StoredGrant`); only the scope and the token's name differ.

- **Client**: the user's own "Desktop app" OAuth client, its ``client_secret.json`` in
  ``client_secrets``. syncd embeds none.
- **Scope**: ``https://mail.google.com/``, the only one Gmail's IMAP accepts
  (https://developers.google.com/gmail/imap/xoauth2-protocol).
- **Sign-in** (``syncd auth NAME``): the installed-app flow, authorization code with PKCE
  (RFC 7636) and a loopback redirect (RFC 8252 §7.3), for the IMAP username (``login_hint``).
- **Grant**: stored under ``google-imap-<username>``, not the API sources' name: that token
  has other scopes. Access tokens live in memory only and never reach a log or a message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from connectors.google._auth import StoredGrant, authorize
from syncd.token_store import TokenStore, token_name

IMAP_SCOPE = "https://mail.google.com/"


class GoogleImapTokens:
    """Access tokens for Gmail IMAP, refreshed from a stored grant."""

    def __init__(self, source: str, username: str, client_secrets: str,
                 store: TokenStore) -> None:
        self.source = source
        self.username = username
        self.client_secrets = client_secrets
        self.token_name = token_name("google-imap", username)
        self._store = store
        self._grant = StoredGrant(source, client_secrets, self.token_name, IMAP_SCOPE, store)

    @classmethod
    def from_options(cls, source: str, options: Mapping[str, Any],
                     store: TokenStore) -> GoogleImapTokens:
        """Build from validated ``[sources.NAME]`` options."""
        return cls(source, str(options["username"]), str(options["client_secrets"]), store)

    def access_token(self, *, fresh: bool = False) -> str:
        """Return the access token in memory, or (``fresh``, expired, none yet) a new one.

        Raise :class:`~syncd.errors.AuthError` when there is no grant or Google refuses it,
        :class:`~syncd.errors.SourceError` when the token endpoint cannot be reached.
        """
        return str(self._grant.credentials(fresh=fresh).token)

    def authorize(self, say: Callable[[str], None], *, timeout: float = 600.0) -> str:
        """Run the installed-app flow: ``say`` gets the URL to open; the redirect arrives on
        127.0.0.1; the grant is stored. Return where it went.

        Raise :class:`~syncd.errors.CredentialError` when the user refused, nothing arrived
        within ``timeout`` seconds, or Google sent no refresh token.
        """
        def show(url: str) -> None:
            say(f"open this page, sign in as {self.username} and allow access:\n{url}")

        authorized = authorize(self.client_secrets, [IMAP_SCOPE], self.token_name, self._store,
                               show_url=show, open_browser=False, login_hint=self.username,
                               timeout=timeout)
        # A new grant: the next token comes from it, not from a grant held in memory.
        self._grant = StoredGrant(self.source, self.client_secrets, self.token_name,
                                  IMAP_SCOPE, self._store)
        return authorized.saved.where
