"""IMAP source: the header metadata of every message in the selected folders of one account.

Folders: found by RFC 6154 SPECIAL-USE attribute (``\\Sent``, ``\\Junk``, ``\\Trash``,
``\\Drafts``, ``\\All``, ``\\Archive``); by name only when the server marks no folder at all
(PROTOCOL-NOTES rule 7), the name split on the hierarchy delimiter LIST gives for that folder
(``INBOX.Sent`` with ``"."`` on Cyrus and Courier). Junk, trash and drafts are never read;
``folders`` / ``exclude_folders`` globs select among the rest. Only my personal namespace is
read (RFC 2342 NAMESPACE; the whole tree when the server has no NAMESPACE): another user's or a
shared folder (``Other Users/alice/Sent``, ``user.alice.Sent``) is read only when a ``folders``
glob spells out its namespace prefix, and then never as Sent, so nothing in it makes an address
mine. On Gmail (capability ``X-GM-EXT-1``) only the
``\\All`` folder is read, once, and each message's X-GM-LABELS say whether it is sent mail,
instead of reading every label folder (Gmail IMAP extensions).

Identity: a record's source id is ``<folder>/<UIDVALIDITY>/<UID>`` (RFC 3501 §2.3.1.1: a UID
alone identifies nothing; PROTOCOL-NOTES rule 1).

Cursor (JSON, opaque to the engine), per folder: UIDVALIDITY, the next UID to read, the
message count, and quarantined UIDs with their retry time. A pass:

1. UIDVALIDITY, UIDNEXT and the message count of every folder: INBOX is opened with EXAMINE
   first of all, before LIST (where new mail lands, so usually the folder read next, and far
   cheaper on Dovecot before LIST; see ``_probe``); the others come with LIST itself where
   the server has LIST-STATUS (RFC 5819: one command for all), else from one STATUS each, all
   sent at once (pipelined, RFC 3501 §5.5); a folder whose UIDVALIDITY and UIDNEXT are as
   recorded, with no quarantined UID due, is done; nothing else is sent;
2. otherwise EXAMINE (read-only; INBOX is open already), ``UID SEARCH UID n:*`` (the ``n:*``
   quirk filtered), and ``UID FETCH first:last`` in batches of at most 500 UIDs for UID,
   INTERNALDATE and only the header fields the rules read (``BODY.PEEK``: never a body, never
   ``\\Seen``), the next batch's FETCH sent while the previous one is parsed and stored;
3. every page of at most 500 messages carries a cursor that is valid once it is stored, so a
   crash resumes at the right UID.

Changes the server may show: a changed UIDVALIDITY drops that folder's cursor and the folder is
read again under new source ids; the store dedupes by Message-ID and sender, so no contact is
counted twice (RFC 4549 §4.3; PROTOCOL-NOTES rule 2). A UIDNEXT that goes backwards is accepted
(rule 3). Expunged or moved mail is never reported as removed: a contact that happened stays.
Flag changes do not matter to syncd, so HIGHESTMODSEQ (RFC 7162) is not needed to detect
"nothing changed": UIDNEXT moves for every new message. If every folder that held mail at the
last pass now lists none, the pass stops with :class:`~syncd.errors.SourceEmpty` instead
(PROTOCOL-NOTES rule 12); a single folder that empties (inbox zero) is normal.

Robustness: socket timeouts (``timeout``); a lost connection is re-opened with exponential
backoff and the pass goes on where it was; a batch the server refuses (NO/BAD), aborts, or
answers with fewer messages than it holds is halved down to the one UID at fault, which is
reported as a skip and retried after 1 h, 2 h, 4 h ... up to a week (PROTOCOL-NOTES: Dovecot
aborts a FETCH on a corrupt file, Exchange answers OK with no data, Yahoo says NO).
"""

from __future__ import annotations

import fnmatch
import logging
import re
import time
from collections.abc import Callable, Container, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from connectors.mail._folders import role_for_folder_name
from connectors.mail._imap_fetch import fetch_items
from connectors.mail._imap_read import FolderReader, FolderState, dump_cursor, load_cursor
from connectors.mail._imap_session import (
    Connection,
    FolderInfo,
    FolderStatus,
    Login,
    Lost,
    Namespaces,
    OAuthLogin,
    PasswordLogin,
    Refused,
    Session,
    Settings,
    ValidityChanged,
)
from connectors.mail._pages import PageBuilder
from syncd.errors import CredentialError, SourceEmpty, SourceError
from syncd.model import NEVER_COUNTED_ROLES, Page, Role

if TYPE_CHECKING:
    # Only for OAuth sources: imported where used, so a password login never loads it.
    from connectors.mail._imap_oauth import TokenSource

logger = logging.getLogger(__name__)

_PAGE_SIZE = 500
#: UIDs per UID FETCH: a range keeps the command line short; 500 keeps memory flat (notes:
#: RSS 45 MB at <= 5k per command, 159 MB at 100k).
_BATCH = 500

#: RFC 6154 §2 attributes (lower case) -> role; \All and \Archive hold archived mail.
_SPECIAL_USE: Mapping[str, Role] = {
    "\\sent": Role.SENT,
    "\\junk": Role.JUNK,
    "\\trash": Role.TRASH,
    "\\drafts": Role.DRAFTS,
    "\\all": Role.ARCHIVE,
    "\\archive": Role.ARCHIVE,
}


@dataclass(frozen=True, slots=True)
class ImapFolder:
    """A folder this source reads: its name on the server and its role."""

    name: str
    role: Role


class ImapConnector:
    """Reads message headers from one IMAP account; see the module docstring."""

    source_type = "imap"
    #: The app adds ``state_dir`` to the options: built-in OAuth providers keep their token
    #: cache in its token store (syncd/token_store.py).
    wants_state_dir = True

    def __init__(self, name: str, options: Mapping[str, Any], timezone: ZoneInfo) -> None:
        self.name = name
        self._options = options
        self._timezone = timezone
        tls = str(options.get("tls") or "implicit")
        port = options.get("port") or (993 if tls == "implicit" else 143)
        timeout = options.get("timeout") or timedelta(seconds=60)
        seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)
        self.settings = Settings(
            source=name, host=str(options["host"]), port=int(port),
            username=str(options["username"]), tls=tls, timeout=seconds,
            ca_file=options.get("ca_file"), fingerprint=options.get("fingerprint"))
        if tls == "none" and not _is_loopback(self.settings.host):
            # Config validation refuses this too; a connector built by other means must not
            # send a password in clear text over a network either.
            raise SourceError(f'tls = "none" is allowed only for a server on this machine, not '
                              f"{self.settings.host}; use implicit or starttls")
        #: ``folders`` as configured; the default "*" selects only the personal namespace.
        self._named = tuple(options.get("folders") or ())
        self._include = self._named or ("*",)
        self._exclude = tuple(options.get("exclude_folders") or ())
        #: Seconds between reconnect attempts; tests shorten it.
        self.backoff: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)
        self._clock = time.time
        self._idle: Connection | None = None
        #: Seconds a token_command may run; tests shorten it.
        self.command_timeout = 60.0
        self._tokens: TokenSource | None = None

    # --- public -----------------------------------------------------------------------------

    def check_password(self, password: str) -> None:
        """Log in with ``password`` and out again.

        Return None when the server accepts it. Raise :class:`~syncd.errors.AuthError` when it
        refuses, :class:`~syncd.errors.SourceError` when it cannot be reached or its TLS
        certificate is not trusted.
        """
        Connection.open(self.settings, PasswordLogin(password)).close()
        logger.info("imap %s: the server accepted the password", self.name)

    def authorize(self, say: Callable[[str], None]) -> str | None:
        """For ``auth = "oauth2"``: run the provider's sign-in (``say`` shows the user what to
        do), store the grant, and log in once with it; return a sentence saying where it went.

        Return None for ``auth = "password"`` (the caller asks for a password and uses
        :meth:`check_password`). Raise :class:`~syncd.errors.CredentialError` when the sign-in
        fails, :class:`~syncd.errors.AuthError` when the server refuses the new token.
        """
        if not self.uses_oauth:
            return None
        from connectors.mail._imap_oauth import AuthorizingTokenSource

        tokens = self.token_source()
        stored = tokens.authorize(say) if isinstance(tokens, AuthorizingTokenSource) else None
        Connection.open(self.settings, OAuthLogin(tokens)).close()
        logger.info("imap %s: the server accepted the access token", self.name)
        if stored is None:
            return f"token_command of {self.name} works: {self.settings.where} accepted its token"
        return f"signed in; {self.settings.where} accepted the token; the grant is in {stored}"

    def token_source(self) -> TokenSource:
        """Return this source's access tokens (one object per connector, kept: providers
        cache the access token in memory until it is refused)."""
        if self._tokens is None:
            from connectors.mail._imap_oauth import token_source

            self._tokens = token_source(self.name, self._options,
                                        command_timeout=self.command_timeout)
        return self._tokens

    def pull(self, cursor: str | None, known: Container[str]) -> Iterator[Page]:
        """Yield pages of messages new since ``cursor``; see the module docstring.

        Raise :class:`~syncd.errors.AuthError` when the login is refused,
        :class:`~syncd.errors.SourceEmpty` when every folder that held mail lists none, and
        :class:`~syncd.errors.SourceError` when the server cannot be reached, its certificate is
        not trusted, or the connection cannot be re-opened.
        """
        previous = self._load_cursor(cursor)
        session = Session(self.settings, self._login(), self.backoff)
        try:
            yield from self._pass(session, previous, known)
        finally:
            session.close()

    def folders(self, connection: Connection) -> list[ImapFolder]:
        """Return the folders to read, Sent-role first; see the module docstring."""
        return self._choose(connection, connection.list_folders())

    def _choose(self, connection: Connection, everything: list[FolderInfo]) -> list[ImapFolder]:
        """Return the folders of the LIST answer ``everything`` to read, Sent-role first."""
        listed = [folder for folder in everything
                  if not folder.attributes & {"\\noselect", "\\nonexistent"}]
        if "X-GM-EXT-1" in connection.capabilities:
            everything = [folder for folder in listed if "\\all" in folder.attributes]
            if everything:
                return [ImapFolder(everything[0].name, Role.ARCHIVE)]
        try:
            namespaces = connection.namespaces()
        except Refused as refused:
            logger.info("imap %s: the server refused NAMESPACE (%s); reading every folder it "
                        "lists as mine", self.name, refused)
            namespaces = None
        # RFC 6154 attributes are the truth where a server gives any; names are a guess only
        # for a server that marks nothing (PROTOCOL-NOTES rule 7).
        by_name = not any(folder.attributes & _SPECIAL_USE.keys() for folder in listed)
        chosen = []
        for folder in listed:
            if any(fnmatch.fnmatchcase(folder.name, glob) for glob in self._exclude):
                continue
            outside = _outside_prefix(folder.name, namespaces)
            if outside is None:
                role = _role(folder, by_name=by_name)
                if not any(fnmatch.fnmatchcase(folder.name, glob) for glob in self._include):
                    continue
            else:
                # Another user's or a shared folder: read only when ``folders`` names it, and
                # never as Sent, so nothing in it makes an address "mine" (RFC 2342 §5).
                if not any(_names_namespace(glob, outside) and fnmatch.fnmatchcase(
                        folder.name, glob) for glob in self._named):
                    continue
                role = _role(folder, by_name=True)
                if role not in NEVER_COUNTED_ROLES:
                    role = Role.OTHER
            if role in NEVER_COUNTED_ROLES:
                continue
            chosen.append(ImapFolder(folder.name, role))
        chosen.sort(key=lambda folder: (folder.role is not Role.SENT, folder.name))
        return chosen

    def wait_for_changes(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds in IMAP IDLE (RFC 2177) on INBOX; return True when
        the server reported new mail, False on timeout.

        For the daemon: call it between passes and sync when it returns True. The connection
        is kept open across calls (servers end IDLE after ~30 min, RFC 2177 §3: keep
        ``timeout`` below that) and re-opened when lost. Return False at once if the server
        lacks IDLE. Raise what :meth:`pull` raises for login and connection failures.

        Only INBOX is watched (one IDLE needs one connection and one selected mailbox,
        RFC 2177); other folders, Sent included, are read on the source's interval.
        """
        if self._idle is None:
            self._idle = Connection.open(self.settings, self._login())
            self._idle.examine("INBOX")
        if "IDLE" not in self._idle.capabilities:
            return False
        try:
            return self._idle.idle_wait(timeout)
        except (Lost, Refused):
            self.close()
            return True  # something happened; a sync will tell what

    def interrupt(self) -> None:
        """From another thread: shut the IDLE socket down so a blocked :meth:`wait_for_changes`
        returns or raises at once (the waiting thread then calls :meth:`close`); never raise."""
        connection = self._idle
        if connection is not None:
            connection.interrupt()

    def close(self) -> None:
        """Close the IDLE connection, if any; never raise."""
        if self._idle is not None:
            self._idle.close()
            self._idle = None

    # --- one pass ---------------------------------------------------------------------------

    @property
    def uses_oauth(self) -> bool:
        """True for ``auth = "oauth2"`` (which a token_command or provider alone implies)."""
        auth = self._options.get("auth")
        return auth == "oauth2" or (auth is None and bool(
            self._options.get("token_command") or self._options.get("oauth_provider")))

    def _login(self) -> Login:
        """How to log in: a password (read now), or the source's OAuth tokens."""
        if self.uses_oauth:
            return OAuthLogin(self.token_source())
        from syncd.credentials import read_password

        try:
            return PasswordLogin(read_password(self.name, self._options))
        except CredentialError as error:
            raise SourceError(str(error)) from None

    def _pass(self, session: Session, previous: dict[str, FolderState],
              known: Container[str]) -> Iterator[Page]:
        started = time.monotonic()
        connection = session.connection
        gmail = "X-GM-EXT-1" in connection.capabilities
        inbox = self._open_inbox_first(session) if not gmail and self._reads_inbox() else None
        if session.connection.lists_status:
            everything, listed = session.call(Connection.list_with_status)
            folders = self._choose(session.connection, everything)
        else:
            folders = self._choose(session.connection, session.call(Connection.list_folders))
            others = [folder.name for folder in folders if folder.name.upper() != "INBOX"]
            listed = session.call(partial(Connection.statuses, folders=others))
        statuses = {folder.name: self._probe(session, folder, inbox, listed)
                    for folder in folders}
        self._guard_empty(previous, statuses)
        state = dict(previous)
        builder = PageBuilder(size=_PAGE_SIZE)
        reader: FolderReader | None = None
        opened = 0
        for folder in folders:
            status = statuses[folder.name]
            before = previous.get(folder.name)
            if before is not None and before.validity != status.validity:
                logger.info("imap %s: %s has a new UIDVALIDITY (%d, was %d); reading it again "
                            "(no contact is counted twice)", self.name, folder.name,
                            status.validity, before.validity)
                before = None
            if before is not None and status.next_uid == before.next_uid and not before.due(
                    self._clock()):
                before.messages = status.messages
                continue
            opened += 1
            if reader is None:
                # Loaded with the first folder that has new mail: a pass that finds none (the
                # daemon's usual pass; most of a no-change `syncd sync` is start-up) never
                # loads the header parser.
                from connectors.mail._mail import FETCH_HEADERS

                reader = FolderReader(session, fetch_items(FETCH_HEADERS, gmail=gmail), known,
                                      batch=_BATCH, clock=self._clock)
            try:
                yield from reader.read(folder.name, folder.role, status, before, state,
                                       builder)
            except ValidityChanged:
                logger.info("imap %s: %s changed UIDVALIDITY during the sync; it is read "
                            "again next time", self.name, folder.name)
                state.pop(folder.name, None)
        # Folders gone from the server are forgotten; their messages stay counted.
        for name in list(state):
            if name not in statuses:
                del state[name]
        logger.info("imap %s: %d folders, %d opened, %d new messages, %d skipped in %.2f s",
                    self.name, len(folders), opened, builder.record_count, builder.skip_count,
                    time.monotonic() - started)
        yield builder.page(dump_cursor(state))

    def _open_inbox_first(self, session: Session) -> FolderStatus | None:
        """EXAMINE INBOX before anything else (see :meth:`_probe` for why); None when the
        server refuses it (INBOX always exists, RFC 3501 §5.1, but a server that breaks that
        is then treated as before: INBOX is opened only if LIST lists it)."""
        try:
            return session.examine("INBOX")
        except Refused as refused:
            logger.info("imap %s: the server refused to open INBOX (%s)", self.name, refused)
            return None

    def _reads_inbox(self) -> bool:
        """True when the ``folders`` / ``exclude_folders`` globs select INBOX (it is always in
        my personal namespace, RFC 2342 §5, and always exists, RFC 3501 §5.1)."""
        return (any(fnmatch.fnmatchcase("INBOX", glob) for glob in self._include)
                and not any(fnmatch.fnmatchcase("INBOX", glob) for glob in self._exclude))

    @staticmethod
    def _probe(session: Session, folder: ImapFolder, inbox: FolderStatus | None,
               listed: Mapping[str, FolderStatus]) -> FolderStatus:
        """Return ``folder``'s UIDVALIDITY, UIDNEXT and message count, sending at most one
        command.

        INBOX, where new mail lands, is opened with EXAMINE, whose answer carries the same
        three values (RFC 3501 §6.3.2, §7.3.1, §7.1): when it has new mail it is then read
        without a second open, which on a large Dovecot Maildir halves the server's work (each
        open after a change rescans the directory). :meth:`_pass` opens it right after the
        login, before LIST (``inbox``): measured on Dovecot 2.3 (Maildir, its default mailbox
        list index), an open of an 85,000-message INBOX costs 3-5 ms as the session's first
        folder command, but 80-230 ms after a LIST or STATUS (about 1.5 ms per 1,000 messages,
        every time), which was most of a no-change sync. Every other folder's values come
        from the LIST-STATUS answer (``listed``, RFC 5819) where the server has it, else from
        pipelined STATUS commands (RFC 3501 §6.3.10, §5.5: no open at all, one round trip);
        a folder missing from either gets a STATUS of its own.
        """
        if folder.name.upper() == "INBOX":
            return inbox if inbox is not None else session.examine(folder.name)
        status = listed.get(folder.name)
        if status is not None:
            return status
        return session.call(partial(Connection.status, folder=folder.name))

    def _guard_empty(self, previous: Mapping[str, FolderState],
                     statuses: Mapping[str, FolderStatus]) -> None:
        """Raise SourceEmpty when every folder that held mail now lists none (or is gone)."""
        had = {name: entry.messages for name, entry in previous.items() if entry.messages}
        if not had:
            return
        if any(statuses[name].messages for name in had if name in statuses):
            return
        if any(status.messages for status in statuses.values()):
            return
        raise SourceEmpty(
            f"the server lists no mail in the {len(had)} folder(s) that held "
            f"{sum(had.values())} messages at the last sync; nothing was changed; if the mail "
            f"is really gone, run: syncd sync {self.name} --full")

    # --- cursor -----------------------------------------------------------------------------

    def _load_cursor(self, cursor: str | None) -> dict[str, FolderState]:
        """Return the recorded folder states; an unreadable cursor means "read everything"."""
        if not cursor:
            return {}
        try:
            return load_cursor(cursor)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            logger.warning("imap %s: ignoring an unreadable cursor; reading every folder",
                           self.name)
            return {}



def _role(folder: FolderInfo, *, by_name: bool) -> Role:
    """Role from RFC 6154 attributes; INBOX by name (RFC 3501 §5.1); else, with ``by_name``,
    the usual names, split on the delimiter LIST gave for this folder (``INBOX.Sent``)."""
    for attribute, role in _SPECIAL_USE.items():
        if attribute in folder.attributes:
            return role
    if folder.name.upper() == "INBOX":
        return Role.INBOX
    return role_for_folder_name(folder.name, folder.delimiter) if by_name else Role.OTHER


def _names_namespace(glob: str, prefix: str) -> bool:
    """True when ``glob`` spells out a folder of the namespace ``prefix``: its text before the
    first wildcard is not empty and starts with the prefix (``Other Users/alice/*`` does,
    ``*`` never does, so ``folders = ["*"]`` still reads only my own folders)."""
    literal = re.split(r"[*?\[]", glob, maxsplit=1)[0]
    return bool(literal) and literal.startswith(prefix)


def _outside_prefix(name: str, namespaces: Namespaces | None) -> str | None:
    """Return None when ``name`` is in my personal namespace, else the prefix of the other
    users' or shared namespace it is in (RFC 2342).

    The longest matching prefix decides (Cyrus's standard mode has personal ``INBOX.``, other
    users ``user.`` and shared ``""``); INBOX is always mine (RFC 3501 §5.1), as is a namespace's
    own root (``INBOX`` for the prefix ``INBOX.``). Without NAMESPACE the whole tree is
    personal, and so is a name in no namespace at all: another user's folders always carry
    their namespace's prefix, a server's quirk more likely leaves it off my own.
    """
    if namespaces is None or name.upper() == "INBOX":
        return None
    best: tuple[int, bool, str] | None = None
    for personal, entries in ((True, namespaces.personal), (False, namespaces.other_users),
                              (False, namespaces.shared)):
        for prefix, delimiter in entries:
            root = prefix[: -len(delimiter)] if delimiter and prefix.endswith(delimiter) else ""
            if (name.startswith(prefix) or (root and name == root)) and (
                    best is None or len(prefix) > best[0]):
                best = (len(prefix), personal, prefix)
    return None if best is None or best[1] else best[2]


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")
