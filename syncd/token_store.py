"""Where OAuth tokens live: the OS keyring, else a 0600 file, else systemd credentials.

Shared by every OAuth source (Google APIs, IMAP with XOAUTH2/OAUTHBEARER). A token here is an
opaque text (usually JSON: refresh token, token_uri, client id, scopes); this module never
looks inside it, never logs it and never puts it in an error message.

Lookup order for :meth:`TokenStore.load`:

1. ``$CREDENTIALS_DIRECTORY/<name>`` (systemd ``LoadCredential=``): read-only, set by the
   service manager, so it wins when present;
2. the keyring (service ``syncd-oauth``, user ``<name>``), when a real backend is installed;
3. ``<state_dir>/tokens/<name>.json``, a 0600 file in a 0700 directory.

:meth:`TokenStore.save` writes to the keyring when one works, else to the file, and says which
(:class:`Saved`), so ``syncd auth`` can tell the user where their token went.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from syncd.errors import CredentialError
from syncd.paths import private_directory

log = logging.getLogger(__name__)

KEYRING_SERVICE = "syncd-oauth"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9@._+-]")


def token_name(*parts: str) -> str:
    """Return a file- and keyring-safe name for a token, e.g. ``google-me@gmail.com``.

    Several sources that share one account give the same parts and so share one token.
    """
    return _SAFE_NAME.sub("_", "-".join(part for part in parts if part))


def _usable_keyring() -> bool:
    """True when the installed keyring backend really stores secrets.

    keyring's ``null`` backend accepts writes and forgets them, and ``fail`` raises: both mean
    "no keyring here" (the usual case on a headless box or under a system service).
    """
    try:
        import keyring
        from keyring.backends import fail, null
    except ImportError:  # pragma: no cover - keyring is a declared dependency
        return False
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring | null.Keyring):
        return False
    priority = getattr(backend, "priority", 1)
    return not (isinstance(priority, int | float) and priority <= 0)


@dataclass(frozen=True, slots=True)
class Saved:
    """Where :meth:`TokenStore.save` put a token, in words for the user."""

    where: str
    in_keyring: bool


@dataclass(frozen=True, slots=True)
class TokenStore:
    """Tokens of one state directory. ``environ`` is injected for tests."""

    state_dir: Path
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    def _file(self, name: str) -> Path:
        return self.state_dir / "tokens" / f"{token_name(name)}.json"

    def _credential(self, name: str) -> Path | None:
        directory = self.environ.get("CREDENTIALS_DIRECTORY")
        if not directory:
            return None
        path = Path(directory) / token_name(name)
        return path if path.is_file() else None

    def load(self, name: str) -> str | None:
        """Return the stored token called ``name``, or None when there is none anywhere.

        Raise :class:`CredentialError` when a keyring exists but refuses to answer (locked).
        """
        credential = self._credential(name)
        if credential is not None:
            return credential.read_text(encoding="utf-8").strip() or None
        if _usable_keyring():
            import keyring
            import keyring.errors

            try:
                stored: str | None = keyring.get_password(KEYRING_SERVICE, token_name(name))
            except keyring.errors.KeyringError as error:
                raise CredentialError(
                    f"the keyring refused to give the OAuth token {token_name(name)!r} "
                    f"({type(error).__name__}); unlock it and try again") from None
            if stored:
                return stored
        path = self._file(name)
        if path.is_file():
            return path.read_text(encoding="utf-8").strip() or None
        return None

    def save(self, name: str, token: str) -> Saved:
        """Store ``token`` as ``name``: in the keyring when one works, else in a 0600 file.

        A token that came from ``$CREDENTIALS_DIRECTORY`` is never written back there (the
        service manager owns it); a refreshed one goes to the keyring or the file instead.
        """
        if _usable_keyring():
            import keyring
            import keyring.errors

            try:
                keyring.set_password(KEYRING_SERVICE, token_name(name), token)
            except keyring.errors.KeyringError as error:
                log.info("the keyring refused to store an OAuth token (%s); using a file",
                         type(error).__name__)
            else:
                self._file(name).unlink(missing_ok=True)
                return Saved("the OS keyring", in_keyring=True)
        path = self._file(name)
        private_directory(path.parent).chmod(0o700)
        temporary = path.with_suffix(".tmp")
        # Created 0600 from the start: the token is never readable by others, not even briefly.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)  # a leftover temporary file keeps its old mode otherwise
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(token)
        os.replace(temporary, path)
        return Saved(str(path), in_keyring=False)

    def delete(self, name: str) -> None:
        """Forget the token called ``name`` in the keyring and the file (not credentials)."""
        if _usable_keyring():
            import keyring
            import keyring.errors

            with contextlib.suppress(keyring.errors.KeyringError):
                keyring.delete_password(KEYRING_SERVICE, token_name(name))
        self._file(name).unlink(missing_ok=True)
