"""A real Cyrus IMAP server for tests (recipe: ../shared/RECIPES.md, "Cyrus IMAP beside Dovecot").

Debian's ``cyrus-imapd`` conflicts with ``dovecot-imapd`` (both provide imap-server), so only
``cyrus-common`` (master and tools) and ``sasl2-bin`` are installed (scripts/test does), and
``imapd`` is unpacked from the ``cyrus-imapd`` package (``apt-get download`` + ``dpkg -x``) into
a cache directory shared by every run (:data:`CACHE`), on first use.

Two namespace modes, as Cyrus offers them:

- ``"standard"`` (Debian's /etc/imapd.conf: ``altnamespace: no``, ``unixhierarchysep: no``):
  personal folders are ``INBOX.Sent`` with ``"."``, another user's are ``user.alice.Sent``;
- ``"alternate"`` (Cyrus's own defaults: ``yes``/``yes``): ``Sent`` with ``"/"``, another user's
  ``Other Users/alice/Sent``, shared ones under ``Shared Folders/``.

Each user logs in with :data:`PASSWORD`; the INBOX is created at the first login
(``autocreate_quota: 0``). The instance lives in a short directory under /tmp (its AF_UNIX
sockets must fit in 107 bytes), owned by ``cyrus:mail``; the master runs in the foreground as
a child the fixture stops with SIGTERM.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from servers.dovecot import PASSWORD, free_port, wait_for_port

MASTER = Path("/usr/lib/cyrus/bin/master")
#: Where ``imapd`` is unpacked once and kept (outside any checkout: every worktree shares it).
CACHE = Path(os.environ.get("SYNCD_CYRUS_CACHE", "/var/tmp/syncd-cyrus-imapd"))
ADMIN = "cyradm"
SERVERNAME = "cyrus.test"
_users = itertools.count(1)


def imapd_binary() -> Path:
    """Return the path of an ``imapd`` unpacked from Debian's ``cyrus-imapd`` package.

    The first call on a machine downloads the package (``apt-get download``, no install: it
    would remove dovecot-imapd) and unpacks it into :data:`CACHE`; later calls find it there.
    A concurrent first call by another test run is harmless: each unpacks into its own
    directory and the first rename wins.
    """
    binary = CACHE / "usr/lib/cyrus/bin/imapd"
    if binary.exists():
        return binary
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        pytest.skip("imapd needs apt-get and dpkg to be unpacked from Debian's cyrus-imapd")
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="syncd-cyrus-deb-", dir=CACHE.parent))
    try:
        work.chmod(0o777)  # apt-get downloads as the _apt user when it can
        done = subprocess.run(["apt-get", "download", "-q", "cyrus-imapd"], cwd=work,
                              capture_output=True, stdin=subprocess.DEVNULL)
        if done.returncode != 0 and os.geteuid() == 0:
            # A fresh machine may have no package lists yet.
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True,
                           stdin=subprocess.DEVNULL)
            done = subprocess.run(["apt-get", "download", "-q", "cyrus-imapd"], cwd=work,
                                  capture_output=True, stdin=subprocess.DEVNULL)
        packages = sorted(work.glob("cyrus-imapd_*.deb"))
        if done.returncode != 0 or not packages:
            raise RuntimeError("apt-get download cyrus-imapd failed:\n"
                               + done.stderr.decode(errors="replace"))
        unpacked = work / "root"
        subprocess.run(["dpkg", "-x", str(packages[-1]), str(unpacked)], check=True,
                       capture_output=True)
        with contextlib.suppress(OSError):  # another run got there first
            unpacked.rename(CACHE)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not binary.exists():
        raise RuntimeError(f"unpacking cyrus-imapd gave no {binary}")
    return binary


@dataclass
class Cyrus:
    """One running Cyrus in its own short temporary directory."""

    root: Path
    port: int
    namespace: str  # "standard" | "alternate"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def separator(self) -> str:
        """The hierarchy delimiter LIST gives for every folder."""
        return "/" if self.namespace == "alternate" else "."

    def personal(self, name: str) -> str:
        """The full name of the personal folder ``name`` (``Sent`` -> ``INBOX.Sent``)."""
        if name.upper() == "INBOX" or self.namespace == "alternate":
            return name
        return f"INBOX.{name}"

    def other_user(self, owner: str, name: str = "INBOX") -> str:
        """How another user ``owner``'s folder ``name`` appears in a LIST."""
        if self.namespace == "alternate":
            return f"Other Users/{owner}" + ("" if name == "INBOX" else f"/{name}")
        return f"user.{owner}" + ("" if name == "INBOX" else f".{name}")

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(MASTER), "-C", str(self.root / "imapd.conf"), "-M", str(self.root / "cyrus.conf"),
             "-p", str(self.root / "master.pid"), "-D"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_for_port(self.port, timeout=20)
        except RuntimeError:
            self.stop()
            raise RuntimeError(f"cyrus did not start in {self.root}") from None

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        self.process = None

    def add_login(self, user: str) -> None:
        """Let ``user`` log in with :data:`PASSWORD` (a sasldb entry)."""
        subprocess.run(["saslpasswd2", "-f", str(self.root / "sasldb2"), "-p", "-c", "-u",
                        SERVERNAME, user], input=PASSWORD.encode(), check=True,
                       capture_output=True)
        shutil.chown(self.root / "sasldb2", "cyrus", "mail")

    def new_user(self, prefix: str = "user") -> str:
        """A user no test has used in this session; its INBOX is created at first login."""
        user = f"{prefix}{next(_users)}"
        self.add_login(user)
        return user

    def client(self, user: str):  # -> imapclient.IMAPClient (tests only)
        import imapclient

        client = imapclient.IMAPClient("127.0.0.1", self.port, ssl=False, timeout=30)
        client.login(user, PASSWORD)
        return client

    def put(self, user: str, folder: str, messages: list[bytes]) -> None:
        """APPEND ``messages`` to ``user``'s personal ``folder`` (``Sent``: ``INBOX.Sent`` in
        the standard namespace), delivered 2024-03-01 12:00 UTC."""
        client = self.client(user)
        try:
            for raw in messages:
                client.append(self.personal(folder), raw,
                              msg_time=dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC))
        finally:
            client.logout()

    def connector(self, user: str, **options: object):  # -> connectors.mail.imap.ImapConnector
        """The IMAP source of ``user`` (``options`` added to its ``[sources.work]``)."""
        from zoneinfo import ZoneInfo

        from connectors.mail.imap import ImapConnector

        source = ImapConnector("work", self.options(user, **options), ZoneInfo("UTC"))
        source.backoff = (0.05, 0.1, 0.2, 0.5, 1.0)
        return source

    def options(self, user: str, **extra: object) -> dict[str, object]:
        """``[sources.NAME]`` options for ``user``, as the config loader returns them."""
        options: dict[str, object] = {"host": "127.0.0.1", "port": self.port, "username": user,
                                      "password_command": f"echo {PASSWORD}", "tls": "none",
                                      "timeout": dt.timedelta(seconds=10)}
        options.update(extra)
        return options


def _configs(root: Path, port: int, namespace: str, imapd: Path) -> tuple[str, str]:
    alternate = "yes" if namespace == "alternate" else "no"
    imapd_conf = f"""\
configdirectory: {root}/conf
defaultpartition: default
partition-default: {root}/part
lmtpsocket: {root}/sock/lmtp
idlesocket: {root}/sock/idle
notifysocket: {root}/sock/notify
servername: {SERVERNAME}
admins: {ADMIN}
allowplaintext: yes
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: {root}/sasldb2
sasl_mech_list: PLAIN LOGIN
altnamespace: {alternate}
unixhierarchysep: {alternate}
autocreate_quota: 0
virtdomains: off
# No idled runs: IDLE polls the mailbox this often (seconds).
imapidlepoll: 1
"""
    cyrus_conf = f"""\
START {{
  recover cmd="/usr/lib/cyrus/bin/ctl_cyrusdb -C {root}/imapd.conf -r"
}}
SERVICES {{
  imap cmd="{imapd} -C {root}/imapd.conf" listen="127.0.0.1:{port}" prefork=0 maxchild=20
}}
EVENTS {{
}}
"""
    return imapd_conf, cyrus_conf


@contextlib.contextmanager
def running_cyrus(namespace: str) -> Iterator[Cyrus]:
    """Start a Cyrus in ``namespace`` mode ("standard" or "alternate"); stop and remove it."""
    if namespace not in ("standard", "alternate"):
        raise ValueError(f"namespace must be standard or alternate, not {namespace!r}")
    if not MASTER.exists() or shutil.which("saslpasswd2") is None:
        pytest.skip("Cyrus needs Debian's cyrus-common and sasl2-bin (scripts/test installs "
                    "them)")
    if os.geteuid() != 0:
        pytest.skip("the Cyrus test server runs its master as root (it switches to cyrus)")
    imapd = imapd_binary()
    root = Path(tempfile.mkdtemp(prefix="cy-", dir="/tmp"))
    try:
        for sub in ("conf", "part", "sock", "conf/log"):
            (root / sub).mkdir()
        port = free_port()
        imapd_conf, cyrus_conf = _configs(root, port, namespace, imapd)
        (root / "imapd.conf").write_text(imapd_conf)
        (root / "cyrus.conf").write_text(cyrus_conf)
        server = Cyrus(root, port, namespace)
        server.add_login(ADMIN)
        for directory, _dirs, files in os.walk(root):
            shutil.chown(directory, "cyrus", "mail")
            for name in files:
                shutil.chown(os.path.join(directory, name), "cyrus", "mail")
        root.chmod(0o700)
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session", params=["standard", "alternate"])
def cyrus(request: pytest.FixtureRequest) -> Iterator[Cyrus]:
    """A Cyrus per namespace mode, for the whole session."""
    with running_cyrus(request.param) as server:
        yield server

