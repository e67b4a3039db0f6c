"""Where an IMAP source with ``auth = "oauth2"`` gets its access tokens.

- ``token_command``: a program the user already has (oama, mutt_oauth2.py,
  getmail-gmail-xoauth-tokens) prints a fresh access token; it runs for every connection, so
  "refreshing" is running it again. Its output is a secret, handled as ``password_command``'s
  (:func:`syncd.credentials.run_secret_command`): failure, timeout and empty output are errors
  of this source only, told by exit status, never by what was printed.
- ``oauth_provider = "microsoft"``: MSAL's device-code flow
  (:mod:`connectors.mail._microsoft_oauth`).
- ``oauth_provider = "google"``: the installed-app flow (:mod:`connectors.google._imap_oauth`).

Built-in providers keep their grant in :class:`syncd.token_store.TokenStore` of the state
directory the app passes in ``options["state_dir"]``, and also implement
:class:`AuthorizingTokenSource` (``syncd auth NAME`` runs their sign-in).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from connectors.mail._imap_session import TokenSource
from syncd.errors import CredentialError, SourceError
from syncd.token_store import TokenStore

__all__ = ["AuthorizingTokenSource", "CommandTokens", "TokenSource", "token_source",
           "token_store"]


@runtime_checkable
class AuthorizingTokenSource(TokenSource, Protocol):
    """A token source that can run its provider's sign-in for ``syncd auth NAME``."""

    def authorize(self, say: Callable[[str], None]) -> str:
        """Run the sign-in, telling the user what to do through ``say``; store the grant and
        return where it went (for the user). Raise :class:`CredentialError` on failure."""
        ...


class CommandTokens:
    """Access tokens printed by the source's ``token_command``, one run per request."""

    def __init__(self, source: str, command: str, timeout: float) -> None:
        self.source = source
        self._command = command
        self._timeout = timeout

    def access_token(self, *, fresh: bool = False) -> str:
        """Run the command and return the first line it printed, stripped.

        ``fresh`` changes nothing: every run is fresh, and tools like oama refresh an
        expired token themselves. Raise :class:`SourceError` (this source only) when the
        command fails, hangs past the timeout, or prints nothing.
        """
        from syncd.credentials import run_secret_command

        try:
            token = run_secret_command(self.source, "token_command", self._command,
                                       self._timeout).strip()
        except CredentialError as error:
            raise SourceError(str(error)) from None
        if not token:
            raise SourceError(f"token_command of source {self.source!r} printed only "
                              "blanks; run it by hand to see why")
        return token


def token_store(options: Mapping[str, Any]) -> TokenStore:
    """The token store of the state directory the app put in ``options``."""
    from syncd.paths import default_state_dir

    state_dir = options.get("state_dir")
    return TokenStore(Path(state_dir) if state_dir else default_state_dir())


def token_source(source: str, options: Mapping[str, Any], *,
                 command_timeout: float = 60.0) -> TokenSource:
    """Return the token source ``options`` (a validated ``[sources.NAME]``) asks for."""
    provider = options.get("oauth_provider")
    if provider == "microsoft":
        from connectors.mail._microsoft_oauth import MicrosoftTokens

        return MicrosoftTokens.from_options(source, options, token_store(options))
    if provider == "google":
        from connectors.google._imap_oauth import GoogleImapTokens

        return GoogleImapTokens.from_options(source, options, token_store(options))
    command = options.get("token_command")
    if not command:
        raise SourceError(f'source {source!r} has auth = "oauth2" but neither token_command '
                          "nor oauth_provider; set one of them")
    return CommandTokens(source, str(command), command_timeout)
