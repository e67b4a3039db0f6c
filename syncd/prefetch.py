"""Read a connector's pages in a forked child while this process classifies and stores them.

A first (or ``--full``) pass over a big mail source spends about as long fetching and parsing
headers (the connector) as classifying and storing them (the engine), one after the other on
one core. :func:`prefetched` runs ``pull()`` in a child made with ``fork(2)`` and streams its
pages back through a pipe, so both halves run at once on two cores.

Contract:

- Pages arrive in the order the connector yields them, as equal copies (pickled: pages are
  frozen dataclasses of plain types). Every page's cursor is committed by the parent exactly
  as before, so a crash still resumes at the last stored page.
- Buffering is bounded in bytes by the pipe (:data:`PIPE_BYTES`, about 4 pages of 500
  messages): a child that runs ahead blocks in ``write(2)`` until the parent catches up.
- The child runs :data:`CHILD_NICENESS` steps nicer than the parent: the parent is the slower
  half, and where the two share a core it should get the larger part.
- An exception raised in the child is raised again in the parent: the same class with the same
  message (``SourceError`` and its subclasses, ``CursorExpired``, ``AuthError``,
  ``SourceEmpty``, and unexpected ones), with the child's traceback as a note. Log records the
  child makes are handled by the parent's loggers, in order with the pages.
- A child that dies without finishing (killed, out of memory) raises
  :class:`~syncd.errors.SourceError` in the parent.
- When the parent stops early (SIGTERM sets ``Engine.should_stop``; an exception while
  storing), closing the iterator kills and reaps the child. If the parent itself dies, the
  kernel kills the child (``PR_SET_PDEATHSIG``, prctl(2), Linux); elsewhere the child exits
  at its next write to the broken pipe.

What the child may touch: only what ``pull`` touches. SQLite forbids carrying a connection
across ``fork`` (https://sqlite.org/howtocorrupt.html §2.6), so ``pull`` must not close over
the store: the engine hands the child ``known`` as a frozenset built before the fork. The child
never returns into the parent's stack: it ends with ``os._exit``, so no ``finally``, ``atexit``
or destructor of the parent's objects (the store, the scheduler) runs in it. Other threads of
the parent do not exist in the child, but the locks they held at the fork stay held there:
logging's CPython re-initialises, a module's import lock it does not. So only a process whose
other threads import nothing ``pull`` imports may fork (``Engine.fork_reader``): `syncd sync`,
whose one other thread draws the progress display, may; the daemon, whose IDLE watchers import
connector modules, does not (a first pass there hung in the child on ``syncd.credentials``).

Turn it off with ``SYNCD_NO_PREFETCH=1`` (debugging, profiling): pages are then pulled
in-process as before.
"""

from __future__ import annotations

import contextlib
import copyreg
import gc
import importlib
import io
import logging
import operator
import os
import pickle
import signal
import struct
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import FrameType
from typing import Any, BinaryIO, NoReturn

from syncd.errors import SourceError
from syncd.model import Address, Message, Page

log = logging.getLogger(__name__)

#: Source types whose ``pull`` only reads files or sockets it opens itself (no store, no
#: threads, no tokens written back), and whose parsing is worth a second core.
FORK_SAFE_TYPES = frozenset({"imap", "maildir", "mbox"})
#: Requested pipe capacity (Linux F_SETPIPE_SZ; the unprivileged limit is 1 MiB by default,
#: /proc/sys/fs/pipe-max-size). A page of 500 message headers pickles to ~140 KB.
PIPE_BYTES = 1 << 20
#: How much the child lowers its own scheduling priority (nice(2): lowering needs no privilege).
#: The parent, classifying and storing, is the pipeline's slower half (~115 µs of CPU per
#: message against the child's ~90 on the bench's 100,000-message mailboxes), so whenever they
#: compete for a core (with a local server such as the bench's Dovecot, or with anything else
#: the user runs) equal shares leave the parent behind and the child waiting on a full pipe.
#: A niceness of CHILD_NICENESS gives the parent the larger share; see bench/imap_bench.py.
CHILD_NICENESS = 4

_PAGE, _LOG, _ERROR, _DONE = "page", "log", "error", "done"
_HEADER = struct.Struct("!I")
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def wanted(connector: object, environ: Mapping[str, str] = os.environ) -> bool:
    """Return True when a full read of ``connector`` should run in a forked child.

    True for the source types in :data:`FORK_SAFE_TYPES` on systems with ``fork``, unless
    ``SYNCD_NO_PREFETCH`` is set to anything but ``""`` or ``"0"``.
    """
    if environ.get("SYNCD_NO_PREFETCH", "") not in ("", "0"):
        return False
    return hasattr(os, "fork") and getattr(connector, "source_type", None) in FORK_SAFE_TYPES


def prefetched(pull: Callable[[], Iterable[Page]], *, label: str = "the source",
               pipe_bytes: int = PIPE_BYTES) -> Iterator[Page]:
    """Run ``pull()`` in a forked child and return an iterator over its pages; see the module
    docstring.

    ``label`` names the source in errors. Call the iterator's ``close()`` when stopping early
    (the engine does on every exit of its page loop): that kills and reaps the child.
    Iterating raises what ``pull`` raised, or :class:`~syncd.errors.SourceError` if the child
    died without finishing. If no child can be started (``fork`` fails), ``pull()`` runs in
    this process instead.
    """
    read_fd, write_fd = os.pipe()  # both O_CLOEXEC: a command the child runs gets neither
    with contextlib.suppress(AttributeError, OSError):
        import fcntl

        fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, pipe_bytes)
    parent = os.getpid()
    # Objects frozen before the fork are never scanned by the child's garbage collector, which
    # would otherwise write to (and so copy) every page of the parent's heap (gc.freeze docs).
    gc.freeze()
    try:
        pid = os.fork()
    except OSError as error:
        os.close(read_fd)
        os.close(write_fd)
        log.warning("%s: cannot start a reader process (%s); reading in this one", label, error)
        return iter(pull())
    finally:
        if os.getpid() == parent:
            gc.unfreeze()
    if pid == 0:
        _child(pull, read_fd, write_fd, parent)
    os.close(write_fd)
    return _Pages(pid, open(read_fd, "rb", buffering=1 << 16), label)


class _Pages(Iterator[Page]):
    """The parent's end: pages from the child ``pid``, which it kills and reaps when closed."""

    def __init__(self, pid: int, stream: BinaryIO, label: str) -> None:
        self._pid: int | None = pid
        self._stream = stream
        self._label = label

    def __next__(self) -> Page:
        while self._pid is not None:
            kind, payload = _read_frame(self._stream)
            if kind == _PAGE:
                page: Page = payload
                return page
            if kind == _LOG:
                record = logging.makeLogRecord(payload)
                logger = logging.getLogger(record.name)
                if logger.isEnabledFor(record.levelno):
                    logger.handle(record)
                continue
            status = self._finish()
            if kind == _ERROR:
                raise _rebuild_error(payload)
            if kind != _DONE:
                raise SourceError(f"the process reading {self._label} ended unexpectedly "
                                  f"({_describe(status)}); the next sync goes on from the "
                                  "last stored page")
        raise StopIteration

    def close(self) -> None:
        """Kill the child if it still runs, reap it, and close the pipe; idempotent."""
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
            self._finish()

    def _finish(self) -> int:
        """Reap the child and close the pipe; return its wait status."""
        assert self._pid is not None
        pid, self._pid = self._pid, None
        self._stream.close()
        return _reap(pid)


def _read_frame(stream: BinaryIO) -> tuple[str, Any]:
    """Return the next ``(kind, payload)``; ``("eof", None)`` when the child closed early."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return "eof", None
    (length,) = _HEADER.unpack(header)
    data = stream.read(length)
    if len(data) < length:
        return "eof", None
    kind, payload = pickle.loads(data)
    return str(kind), payload


def _reap(pid: int) -> int:
    """Wait for the child ``pid``; return its wait status (0 if it was reaped already)."""
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except ChildProcessError:
            return 0
        except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for clarity
            continue


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            return f"killed by {signal.Signals(number).name}"
        except ValueError:
            return f"killed by signal {number}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


# --- the child ----------------------------------------------------------------------------------


def _child(pull: Callable[[], Iterable[Page]], read_fd: int, write_fd: int,
           parent: int) -> NoReturn:
    """Run ``pull`` and send what it yields, raises and logs on ``write_fd``; never return."""
    code = 0
    try:
        os.close(read_fd)
        _detach_from_parent(parent)
        with contextlib.suppress(OSError):
            os.nice(CHILD_NICENESS)
        channel = _Channel(write_fd)
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)  # the parent's handlers write for the parent only
        root.addHandler(_ForwardHandler(channel))
        try:
            for page in pull():
                channel.send(_PAGE, page)
        except BrokenPipeError:
            raise
        except BaseException as error:
            channel.send(_ERROR, _pack_error(error))
        else:
            channel.send(_DONE, None)
    except BaseException:
        code = 1  # the parent stopped reading (or is gone): nobody to tell
    finally:
        os._exit(code)


def _detach_from_parent(parent: int) -> None:
    """Make the child die with its parent and leave stopping to it.

    SIGINT/SIGTERM/SIGHUP get a handler that does nothing, not SIG_IGN: the parent decides
    when to stop (it stores the page in hand first, then kills the child), and a handled
    signal, unlike an ignored one, is reset to the default in commands the child runs
    (execve(2)), e.g. ``password_command``.
    """
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, _leave_to_parent)
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _leave_to_parent(number: int, frame: FrameType | None) -> None:
    """Signal handler of the child: the parent stops it (see :func:`_detach_from_parent`)."""


class _Channel:
    """Length-prefixed pickles written to a pipe; blocks while the pipe is full."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def send(self, kind: str, payload: object) -> None:
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.dispatch_table = _DISPATCH
        pickler.dump((kind, payload))
        data = buffer.getbuffer()
        self._write(_HEADER.pack(len(data)))
        self._write(data)

    def _write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]


# Pickling a frozen slotted dataclass calls its generated __getstate__/__setstate__, two
# Python calls per object; for the hot records a flat tuple of fields halves the cost of
# both ends (~14 -> ~7 us per message). The values are the object's own fields, so the copy
# is equal to the original.
_message_fields = operator.attrgetter(*Message.__slots__)


# The slots' own descriptors set a field without the frozen class's __setattr__ and without
# looking its name up per call: about half the cost of object.__setattr__ per field.
_MESSAGE_SETTERS = tuple(getattr(Message, name).__set__ for name in Message.__slots__)
_SET_EMAIL, _SET_NAME, _SET_WRITTEN = (getattr(Address, name).__set__
                                        for name in ("email", "name", "written"))
_new = object.__new__


def _message(*values: Any) -> Message:
    record = _new(Message)
    for setter, value in zip(_MESSAGE_SETTERS, values, strict=True):
        setter(record, value)
    return record


def _address(email: str, name: str, written: str) -> Address:
    address = _new(Address)
    _SET_EMAIL(address, email)
    _SET_NAME(address, name)
    _SET_WRITTEN(address, written)
    return address


_DISPATCH: dict[type, Callable[[Any], Any]] = {
    **copyreg.dispatch_table,
    Message: lambda record: (_message, _message_fields(record)),
    Address: lambda address: (_address, (address.email, address.name, address.written)),
}


class _ForwardHandler(logging.Handler):
    """Sends the child's log records to the parent, which handles them with its handlers."""

    def __init__(self, channel: _Channel) -> None:
        super().__init__()
        self._channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = dict(record.__dict__)
            fields["msg"] = record.getMessage()  # args may not pickle; the text always does
            fields["args"] = None
            if record.exc_info:
                fields["exc_text"] = logging.Formatter().formatException(record.exc_info)
            fields["exc_info"] = None
            self._channel.send(_LOG, fields)
        except BrokenPipeError:
            raise
        except Exception:
            self.handleError(record)


def _pack_error(error: BaseException) -> tuple[bytes | None, str, str, str, str]:
    """Return what the parent needs to raise ``error`` again: the pickled exception when it
    survives pickling unchanged, its class's module and name, its message, its traceback."""
    data: bytes | None
    try:
        data = pickle.dumps(error, protocol=pickle.HIGHEST_PROTOCOL)
        copy = pickle.loads(data)
        if type(copy) is not type(error) or str(copy) != str(error):
            data = None
    except Exception:
        data = None
    kind = type(error)
    trace = "".join(traceback.format_exception(error))
    return data, kind.__module__, kind.__qualname__, str(error), trace


def _rebuild_error(packed: tuple[bytes | None, str, str, str, str]) -> BaseException:
    """Return the child's exception as an instance of the same class with the same message."""
    data, module, name, message, trace = packed
    error: BaseException | None = None
    if data is not None:
        error = pickle.loads(data)
    else:
        with contextlib.suppress(Exception):
            found: Any = importlib.import_module(module)
            for part in name.split("."):
                found = getattr(found, part)
            if isinstance(found, type) and issubclass(found, BaseException):
                # Its __init__ may want other arguments: build it bare, with the message only.
                error = found.__new__(found)
                BaseException.__init__(error, message)
        if error is None:
            error = RuntimeError(f"{name}: {message}")
    error.add_note(f"raised in the prefetch child process:\n{trace.rstrip()}")
    return error
