"""One logged-in IMAP connection, and a session that survives losing it.

This is the only module of the IMAP source that touches imapclient/imaplib; what leaves it is
plain Python data (:class:`FolderInfo`, :class:`FolderStatus`, :class:`~._imap_fetch.Fetched`)
and the errors of :mod:`syncd.errors` or the two private signals :class:`Lost` (the connection
is gone: reconnect) and :class:`Refused` (the server said NO/BAD to one command).

Security (RFC 8314, PROTOCOL-NOTES rule 15): certificates and host names are always verified;
``ca_file`` adds trust anchors and ``fingerprint`` pins the certificate's SHA-256 instead; there
is no switch to ignore a certificate. STARTTLS, when chosen, is required: a server that does not
offer it is refused, never used in clear text. imaplib's own protocol trace (which imapclient
turns on at level 5 and which would carry LOGIN's arguments and every header) is switched off
before anything is sent, so passwords never reach a log.

Logging in: with a password (LOGIN), or with an OAuth 2.0 access token (:class:`OAuthLogin`)
over SASL OAUTHBEARER (RFC 7628) when the server advertises ``AUTH=OAUTHBEARER``, else XOAUTH2
(Google's and Microsoft's older mechanism, same idea). A refused token is asked for again fresh
(refreshed) and the login tried once more; refused twice, it is an :class:`AuthError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from connectors.mail._imap_fetch import Fetched, read_fetch_answer
from syncd.errors import AuthError, SourceError

if TYPE_CHECKING:
    import ssl

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: STATUS commands sent before reading their answers (see Connection.statuses).
_PIPELINED = 64


class Lost(Exception):
    """The connection broke (reset, EOF, timeout, BYE); the command may be repeated."""


class Refused(Exception):
    """The server answered NO or BAD to one command; ``str()`` is its text, secrets removed."""


class Unreachable(SourceError):
    """No connection could be made (refused, no route, DNS); retried when reconnecting."""


@dataclass(frozen=True, slots=True)
class Settings:
    """How to reach and log in to one server (from ``[sources.NAME]``)."""

    source: str
    host: str
    port: int
    username: str
    tls: str  # implicit | starttls | none
    timeout: float
    ca_file: str | None = None
    fingerprint: str | None = None

    @property
    def where(self) -> str:
        """``host:port`` for messages."""
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class FolderInfo:
    """One LIST entry: the decoded name, its lower-case attributes (RFC 6154 special use) and
    its hierarchy delimiter (None: a flat name; RFC 3501 §6.3.8)."""

    name: str
    attributes: frozenset[str]
    delimiter: str | None = "/"


@dataclass(frozen=True, slots=True)
class Namespaces:
    """The RFC 2342 NAMESPACE answer: (prefix, delimiter) pairs of each kind of namespace."""

    personal: tuple[tuple[str, str | None], ...]
    other_users: tuple[tuple[str, str | None], ...]
    shared: tuple[tuple[str, str | None], ...]


@dataclass(frozen=True, slots=True)
class FolderStatus:
    """UIDVALIDITY, UIDNEXT and the message count of a folder (STATUS or SELECT)."""

    validity: int
    next_uid: int
    messages: int


def _redact(text: str, *secrets: str) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class TokenSource(Protocol):
    """Where OAuth access tokens come from: a ``token_command`` or a built-in provider."""

    def access_token(self, *, fresh: bool = False) -> str:
        """Return an access token; with ``fresh``, not the one handed out before (refresh it).

        Raise :class:`AuthError` when only the user can fix it (``syncd auth NAME``), else
        :class:`SourceError`; never with the token in the message.
        """
        ...


@dataclass(frozen=True, slots=True)
class PasswordLogin:
    """Log in with LOGIN and this password."""

    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class OAuthLogin:
    """Log in with SASL OAUTHBEARER or XOAUTH2 and a token from ``tokens``."""

    tokens: TokenSource


Login = PasswordLogin | OAuthLogin


class SaslResponder:
    """Answers the server's SASL challenges for one OAuth login (imaplib's ``authobject``).

    The first challenge (empty, RFC 3501 §6.2.2) gets :func:`sasl_initial_response`. Any later
    one is the server's error report (a JSON object, RFC 7628 §3.2.2), kept in
    :attr:`challenges`; it is answered with a lone ^A for OAUTHBEARER (RFC 7628 §3.2.3) or an
    empty line for XOAUTH2 (Google's XOAUTH2 protocol page), never with the token again.
    """

    def __init__(self, mechanism: str, username: str, token: str, host: str = "",
                 port: int = 0) -> None:
        self.mechanism = mechanism
        self._initial = sasl_initial_response(mechanism, username, token, host, port)
        self.challenges: list[bytes] = []

    def __call__(self, challenge: bytes) -> bytes:
        self.challenges.append(challenge)
        if len(self.challenges) == 1:
            return self._initial
        return b"\x01" if self.mechanism == "OAUTHBEARER" else b""

    def __repr__(self) -> str:
        return f"SaslResponder({self.mechanism})"  # never the token


class _TokenRefused(Exception):
    """AUTHENTICATE answered NO/BAD; ``str()`` is the server's words (never the token)."""


def sasl_initial_response(mechanism: str, username: str, token: str, host: str = "",
                          port: int = 0) -> bytes:
    """Return the client's first SASL message for ``mechanism`` (before base64).

    OAUTHBEARER (RFC 7628 §3.1): ``gs2-header kvsep *kvpair kvsep``, the GS2 header ``n,a=USER,``
    (RFC 5801 §4: ``=`` and ``,`` in the name escaped as ``=3D``/``=2C``), then ``host=`` and
    ``port=`` of the connection (optional, as in the RFC's §4.1 example and curl's client) and
    ``auth=Bearer TOKEN``, each ended by ^A, then a final ^A. XOAUTH2 (Google's "OAuth 2.0
    Mechanism" page, also Microsoft's): ``user=USER^Aauth=Bearer TOKEN^A^A``.
    """
    if mechanism == "OAUTHBEARER":
        escaped = username.replace("=", "=3D").replace(",", "=2C")
        pairs = ([f"host={host}"] if host else []) + ([f"port={port}"] if port else [])
        pairs.append(f"auth=Bearer {token}")
        return (f"n,a={escaped},\x01" + "".join(f"{pair}\x01" for pair in pairs)
                + "\x01").encode()
    return f"user={username}\x01auth=Bearer {token}\x01\x01".encode()


def import_imapclient() -> Any:
    """Return the imapclient module, imported without its own version lookup when possible.

    imapclient's ``version`` module asks ``importlib.metadata`` for the package's version as
    it is imported: that loads importlib.metadata and the email parser and reads the
    package metadata, 25-35 ms of a no-change ``syncd sync`` (measured with ``-X
    importtime``), for a string syncd never reads. So the version is taken from the name of
    the ``imapclient-X.Y.Z.dist-info`` directory beside the package (one directory listing)
    and handed to imapclient as its ``imapclient.version`` module; the two attributes are
    what imapclient's ``__init__`` imports from it. Where that directory is not found or the
    import fails with it, imapclient is imported as it is.
    """
    import importlib
    import sys

    if "imapclient" in sys.modules or "imapclient.version" in sys.modules:
        return importlib.import_module("imapclient")
    version = _installed_version("imapclient")
    parts = version.split(".") if version else []
    if len(parts) == 3 and all(part.isdigit() for part in parts):
        import types

        stand_in = types.ModuleType("imapclient.version")
        stand_in.version = version  # type: ignore[attr-defined]
        stand_in.version_info = (int(parts[0]), int(parts[1]),  # type: ignore[attr-defined]
                                 int(parts[2]), "final")
        sys.modules["imapclient.version"] = stand_in
        try:
            return importlib.import_module("imapclient")
        except ImportError:
            for name in [name for name in sys.modules
                         if name == "imapclient" or name.startswith("imapclient.")]:
                del sys.modules[name]
    return importlib.import_module("imapclient")


def _installed_version(package: str) -> str | None:
    """Return the version in the name of ``package``'s ``.dist-info`` directory next to the
    package itself (how pip installs it), or None."""
    import importlib.util
    import os

    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    site = os.path.dirname(os.path.dirname(spec.origin))
    prefix = f"{package}-".lower()
    try:
        names = os.listdir(site)
    except OSError:
        return None
    for name in names:
        if name.lower().startswith(prefix) and name.endswith(".dist-info"):
            return name[len(prefix):-len(".dist-info")]
    return None


def _ssl_context(settings: Settings) -> ssl.SSLContext:
    import ssl

    context = ssl.create_default_context(cafile=settings.ca_file)
    if settings.fingerprint and not settings.ca_file:
        # A pinned certificate is checked byte for byte after the handshake (see
        # Connection._check_pin); chain and name checks would refuse the self-signed
        # certificates pinning exists for.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class Connection:
    """A connected, logged-in IMAP client. Build with :meth:`open`; close with :meth:`close`."""

    def __init__(self, settings: Settings, client: Any, login: Login) -> None:
        self.settings = settings
        self._client = client
        self._login_with = login
        #: Every secret this connection used, to remove from any text that leaves it.
        self._secrets: list[str] = (
            [login.password] if isinstance(login, PasswordLogin) else [])
        self.capabilities: frozenset[str] = frozenset()

    # --- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, settings: Settings, login: Login) -> Connection:
        """Connect, secure and log in.

        Raise :class:`AuthError` when the server refuses the credentials, :class:`Unreachable`
        when no connection can be made, and :class:`SourceError` for TLS problems (each with
        the fix in the sentence).
        """
        import ssl

        imapclient = import_imapclient()
        s = settings
        context = _ssl_context(s) if s.tls != "none" else None
        try:
            client = imapclient.IMAPClient(s.host, s.port, ssl=s.tls == "implicit",
                                           ssl_context=context, timeout=s.timeout)
        except ssl.SSLCertVerificationError as error:
            raise _certificate_error(s, error) from None
        except ssl.SSLError as error:
            raise SourceError(f"TLS with {s.where} failed ({error.reason or error}); check "
                              f"that port {s.port} speaks implicit TLS, or set tls = "
                              '"starttls"') from None
        except OSError as error:
            raise Unreachable(f"cannot connect to {s.where} ({error.strerror or error}); is "
                              "the server running and are host and port right?") from None
        # imapclient sets imaplib's trace to level 5, which formats every line sent and
        # received (LOGIN arguments included) for its debug log: switch it off first.
        client._imap.debug = 0
        connection = cls(settings, client, login)
        try:
            connection._secure(context)
            connection._login()
        except BaseException:
            connection.close()
            raise
        return connection

    def _secure(self, context: ssl.SSLContext | None) -> None:
        import ssl

        s = self.settings
        if s.tls == "starttls":
            if not self._client.has_capability("STARTTLS"):
                # RFC 8314 §4.1 / mbsync: never fall back to plaintext when STARTTLS is asked.
                raise SourceError(f"{s.where} does not offer STARTTLS, so the password would "
                                  'travel in clear text; use tls = "implicit" (port 993) if '
                                  "the server supports it")
            try:
                self._client.starttls(context)
            except ssl.SSLCertVerificationError as error:
                raise _certificate_error(s, error) from None
            except (ssl.SSLError, OSError) as error:
                raise SourceError(f"STARTTLS with {s.where} failed ({error}); check the "
                                  "server's TLS setup") from None
        if s.fingerprint and s.tls != "none":
            self._check_pin()

    def _check_pin(self) -> None:
        s = self.settings
        certificate = self._client.socket().getpeercert(binary_form=True) or b""
        seen = hashlib.sha256(certificate).hexdigest()
        if not hmac.compare_digest(seen, s.fingerprint or ""):
            raise SourceError(f"the certificate of {s.where} has SHA-256 fingerprint {seen}, "
                              f"not the pinned one; if the server's certificate was renewed, "
                              f"check it and update sources.{s.source}.fingerprint")

    def _login(self) -> None:
        import imapclient.exceptions

        s = self.settings
        login = self._login_with
        if isinstance(login, OAuthLogin):
            self._oauth_login(login.tokens)
        else:
            try:
                self._client.login(s.username, login.password)
            except imapclient.exceptions.LoginError as error:
                said = _redact(str(error), *self._secrets).removeprefix("login failed: ")
                if said[:2] in ("b'", 'b"') and said[-1:] == said[1]:
                    said = said[2:-1]  # imapclient 4 shows the server's text as a bytes repr
                raise AuthError(f"{s.where} refused the login of {s.username} ({said}); run: "
                                f"syncd auth {s.source}") from None
            except Exception as error:
                raise self._translate(error, "LOGIN") from None
        capabilities = self._client.capabilities()
        self.capabilities = frozenset(
            (item.decode("ascii", "replace") if isinstance(item, bytes) else str(item)).upper()
            for item in capabilities)

    def _oauth_login(self, tokens: TokenSource) -> None:
        """AUTHENTICATE with a token; once more with a fresh one if it is refused.

        The refused token may have expired since it was handed out (a cached access token
        lives ~1 h; a session or a daemon's IDLE connection lives longer), so the source is
        asked to refresh it; a second refusal means the grant itself is gone.
        """
        s = self.settings
        # RFC 7628 is the standard; XOAUTH2 is what Microsoft 365 advertises and Gmail keeps.
        mechanism = ("OAUTHBEARER" if self._client.has_capability("AUTH=OAUTHBEARER")
                     else "XOAUTH2")
        token = tokens.access_token()
        self._secrets.append(token)
        try:
            self._authenticate(mechanism, token)
            return
        except _TokenRefused as refused:
            first = str(refused)
        logger.info("imap %s: %s refused the access token (%s); refreshing it and trying once "
                    "more", s.source, s.where, first)
        fresh = tokens.access_token(fresh=True)
        self._secrets.append(fresh)
        try:
            if fresh == token:  # nothing new to offer (a token_command printing the same)
                raise _TokenRefused(first)
            self._authenticate(mechanism, fresh)
        except _TokenRefused as refused:
            raise AuthError(f"{s.where} refused the OAuth access token of {s.username} "
                            f"({refused}); run: syncd auth {s.source}") from None

    def _authenticate(self, mechanism: str, token: str) -> None:
        """Send ``AUTHENTICATE mechanism`` with ``token``; raise :class:`_TokenRefused` on NO.

        imaplib calls the responder once per server challenge (RFC 3501 §6.2.2). The first,
        empty, gets the initial response. A second one is the server's error report (a JSON
        object, RFC 7628 §3.2.2): the client must answer it with a lone ^A for OAUTHBEARER
        (RFC 7628 §3.2.3) or an empty line for XOAUTH2, never the token again; the server
        then says NO. imapclient's oauth2_login/oauthbearer_login resend the whole initial
        response there, so they are not used.
        """
        import imaplib

        s = self.settings
        respond = SaslResponder(mechanism, s.username, token, s.host, s.port)
        challenges = respond.challenges
        try:
            self._client._imap.authenticate(mechanism, respond)
        except imaplib.IMAP4.abort as error:
            raise self._translate(error, "AUTHENTICATE") from None
        except imaplib.IMAP4.error as error:
            said = _redact(str(error), *self._secrets)
            status = _error_status(challenges[1:])
            raise _TokenRefused(f"{said}; status {status}" if status else said) from None
        except Exception as error:
            raise self._translate(error, "AUTHENTICATE") from None

    def interrupt(self) -> None:
        """From another thread: shut the socket down so a blocked read returns at once.

        SHUT_RDWR wakes the poll(2) the reading thread blocks in (it then reads EOF); closing
        the socket here instead could race with that thread's own reads. Never raises.
        """
        with contextlib.suppress(Exception):
            self._client.socket().shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Log out, or just drop the socket if that fails; never raise."""
        try:
            self._client.logout()
        except Exception:
            try:
                self._client.shutdown()
            except Exception:
                logger.debug("closing the connection to %s failed", self.settings.where)

    # --- commands ----------------------------------------------------------------------------

    def _translate(self, error: BaseException, command: str) -> Exception:
        """Map a library or socket error to :class:`Lost` or :class:`Refused`."""
        import imaplib

        if isinstance(error, imaplib.IMAP4.abort | OSError | EOFError):
            return Lost(f"{command}: {_redact(str(error), *self._secrets)}")
        if isinstance(error, imaplib.IMAP4.error):
            return Refused(_redact(str(error), *self._secrets))
        return error if isinstance(error, Exception) else Exception(str(error))

    def _run(self, command: str, action: Callable[[], T]) -> T:
        try:
            return action()
        except (Lost, Refused, SourceError):
            raise
        except Exception as error:
            raise self._translate(error, command) from None

    def list_folders(self) -> list[FolderInfo]:
        """Return every folder the server lists (LIST "" "*"), names decoded from UTF-7."""
        return _folder_infos(self._run("LIST", self._client.list_folders))

    @property
    def lists_status(self) -> bool:
        """True when the server can answer LIST with each folder's STATUS (RFC 5819) and
        with the RFC 6154 attributes a plain LIST gives (the SPECIAL-USE return option)."""
        return {"LIST-STATUS", "SPECIAL-USE"} <= self.capabilities

    def list_with_status(self) -> tuple[list[FolderInfo], dict[str, FolderStatus]]:
        """Return what :meth:`list_folders` returns and, from the same single command, the
        UIDVALIDITY, UIDNEXT and message count of the folders it could look up, by name.

        ``LIST "" "*" RETURN (CHILDREN SPECIAL-USE STATUS (UIDVALIDITY UIDNEXT MESSAGES))``
        (RFC 5819; only when :attr:`lists_status`): one round trip instead of one STATUS per
        folder. An extended LIST gives the special-use attributes only when asked (RFC 6154
        §5.1; Dovecot leaves them out otherwise), and CHILDREN (RFC 5258 §4) keeps the rest of
        the attributes what a plain LIST gives, so folders are chosen the same. A folder may
        be missing from the statuses (RFC 5819 §2: never for ``\\Noselect``, and a server
        may drop one it failed to look up): the caller asks for its STATUS alone.
        Raise :class:`Lost` or :class:`Refused`.
        """
        client = self._client
        imap = client._imap

        def command() -> tuple[list[Any], list[Any]]:
            imap.untagged_responses.pop("STATUS", None)  # nothing left from before
            kind, data = imap._simple_command(
                "LIST", '""', '"*"', "RETURN",
                "(CHILDREN SPECIAL-USE STATUS (UIDVALIDITY UIDNEXT MESSAGES))")
            statuses = imap.untagged_responses.pop("STATUS", [])
            client._checkok("list", kind, data)
            _, listed = imap._untagged_response(kind, data, "LIST")
            return listed, statuses

        listed, statuses = self._run("LIST", command)
        folders = _folder_infos(client._proc_folder_list(listed))
        return folders, _statuses(client, statuses)

    def namespaces(self) -> Namespaces | None:
        """Return the account's namespaces (RFC 2342), or None when the server has no NAMESPACE
        capability."""
        if "NAMESPACE" not in self.capabilities:
            return None
        answer = self._run("NAMESPACE", self._client.namespace)

        def pairs(kind: Any) -> tuple[tuple[str, str | None], ...]:
            return tuple((_text(prefix) or "", _text(delimiter))
                         for prefix, delimiter in kind or ())

        return Namespaces(pairs(answer[0]), pairs(answer[1]), pairs(answer[2]))

    def status(self, folder: str) -> FolderStatus:
        """Return one folder's STATUS (RFC 3501 §6.3.10): cheap, and no SELECT needed."""
        answer = self._run("STATUS", lambda: self._client.folder_status(
            folder, ("UIDVALIDITY", "UIDNEXT", "MESSAGES")))
        return FolderStatus(int(answer.get(b"UIDVALIDITY", 0)), int(answer.get(b"UIDNEXT", 0)),
                            int(answer.get(b"MESSAGES", 0)))

    def statuses(self, folders: Sequence[str]) -> dict[str, FolderStatus]:
        """Return the STATUS of each of ``folders`` by name, every command sent before the
        first answer is read (RFC 3501 §5.5: STATUS commands may be pipelined), so many
        folders cost one round trip, not one each, where the server lacks LIST-STATUS.

        A folder whose answer names it differently (no name in common) is asked again alone.
        Raise :class:`Refused` when the server refuses one, as :meth:`status` does, and
        :class:`Lost`.
        """
        client = self._client
        imap = client._imap

        def command() -> list[Any]:
            imap.untagged_responses.pop("STATUS", None)
            refused: list[str] = []
            # At most _PIPELINED commands in flight: their answers (~100 bytes each) then fit
            # in the socket buffers even while this side is still sending, so neither side
            # can block the other (a thousand folders would not).
            for start in range(0, len(folders), _PIPELINED):
                tags = [imap._command("STATUS", client._normalise_folder(folder),
                                      "(UIDVALIDITY UIDNEXT MESSAGES)")
                        for folder in folders[start:start + _PIPELINED]]
                for tag in tags:  # every answer read, so nothing is left in flight
                    kind, data = imap._command_complete("STATUS", tag)
                    if kind != "OK":
                        refused.append(" ".join(_text(item) or "" for item in data
                                                if isinstance(item, bytes)))
            answers: list[Any] = imap.untagged_responses.pop("STATUS", [])
            if refused:
                raise Refused(_redact(f"STATUS: {refused[0]}", *self._secrets))
            return answers

        found = _statuses(client, self._run("STATUS", command)) if folders else {}
        return {folder: found[folder] if folder in found else self.status(folder)
                for folder in folders}

    def examine(self, folder: str) -> FolderStatus:
        """Open ``folder`` read-only (EXAMINE, RFC 3501 §6.3.2: flags never change)."""
        answer = self._run("EXAMINE", lambda: self._client.select_folder(folder, readonly=True))
        return FolderStatus(int(answer.get(b"UIDVALIDITY", 0)), int(answer.get(b"UIDNEXT", 0)),
                            int(answer.get(b"EXISTS", 0)))

    def uids_from(self, first: int) -> list[int]:
        """Return the sorted UIDs >= ``first`` in the open folder.

        ``UID SEARCH UID n:*`` always matches the highest UID even when it is below n (RFC
        3501 §6.4.8: ``*`` is the largest UID in use), so the answer is filtered.
        """
        found = self._run("UID SEARCH", lambda: self._client.search(["UID", f"{first}:*"]))
        return sorted(uid for uid in (int(value) for value in found) if uid >= first)

    def fetch(self, first: int, last: int, items: str) -> dict[int, Fetched]:
        """Send ``UID FETCH first:last items`` (a range: one short command line) and return
        what came back, keyed by UID. Raise :class:`Lost` or :class:`Refused`."""
        return self.receive_fetch(self.send_fetch(first, last, items))

    def send_fetch(self, first: int, last: int, items: str) -> bytes:
        """Send ``UID FETCH first:last items`` without waiting; return the command's tag.

        Read the answer with :meth:`receive_fetch`, in the order the commands were sent.
        Keeping one FETCH in flight (pipelining, RFC 3501 §5.5) lets the server prepare the
        next batch while this client parses and stores the previous one. Raise :class:`Lost`.
        """
        imap = self._client._imap
        # imaplib has no public pipelining: _command sends and returns the tag; the answer is
        # read straight from imaplib's socket file by read_fetch_answer.
        tag: bytes = self._run("UID FETCH",
                               lambda: imap._command("UID", "FETCH", f"{first}:{last}", items))
        return tag

    def receive_fetch(self, tag: bytes) -> dict[int, Fetched]:
        """Read the answer to the FETCH sent as ``tag`` by :meth:`send_fetch`, keyed by UID.

        Every command sent before it must have been read already. Raise :class:`Lost` or
        :class:`Refused`.
        """
        imap = self._client._imap

        def command() -> dict[int, Fetched]:
            file = imap.file
            status, text, fetched = read_fetch_answer(file.readline, file.read, tag)
            imap.tagged_commands.pop(tag, None)  # imaplib's book of commands awaiting an answer
            if status != "OK":
                raise Refused(f"{status} {text}".strip())
            return fetched

        return self._run("UID FETCH", command)

    # --- IDLE (RFC 2177) ---------------------------------------------------------------------

    def idle_wait(self, timeout: float) -> bool:
        """Wait in IDLE on the open folder for at most ``timeout`` seconds; return True when
        the server reported new mail (EXISTS) or ended the IDLE. Raise :class:`Lost`."""

        def wait() -> bool:
            self._client.idle()
            try:
                responses = self._client.idle_check(timeout=timeout)
            finally:
                self._client.idle_done()
            return any(len(response) > 1 and response[1] in (b"EXISTS", b"BYE")
                       for response in responses)

        return self._run("IDLE", wait)


def _folder_infos(entries: Sequence[tuple[Any, Any, Any]]) -> list[FolderInfo]:
    """imapclient's LIST entries as :class:`FolderInfo` (attributes in lower case)."""
    folders = []
    for flags, delimiter, name in entries:
        attributes = frozenset(
            (flag.decode("ascii", "replace") if isinstance(flag, bytes) else str(flag)).lower()
            for flag in flags)
        text = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
        folders.append(FolderInfo(text, attributes, _text(delimiter)))
    return folders


def _statuses(client: Any, responses: list[Any]) -> dict[str, FolderStatus]:
    """Untagged ``STATUS name (item value ...)`` responses (RFC 3501 §7.2.4) by folder name,
    decoded as imapclient decodes LIST's names, so the two match."""
    from imapclient.imap_utf7 import decode as decode_utf7
    from imapclient.response_parser import parse_response

    found: dict[str, FolderStatus] = {}
    parsed = parse_response([item for item in responses if item not in (b"", None)])
    for index in range(0, len(parsed) - 1, 2):
        name, items = parsed[index], parsed[index + 1]
        if isinstance(name, int):
            text = str(name)  # a quoted number parses as one (as in imapclient's LIST)
        else:
            decoded = decode_utf7(name) if client.folder_encode else name
            text = decoded.decode("utf-8", "replace") if isinstance(decoded, bytes) else decoded
        if not isinstance(items, tuple):
            continue
        values = {str(_text(key) or "").upper(): value for key, value in zip(
            items[::2], items[1::2], strict=False)}
        try:
            found[str(text)] = FolderStatus(int(values.get("UIDVALIDITY", 0)),
                                            int(values.get("UIDNEXT", 0)),
                                            int(values.get("MESSAGES", 0)))
        except (TypeError, ValueError):
            continue  # not numbers: that folder gets a STATUS of its own
    return found


def _text(value: Any) -> str | None:
    """A protocol string as text: bytes decoded, None (NIL) kept."""
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _error_status(challenges: Sequence[bytes]) -> str:
    """Return the ``status`` of an RFC 7628 §3.2.2 error challenge (e.g. ``invalid_token``,
    Gmail's ``400``), or ""."""
    import json

    for challenge in challenges:
        try:
            status = json.loads(challenge.decode("utf-8", "replace")).get("status")
        except (ValueError, AttributeError):
            continue
        if isinstance(status, str | int) and str(status).isprintable():
            return str(status)[:40]
    return ""


def _certificate_error(settings: Settings, error: ssl.SSLCertVerificationError) -> SourceError:
    reason = error.verify_message or error.reason or "not trusted"
    return SourceError(f"the certificate of {settings.where} could not be verified ({reason}); "
                       f"set sources.{settings.source}.ca_file to the CA that signed it, or "
                       "fingerprint to pin it")


class Session:
    """A connection that is re-opened, with exponential backoff, when it is lost.

    ``reopen`` remembers the open folder: after a reconnect it is examined again, and
    :class:`ValidityChanged` is raised if its UIDVALIDITY moved meanwhile.
    """

    def __init__(self, settings: Settings, login: Login,
                 backoff: Sequence[float] = (0.5, 1.0, 2.0, 4.0, 8.0)) -> None:
        self.settings = settings
        self._login = login
        self._backoff = tuple(backoff)
        self.connection = Connection.open(settings, login)
        self._folder: tuple[str, int] | None = None
        #: The open folder and what its EXAMINE answered, for :meth:`examine` ``reuse``.
        self._opened: tuple[str, FolderStatus] | None = None
        #: Connections lost during this session (each one re-opened).
        self.losses = 0

    def close(self) -> None:
        """Close the connection; never raise."""
        self.connection.close()

    def examine(self, folder: str, *, reuse: bool = False) -> FolderStatus:
        """EXAMINE ``folder`` (reconnecting if needed) and remember it for reconnects.

        With ``reuse``, when ``folder`` is already the open folder, return what opening it
        answered and send nothing: a second EXAMINE would only make the server sync the
        mailbox again (Dovecot rescans a large Maildir for every open after new mail).
        """
        if reuse and self._opened is not None and _same_folder(self._opened[0], folder):
            return self._opened[1]
        status = self.call(lambda connection: connection.examine(folder))
        self._folder = (folder, status.validity)
        self._opened = (folder, status)
        return status

    def call(self, action: Callable[[Connection], T]) -> T:
        """Run ``action`` on the connection, reconnecting and repeating it when it is lost.

        Raise :class:`SourceError` when the server stays unreachable through every backoff
        step; :class:`Refused` and :class:`AuthError` pass through.
        """
        while True:
            try:
                return action(self.connection)
            except Lost as lost:
                self.reconnect(lost)

    def reconnect(self, cause: Lost) -> None:
        """Open a new connection after ``cause``; wait 0.5, 1, 2, 4, 8 s between attempts."""
        self.losses += 1
        if self.losses > 50:
            raise SourceError(f"the connection to {self.settings.where} broke {self.losses} "
                              "times in one sync; check the network or the server's logs")
        self.connection.close()
        last: Exception = cause
        for delay in (0.0, *self._backoff):
            if delay:
                time.sleep(delay)
            try:
                self.connection = Connection.open(self.settings, self._login)
                if self._folder is not None:
                    folder, validity = self._folder
                    status = self.connection.examine(folder)
                    if status.validity != validity:
                        raise ValidityChanged(folder)
                    self._opened = (folder, status)
                logger.info("imap %s: reconnected to %s after: %s", self.settings.source,
                            self.settings.where, cause)
                return
            except (Unreachable, Lost) as error:
                last = error
                logger.info("imap %s: reconnecting to %s failed (%s)", self.settings.source,
                            self.settings.where, error)
        raise SourceError(f"lost the connection to {self.settings.where} and could not "
                          f"reconnect ({last}); the next sync resumes where this one stopped")


def _same_folder(one: str, other: str) -> bool:
    """True for the same name, or INBOX in any case (RFC 3501 §5.1: INBOX is case-insensitive)."""
    return one == other or one.upper() == other.upper() == "INBOX"


class ValidityChanged(Exception):
    """The open folder's UIDVALIDITY changed during the pass (RFC 3501 §2.3.1.1)."""
