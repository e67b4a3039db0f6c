"""Gmail's IMAP face on a real Dovecot: a proxy written for the tests.

Dovecot with the ``gmail`` layout (tests/servers/dovecot.py) has Gmail's folders
(``[Gmail]/All Mail`` marked ``\\All``, Sent Mail, Drafts, Spam, Trash). :class:`GmailProxy`
stands between it and syncd and adds what only Gmail has (Gmail IMAP extensions):

- ``X-GM-EXT-1`` in every capability list (``* CAPABILITY`` and ``[CAPABILITY ...]``);
- ``X-GM-LABELS`` is taken out of FETCH commands (Dovecot would refuse it) and every FETCH
  response to such a command gets ``X-GM-LABELS (...)`` with the labels the test set for that
  UID in :attr:`GmailProxy.labels`, in the syntax :attr:`GmailProxy.syntax` picks per UID:
  ``"quoted"`` (what Gmail really sends: ``"\\\\Sent"``), ``"atom"`` (Google's documentation:
  ``\\Sent``; user labels with spaces are quoted) or ``"literal"`` (user labels as literals).

The proxy reads both directions line by line and passes literals through byte for byte.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Callable, Iterator
from typing import BinaryIO

_UID = re.compile(rb"[( ]UID (\d+)")
_ATOM = re.compile(r"^\\?[A-Za-z0-9_.-]+$")


def _quoted(label: str) -> bytes:
    return b'"' + label.encode().replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def render_labels(labels: tuple[str, ...], syntax: str) -> bytes:
    """``X-GM-LABELS (...)`` for ``labels`` in ``syntax`` (quoted, atom or literal)."""
    parts = []
    for label in labels:
        if syntax == "atom" and _ATOM.match(label):
            parts.append(label.encode())
        elif syntax == "literal" and not label.startswith("\\"):
            data = label.encode()
            parts.append(b"{%d}\r\n" % len(data) + data)
        else:
            parts.append(_quoted(label))
    return b"X-GM-LABELS (" + b" ".join(parts) + b")"


class GmailProxy:
    """Forward 127.0.0.1:``port`` to Dovecot on ``target``, looking like Gmail."""

    def __init__(self, target: int) -> None:
        self.target = target
        #: UID -> labels, as Gmail would send them for the message in All Mail.
        self.labels: dict[int, tuple[str, ...]] = {}
        #: Which syntax the labels of a UID are sent in.
        self.syntax: Callable[[int], str] = lambda uid: ("quoted", "atom", "literal")[uid % 3]
        #: FETCH commands seen that asked for X-GM-LABELS.
        self.label_fetches = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            wanted: set[bytes] = set()  # tags of FETCH commands that asked for labels
            pair = (client, server)
            threading.Thread(target=self._guard, args=(self._commands, client, server, wanted,
                                                       pair), daemon=True).start()
            threading.Thread(target=self._guard, args=(self._responses, server, client, wanted,
                                                       pair), daemon=True).start()

    @staticmethod
    def _guard(pump: Callable[[BinaryIO, socket.socket, set[bytes]], None],
               source: socket.socket, sink: socket.socket, wanted: set[bytes],
               pair: tuple[socket.socket, socket.socket]) -> None:
        try:
            with source.makefile("rb") as reader:
                pump(reader, sink, wanted)
        except OSError:
            pass
        finally:
            for end in pair:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def _commands(self, reader: BinaryIO, server: socket.socket, wanted: set[bytes]) -> None:
        while line := reader.readline():
            words = line.split(b" ", 3)
            if b"X-GM-LABELS" in line and b"FETCH" in (word.upper() for word in words[1:3]):
                wanted.add(words[0])
                self.label_fetches += 1
                line = line.replace(b" X-GM-LABELS", b"").replace(b"X-GM-LABELS ", b"")
            server.sendall(line)

    def _responses(self, reader: BinaryIO, client: socket.socket, wanted: set[bytes]) -> None:
        while line := reader.readline():
            if b"CAPABILITY" in line and (line.startswith(b"* CAPABILITY") or
                                          b"[CAPABILITY " in line):
                end = line.index(b"]") if b"[CAPABILITY " in line else len(line.rstrip(b"\r\n"))
                line = line[:end] + b" X-GM-EXT-1" + line[end:]
            elif wanted and line.startswith(b"* ") and b" FETCH (" in line:
                match = _UID.search(line)
                uid = int(match.group(1)) if match else 0
                if uid in self.labels:
                    at = line.index(b" FETCH (") + len(b" FETCH (")
                    labels = render_labels(self.labels[uid], self.syntax(uid))
                    line = line[:at] + labels + b" " + line[at:]
            else:
                tag = line.split(b" ", 1)[0]
                wanted.discard(tag)
            client.sendall(line)
            while line.endswith(b"}\r\n") and b"{" in line:
                size = line[line.rindex(b"{") + 1 : -3]
                if not size.isdigit():
                    break
                client.sendall(reader.read(int(size)))
                line = reader.readline()
                client.sendall(line)


@contextlib.contextmanager
def gmail_proxy(target: int) -> Iterator[GmailProxy]:
    proxy = GmailProxy(target)
    try:
        yield proxy
    finally:
        proxy.close()
