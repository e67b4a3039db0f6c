"""Reading one IMAP folder for :class:`connectors.mail.imap.ImapConnector`, and the cursor it
advances.

:class:`FolderReader` reads the new messages of one folder (steps 2 and 3 of a pass in the
connector's module docstring): EXAMINE, ``UID SEARCH UID n:*``, then ``UID FETCH`` in batches,
the next batch sent while the previous one is parsed and stored (RFC 3501 §5.5), a failing
batch halved down to the one UID at fault, which is quarantined and retried after 1 h, 2 h,
4 h ... up to a week. :class:`FolderState` is what the cursor remembers of one folder;
:func:`load_cursor` and :func:`dump_cursor` are the cursor's JSON. Nothing here chooses
folders, logs in, or imports :mod:`connectors.mail.imap`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Container, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.mail._imap_fetch import Fetched, uid_ranges
from connectors.mail._imap_session import FolderStatus, Lost, Refused, Session
from connectors.mail._pages import PageBuilder
from syncd.model import Message, Page, Role, Skip

CURSOR_VERSION = 1
#: Seconds a quarantined UID waits before its first retry; each failure doubles it ...
QUARANTINE_FIRST = 3600.0
#: ... up to a week.
QUARANTINE_LONGEST = 7 * 86400.0

#: Gmail system labels (X-GM-LABELS) that say what a message in \All is.
_GMAIL_LABEL_ROLES: tuple[tuple[str, Role], ...] = (
    ("\\sent", Role.SENT),
    ("\\draft", Role.DRAFTS),
    ("\\inbox", Role.INBOX),
)


@dataclass(slots=True)
class FolderState:
    """What the cursor remembers about one folder."""

    validity: int
    next_uid: int
    messages: int
    #: UID -> (retry after, epoch seconds; failed attempts so far)
    quarantine: dict[int, tuple[float, int]]

    def due(self, now: float) -> bool:
        """True when a quarantined UID may be retried at ``now`` (epoch seconds)."""
        return any(at <= now for at, _tries in self.quarantine.values())

    def dump(self) -> dict[str, Any]:
        return {"v": self.validity, "next": self.next_uid, "count": self.messages,
                "q": {str(uid): [at, tries] for uid, (at, tries) in self.quarantine.items()}}

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> FolderState:
        quarantine = {int(uid): (float(entry[0]), int(entry[1]))
                      for uid, entry in dict(data.get("q") or {}).items()}
        return cls(int(data["v"]), int(data["next"]), int(data.get("count", 0)), quarantine)


def load_cursor(cursor: str) -> dict[str, FolderState]:
    """Return the folder states of ``cursor``.

    Raise ValueError, TypeError, KeyError, IndexError or AttributeError when it is not a cursor
    of this version (the caller then reads every folder).
    """
    data = json.loads(cursor)
    if data.get("version") != CURSOR_VERSION:
        raise ValueError("unknown cursor version")
    return {str(name): FolderState.load(entry) for name, entry in dict(data["folders"]).items()}


def dump_cursor(state: Mapping[str, FolderState]) -> str:
    """Return the cursor (compact JSON, keys sorted) holding the folder states ``state``."""
    return json.dumps({"version": CURSOR_VERSION,
                       "folders": {name: entry.dump() for name, entry in state.items()}},
                      sort_keys=True, separators=(",", ":"))


class FolderReader:
    """Reads the new messages of folders over one session, asking each UID FETCH for ``items``.

    ``known`` holds the source ids stored already (checked when a folder is read from the
    start or its UIDNEXT went backwards); ``batch`` is the most UIDs per UID FETCH; ``clock``
    gives epoch seconds for the quarantine.
    """

    def __init__(self, session: Session, items: str, known: Container[str], *, batch: int,
                 clock: Callable[[], float]) -> None:
        self._session = session
        self._items = items
        self._known = known
        self._batch = batch
        self._clock = clock

    def read(self, name: str, role: Role, status: FolderStatus, before: FolderState | None,
             state: dict[str, FolderState], builder: PageBuilder) -> Iterator[Page]:
        """Read folder ``name``'s new messages into ``builder``; yield full pages, each with
        the cursor of ``state``, where this folder's entry is replaced and advanced.

        ``status`` is what the pass probed of the folder, ``before`` what the cursor had (None
        reads it from the start). Raise what :meth:`Session.examine` raises, ValidityChanged
        included.
        """
        from connectors.mail._mail import parse_or_skip  # loaded already: see ImapConnector._pass

        session = self._session
        opened = session.examine(name, reuse=True)
        validity = opened.validity
        if before is not None and validity != before.validity:
            before = None
        start = before.next_uid if before is not None else 1
        # RFC 3501 §2.3.1.1 says UIDNEXT never decreases; GMX has been seen doing it without a
        # UIDVALIDITY change (chatmail/core#2188): accept it, and let `known` skip what we have.
        backwards = before is not None and 0 < opened.next_uid < start
        if backwards:
            start = opened.next_uid
        check_known = before is None or backwards
        quarantine = dict(before.quarantine) if before is not None else {}
        entry = FolderState(validity, start, status.messages, quarantine)
        state[name] = entry
        now = self._clock()
        retry = sorted(uid for uid, (at, _tries) in quarantine.items() if at <= now)
        uids = session.call(lambda c: c.uids_from(start)) if opened.messages else []
        batches = [[uid] for uid in retry] + uid_ranges(uids, self._batch)
        prefix = f"{name}/{validity}/"
        work = [(batch, [uid for uid in batch if f"{prefix}{uid}" not in self._known]
                 if check_known else batch) for batch in batches]
        for batch, wanted, fetched, failed in self._fetch_all(work):
            results: list[Message | Skip] = []
            for uid in wanted:
                got = fetched.get(uid)
                if got is not None:
                    quarantine.pop(uid, None)
                    message_role = _gmail_role(got.labels, role) if got.labels else role
                    results.append(parse_or_skip(got.header, source_id=f"{prefix}{uid}",
                                                 folder_role=message_role,
                                                 received=got.received))
                elif uid in failed:
                    tries = quarantine.get(uid, (0.0, 0))[1] + 1
                    wait = min(QUARANTINE_FIRST * 2 ** (tries - 1), QUARANTINE_LONGEST)
                    quarantine[uid] = (now + wait, tries)
                    results.append(Skip(f"{prefix}{uid}", f"{failed[uid]}; retried later"))
                else:
                    quarantine.pop(uid, None)  # expunged meanwhile: nothing to read
            pending = len(builder.records) + len(builder.skipped)
            if pending and pending + len(results) > builder.size:
                yield builder.page(dump_cursor(state))
            for item in results:
                builder.add(item)
            # A retried quarantined UID lies below ``start`` and leaves the mark where it is.
            entry.next_uid = max(entry.next_uid, batch[-1] + 1)
        entry.next_uid = max(entry.next_uid, opened.next_uid, status.next_uid)

    def _fetch_all(self, work: list[tuple[list[int], list[int]]]
                   ) -> Iterator[tuple[list[int], list[int], dict[int, Fetched], dict[int, str]]]:
        """For each ``(batch, wanted)`` in order, yield it with what :meth:`_fetch` returns
        for ``wanted``.

        While the caller works on one batch (parsing it, and the engine storing the page), the
        FETCH of the next one is already sent, so the server prepares it meanwhile (RFC 3501
        §5.5 pipelining) instead of idling until asked.
        Only a batch that came back whole and clean lets the next one go early: any failure
        is retried, halved, by :meth:`_fetch` with nothing else in flight.
        """
        session, items = self._session, self._items
        in_flight: bytes | None = None
        for index, (batch, wanted) in enumerate(work):
            if not wanted:
                yield batch, wanted, {}, {}
                continue
            fetched: dict[int, Fetched] | None = None
            try:
                tag = in_flight
                in_flight = None
                if tag is None:
                    tag = session.connection.send_fetch(wanted[0], wanted[-1], items)
                fetched = session.connection.receive_fetch(tag)
            except (Refused, Lost):
                fetched = None
            if fetched is not None and all(uid in fetched for uid in wanted):
                following = next((later for _, later in work[index + 1:] if later), None)
                if following is not None:
                    try:
                        in_flight = session.connection.send_fetch(following[0], following[-1],
                                                                  items)
                    except Lost:
                        in_flight = None  # the next batch's own send finds out and recovers
                wanted_set = set(wanted)
                yield batch, wanted, {uid: message for uid, message in fetched.items()
                                      if uid in wanted_set}, {}
            else:
                yield batch, wanted, *self._fetch(wanted)

    def _fetch(self, uids: list[int]) -> tuple[dict[int, Fetched], dict[int, str]]:
        """Fetch ``uids`` (sorted, one range); halve on failure down to the UID at fault.

        Return the messages fetched and, for UIDs the server could not serve, a reason.
        UIDs missing from the answer because they were expunged meanwhile are in neither.
        """
        session, items = self._session, self._items
        try:
            fetched = session.connection.fetch(uids[0], uids[-1], items)
        except Refused as refused:
            if len(uids) == 1:
                return {}, {uids[0]: f"the server refused to send it ({refused})"}
            return self._halves(uids)
        except Lost as lost:
            session.reconnect(lost)
            if len(uids) == 1:
                # One more try on the fresh connection tells a network blip from a message
                # that kills the connection every time (Dovecot on a corrupt maildir file).
                try:
                    fetched = session.connection.fetch(uids[0], uids[0], items)
                except (Refused, Lost) as again:
                    if isinstance(again, Lost):
                        session.reconnect(again)
                    return {}, {uids[0]: "the server dropped the connection sending it"}
            else:
                return self._halves(uids)
        wanted = set(uids)
        fetched = {uid: message for uid, message in fetched.items() if uid in wanted}
        missing = [uid for uid in uids if uid not in fetched]
        if not missing:
            return fetched, {}
        if len(uids) == 1:
            # OK with no data (Exchange does this for a message it cannot read): still there?
            if session.call(lambda c: c.uids_from(uids[0]))[:1] == uids:
                return {}, {uids[0]: "the server answered without the message"}
            return {}, {}
        more, failed = self._halves(missing)
        fetched.update(more)
        return fetched, failed

    def _halves(self, uids: list[int]) -> tuple[dict[int, Fetched], dict[int, str]]:
        """Fetch each half of ``uids`` on its own (:meth:`_fetch`); return both answers."""
        fetched: dict[int, Fetched] = {}
        failed: dict[int, str] = {}
        middle = len(uids) // 2
        for half in (part for part in (uids[:middle], uids[middle:]) if part):
            more, bad = self._fetch(half)
            fetched.update(more)
            failed.update(bad)
        return fetched, failed


def _gmail_role(labels: tuple[str, ...], default: Role) -> Role:
    """The role Gmail's system labels give a message of \\All; ``default`` without one."""
    lowered = {label.lower() for label in labels}
    for label, role in _GMAIL_LABEL_ROLES:
        if label in lowered:
            return role
    return default
