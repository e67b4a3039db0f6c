"""Microsoft 365 / Outlook.com access tokens for IMAP, through MSAL.

- **Client**: the user's own app registration (a public client: no secret), its Application
  (client) ID in ``client_id``; ``tenant`` is the directory ID or domain, or ``common``.
- **Sign-in** (``syncd auth NAME``): the OAuth 2.0 device authorization grant (RFC 8628), which
  fits a headless box: "open https://microsoft.com/devicelogin and enter ABCD-EFGH".
- **Scopes**: ``https://outlook.office.com/IMAP.AccessAsUser.All`` and ``offline_access``
  (https://learn.microsoft.com/exchange/client-developer/legacy-protocols/how-to-authenticate-
  an-imap-pop-smtp-application-by-using-oauth). MSAL adds ``offline_access`` (with ``openid``
  and ``profile``) to every request itself and refuses to be given it, so only the IMAP scope is
  passed here.
- **Cache**: MSAL's serialized token cache (refresh token, the last access token) is kept by
  :class:`syncd.token_store.TokenStore` under ``microsoft-<username>``, saved whenever MSAL
  changed it. An access token is reused until MSAL sees it expire or the server refuses it
  (``fresh``): then MSAL redeems the refresh token.
- **Failures**: ``invalid_grant`` / ``interaction_required`` (revoked, expired, password
  changed, consent withdrawn) is :class:`~syncd.errors.AuthError`: the source pauses until
  ``syncd auth NAME``. An unreachable sign-in service is a :class:`~syncd.errors.SourceError`,
  retried on the next pass. No token ever reaches a log or a message.

MSAL types never leave this module.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from syncd.errors import AuthError, CredentialError, SourceError
from syncd.token_store import TokenStore, token_name

log = logging.getLogger(__name__)

IMAP_SCOPE = "https://outlook.office.com/IMAP.AccessAsUser.All"
DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
#: Seconds for each request to the sign-in service (MSAL waits forever by default).
_HTTP_TIMEOUT = 30.0
#: Errors of the token endpoint that only a new sign-in fixes (Microsoft identity platform
#: error codes; RFC 6749 §5.2).
_NEEDS_SIGN_IN = frozenset({"invalid_grant", "interaction_required", "consent_required",
                            "login_required", "invalid_client", "unauthorized_client"})


class MicrosoftTokens:
    """Access tokens of one Microsoft account, refreshed by MSAL from a stored grant."""

    def __init__(self, source: str, username: str, client_id: str, tenant: str,
                 authority: str, store: TokenStore) -> None:
        self.source = source
        self.username = username
        self.client_id = client_id
        self.authority = f"{authority.rstrip('/')}/{tenant}"
        self._store = store
        self.token_name = token_name("microsoft", username)
        self._lock = threading.Lock()
        self._application: Any = None
        self._cache: Any = None

    @classmethod
    def from_options(cls, source: str, options: Mapping[str, Any],
                     store: TokenStore) -> MicrosoftTokens:
        """Build from validated ``[sources.NAME]`` options."""
        return cls(source, str(options["username"]), str(options["client_id"]),
                   str(options.get("tenant") or "common"),
                   str(options.get("oauth_authority") or DEFAULT_AUTHORITY), store)

    # --- MSAL ---------------------------------------------------------------------------------

    def application(self) -> Any:
        """Return the ``msal.PublicClientApplication`` (built once, with the stored cache).

        Raise :class:`SourceError` when the sign-in service cannot be reached (MSAL reads the
        tenant's OpenID configuration when it is built).
        """
        if self._application is None:
            import msal

            cache = msal.SerializableTokenCache()
            stored = self._store.load(self.token_name)
            if stored:
                try:
                    cache.deserialize(stored)
                except ValueError:
                    log.warning("%s: the stored Microsoft token cache is unreadable; run: "
                                "syncd auth %s", self.source, self.source)
            try:
                # instance_discovery=False: no call to Microsoft's list of clouds; the
                # authority is the user's (default: the public cloud).
                self._application = msal.PublicClientApplication(
                    self.client_id, authority=self.authority, token_cache=cache,
                    instance_discovery=False, timeout=_HTTP_TIMEOUT)
            except ValueError as error:
                raise SourceError(f"the Microsoft sign-in service {self.authority} refused "
                                  f"the tenant or client ({_first_line(error)}); check "
                                  f"sources.{self.source}.tenant and client_id") from None
            except Exception as error:
                raise SourceError(f"cannot reach the Microsoft sign-in service "
                                  f"{self.authority} ({type(error).__name__}); will retry on "
                                  "the next pass") from None
            self._cache = cache
        return self._application

    def _save(self) -> str | None:
        if self._cache is not None and self._cache.has_state_changed:
            saved = self._store.save(self.token_name, self._cache.serialize())
            self._cache.has_state_changed = False
            return saved.where
        return None

    # --- TokenSource --------------------------------------------------------------------------

    def access_token(self, *, fresh: bool = False) -> str:
        """Return an access token for IMAP: the cached one, or with ``fresh`` (or once it
        expired) a new one redeemed with the refresh token.

        Raise :class:`AuthError` when there is no stored sign-in or Microsoft refuses it,
        :class:`SourceError` when the sign-in service cannot be reached.
        """
        with self._lock:
            application = self.application()
            accounts = (application.get_accounts(username=self.username)
                        or application.get_accounts())
            if not accounts:
                raise AuthError(f"source {self.source!r} has no Microsoft sign-in yet; run: "
                                f"syncd auth {self.source}")
            try:
                result = application.acquire_token_silent_with_error(
                    [IMAP_SCOPE], accounts[0], force_refresh=fresh)
            except Exception as error:
                raise SourceError(f"cannot reach the Microsoft sign-in service "
                                  f"({type(error).__name__}); will retry on the next pass"
                                  ) from None
            self._save()
            if result and "access_token" in result:
                return str(result["access_token"])
            error_code = str((result or {}).get("error") or "no token in the cache")
            if result is None or error_code in _NEEDS_SIGN_IN:
                raise AuthError(f"Microsoft refused the stored sign-in of {self.username} "
                                f"({error_code}: revoked, expired or the password changed); "
                                f"run: syncd auth {self.source}")
            raise SourceError(f"Microsoft's sign-in service answered {error_code}; will "
                              "retry on the next pass")

    def authorize(self, say: Callable[[str], None]) -> str:
        """Run the device-code flow: ``say`` gets Microsoft's "open ... and enter CODE" line;
        wait (polling, as RFC 8628 §3.4 says) until the user signed in; store the cache.

        Return where the grant went. Raise :class:`CredentialError` when the flow cannot start,
        the user declined, or the code expired.
        """
        with self._lock:
            application = self.application()
            flow = application.initiate_device_flow(scopes=[IMAP_SCOPE])
            if "user_code" not in flow:
                raise CredentialError(f"Microsoft would not start a device sign-in "
                                      f"({flow.get('error', 'no code')}); check "
                                      f"sources.{self.source}.client_id and that the app "
                                      "registration allows public client flows")
            say(str(flow.get("message") or f"open {flow.get('verification_uri')} and enter "
                                              f"{flow['user_code']}"))
            result = application.acquire_token_by_device_flow(flow)
            if "access_token" not in result:
                raise CredentialError(f"the Microsoft sign-in did not complete "
                                      f"({result.get('error', 'no token')}); run the command "
                                      "again")
            where = self._save()
        return where or "the token store"


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0][:200] if str(error) else type(error).__name__
