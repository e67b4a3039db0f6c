"""Secrets: a source's password from its ``password_command`` or the OS keyring.

The keyring entry is service ``syncd``, user = the source name. Passwords are never logged,
never put in an error message, never written to the database or the config file; a failing
``password_command`` is reported by its exit status only, since its output may be the secret.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
from collections.abc import Mapping
from typing import Any

from syncd.errors import CredentialError

log = logging.getLogger(__name__)

KEYRING_SERVICE = "syncd"
_COMMAND_TIMEOUT_SECONDS = 60


def _no_keyring(source: str) -> CredentialError:
    return CredentialError(
        f"no usable keyring on this machine to hold the password of source {source!r}; set "
        f'password_command in [sources.{source}] (e.g. password_command = "pass show mail/'
        f'{source}") or install and unlock a Secret Service keyring')


def run_secret_command(source: str, key: str, command: str,
                       timeout: float = _COMMAND_TIMEOUT_SECONDS) -> str:
    """Run ``command`` (the ``key`` option of ``source``, e.g. ``password_command`` or
    ``token_command``) through the shell and return the first line it prints.

    What it prints is a secret: it is never logged and never put in an error. Raise
    :class:`CredentialError` naming the key when the command fails (its exit status only), runs
    longer than ``timeout`` seconds (it is killed, with everything it started), or prints
    nothing.
    """
    import os
    import signal

    # A session of its own, so a timeout kills the whole group: a shell's child (``sleep``,
    # a stuck ``gpg``) would otherwise live on, holding the pipe open.
    process = subprocess.Popen(command, shell=True, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                               start_new_session=True)
    try:
        output, _errors = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise CredentialError(f"{key} of source {source!r} did not finish in {timeout:g} s "
                              "and was stopped; run it by hand to see why") from None
    secret = output.split("\n", 1)[0]
    if process.returncode != 0 or not secret:
        raise CredentialError(
            f"{key} of source {source!r} failed (exit status {process.returncode}, "
            f"{'no' if not secret else 'some'} output); run it by hand to see why")
    return secret


def read_password(source: str, options: Mapping[str, Any]) -> str:
    """Return the password of ``source``: from ``password_command`` if set, else the keyring.

    Raise :class:`CredentialError` with the command that fixes it when there is none.
    """
    command = options.get("password_command")
    if command:
        return run_secret_command(source, "password_command", str(command))
    import keyring
    import keyring.errors

    try:
        stored: str | None = keyring.get_password(KEYRING_SERVICE, source)
    except keyring.errors.NoKeyringError:
        raise _no_keyring(source) from None
    except keyring.errors.KeyringError as error:
        raise CredentialError(f"the keyring refused to give the password of source "
                              f"{source!r} ({type(error).__name__}); unlock it, or set "
                              "password_command") from None
    if stored is None:
        raise CredentialError(f"no password stored for source {source!r}; run: "
                              f"syncd auth {source}")
    return stored


def store_password(source: str, password: str) -> None:
    """Put the password of ``source`` in the keyring; raise :class:`CredentialError` if none."""
    import keyring
    import keyring.errors

    try:
        keyring.set_password(KEYRING_SERVICE, source, password)
    except (keyring.errors.NoKeyringError, keyring.errors.PasswordSetError):
        raise _no_keyring(source) from None
    except keyring.errors.KeyringError as error:
        raise CredentialError(f"the keyring refused to store the password of source "
                              f"{source!r} ({type(error).__name__})") from None
    log.info("stored the password of source %s in the keyring", source)
