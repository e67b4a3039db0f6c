"""A real Dovecot IMAP server per test session (recipe: ../shared/RECIPES.md).

Two fixtures: ``dovecot_plain`` (``ssl = no``) and ``dovecot_tls`` (``ssl = required`` with a
certificate signed by a throw-away CA made here with ``cryptography``). Any user name logs in
with :data:`PASSWORD` (a static passdb), and every user has its own Maildir, so each test takes
a fresh user (:meth:`Dovecot.new_user`) and never sees another test's mail.

The fixtures always store mail as Maildir (tests write message files straight into it, see
:meth:`Dovecot.maildir`). :func:`running_dovecot` can also use Dovecot's own ``sdbox`` or
``mdbox`` formats (see :data:`MAIL_FORMATS`), as ``bench/imap_bench.py --mail-format`` does;
mail gets into those only through Dovecot (IMAP APPEND, or :meth:`Dovecot.import_maildir`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from secrets_registry import secret

from servers.short_paths import short_directory

#: The one password every test user has; tests grep logs and output for it.
PASSWORD = secret("Qz7-syncd-test-pw-4Kx")
_users = itertools.count(1)

#: Storage formats :func:`running_dovecot` can serve mail from (Dovecot ``mail_location`` drivers).
MAIL_FORMATS = ("maildir", "sdbox", "mdbox")


def free_port() -> int:
    """Return a TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@dataclass
class Certificates:
    """A CA and a server certificate for 127.0.0.1/localhost, as PEM files."""

    ca: Path
    cert: Path
    key: Path
    fingerprint: str  # SHA-256 of the server certificate (DER), hex

    @classmethod
    def make(cls, directory: Path, common_name: str = "syncd test CA") -> Certificates:
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        now = dt.datetime.now(dt.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
                   .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(days=1))
                   .not_valid_after(now + dt.timedelta(days=30))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(True, False, False, False, False, True, True,
                                                False, False), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(
                       ca_key.public_key()), critical=False)
                   .sign(ca_key, hashes.SHA256()))
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
                .issuer_name(ca_name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=30))
                .add_extension(x509.SubjectAlternativeName([
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    ca_key.public_key()), critical=False)
                .sign(ca_key, hashes.SHA256()))
        paths = cls(directory / "ca.pem", directory / "cert.pem", directory / "key.pem",
                    hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest())
        paths.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        paths.key.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
        return paths


@dataclass
class Dovecot:
    """One running Dovecot in its own temporary directory.

    ``mail_format`` is the storage format of every user's mail (one of :data:`MAIL_FORMATS`);
    each user's mail lives in :meth:`mail_root`, which is also the user's home.
    """

    root: Path
    port: int
    certificates: Certificates | None = None
    mail_format: str = "maildir"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def config(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def tls(self) -> bool:
        return self.certificates is not None

    def start(self) -> None:
        """Start Dovecot in the foreground (a child we can stop) and wait for its port."""
        self.process = subprocess.Popen(["dovecot", "-F", "-c", str(self.config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        try:
            wait_for_port(self.port)
        except RuntimeError:
            self.stop()
            raise RuntimeError(f"dovecot did not start; see {self.root / 'dovecot.log'}:\n"
                               + self.log()[-2000:]) from None

    def stop(self) -> None:
        """Stop Dovecot (SIGTERM to the master, which ends its children) and wait."""
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
        # The master is gone once the listener is; wait so a restart can bind again.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.1).close()
            except OSError:
                return
            time.sleep(0.05)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # --- users and mail ---------------------------------------------------------------------

    def new_user(self, prefix: str = "user") -> str:
        """Return a user name no test has used in this session (its mailbox starts empty)."""
        return f"{prefix}{next(_users)}"

    def mail_root(self, user: str) -> Path:
        """The directory holding all of ``user``'s mail and indexes, in any format.

        Maildir: INBOX's ``cur``/``new``, ``.Folder`` subdirectories (Maildir++), each with
        its ``dovecot.index*`` files. sdbox/mdbox: ``mailboxes/NAME/dbox-Mails/`` holds the
        folder's ``dovecot.index*`` files (and for sdbox one ``u.UID`` file per message);
        mdbox keeps the messages of all folders in ``storage/m.N`` files. Dovecot creates it
        at the user's first login.
        """
        return self.root / "mail" / user

    def maildir(self, user: str) -> Path:
        """``user``'s Maildir, to write message files into (Maildir format only)."""
        if self.mail_format != "maildir":
            raise ValueError(f"{self.mail_format} storage has no Maildir; use import_maildir")
        return self.mail_root(user)

    def scratch_maildir(self, user: str) -> Path:
        """A Maildir for ``user`` outside the mail location, to build mail for
        :meth:`import_maildir` (message files in ``cur``, ``.Folder`` for other folders)."""
        return self.root / "import" / user

    def doveadm(self, *arguments: str, options: dict[str, str] | None = None) -> str:
        """Run ``doveadm -c <this config> [-o key=value...] ARGUMENTS``; return its output.

        ``options`` override settings for this doveadm only (``-o``), not for the server.
        With ``-u USER`` doveadm works on that user's mail in-process, as the mail user.
        Raises :class:`RuntimeError` with doveadm's error output if it fails.
        """
        overrides = [f"-o{key}={value}" for key, value in (options or {}).items()]
        done = subprocess.run(["doveadm", "-c", str(self.config), *overrides, *arguments],
                              capture_output=True, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(arguments)} failed ({done.returncode}):\n"
                               + done.stderr.decode(errors="replace"))
        return done.stdout.decode(errors="replace")

    def import_maildir(self, user: str, source: Path) -> None:
        """Copy every message of the Maildir ``source`` (e.g. :meth:`scratch_maildir`) into
        ``user``'s mail, in any format: same folder names, flags and order, new UIDs in order.

        ``doveadm import`` reads the Maildir as the mail user (``source`` is chowned to it
        first); saves are not fsynced (``mail_fsync=never``: a crash loses only test data).
        Appends to folders that already hold mail. ``source`` is left as it was.
        """
        self.chown_mail(source)
        self.doveadm("import", "-u", user, f"maildir:{source}", "", "all",
                     options={"mail_fsync": "never"})

    def client(self, user: str):  # -> imapclient.IMAPClient (typed loosely: tests only)
        """A logged-in imapclient connection for setting up mail (the test's own client)."""
        import ssl

        import imapclient

        if self.certificates is not None:
            context = ssl.create_default_context(cafile=str(self.certificates.ca))
            client = imapclient.IMAPClient("127.0.0.1", self.port, ssl=True,
                                           ssl_context=context, timeout=30)
        else:
            client = imapclient.IMAPClient("127.0.0.1", self.port, ssl=False, timeout=30)
        client.login(user, PASSWORD)
        return client

    def config_file(self, path: Path, user: str, state_dir: Path, *,
                    password_command: bool = True) -> Path:
        """Write a syncd config with one plain-text ``[sources.work]`` for ``user``; return it.

        Without ``password_command`` the password must come from the keyring.
        """
        command = f'password_command = "echo {PASSWORD}"\n' if password_command else ""
        path.write_text(f"""\
[general]
state_dir = "{state_dir}"

[me]
addresses = ["me@example.com"]

[sources.work]
type = "imap"
host = "127.0.0.1"
port = {self.port}
username = "{user}"
tls = "none"
{command}""")
        return path

    def options(self, user: str, **extra: object) -> dict[str, object]:
        """``[sources.NAME]`` options (as the config loader returns them) for ``user``."""
        options: dict[str, object] = {"host": "127.0.0.1", "port": self.port,
                                      "username": user,
                                      "password_command": f"echo {PASSWORD}",
                                      "timeout": dt.timedelta(seconds=10)}
        if self.certificates is not None:
            options.update(tls="implicit", ca_file=str(self.certificates.ca))
        else:
            options.update(tls="none")
        options.update(extra)
        return options

    def chown_mail(self, path: Path) -> None:
        """Give ``path`` (and everything below) to the mail user, as Dovecot's files are."""
        if os.geteuid() != 0:
            return
        import pwd

        entry = pwd.getpwnam("dovecot")
        for directory, _dirs, files in os.walk(path):
            os.chown(directory, entry.pw_uid, entry.pw_gid)
            for name in files:
                os.chown(os.path.join(directory, name), entry.pw_uid, entry.pw_gid)


#: Folder layouts :func:`running_dovecot` can show: ``default`` (``Sent``, ``Junk`` ... marked
#: with RFC 6154 attributes, "/" separator), ``inbox-prefix`` (Courier's and Debian Cyrus's
#: layout: ``INBOX.Sent`` with "." and no attribute at all) and ``gmail`` (``[Gmail]/All Mail``
#: as ``\\All``, ``[Gmail]/Sent Mail``, ``[Gmail]/Drafts``, ``[Gmail]/Spam``, ``[Gmail]/Trash``).
LAYOUTS = ("default", "inbox-prefix", "gmail")

_NAMESPACES = {
    "default": """\
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    special_use = \\Sent
    auto = create
  }
  mailbox Junk {
    special_use = \\Junk
    auto = create
  }
  mailbox Trash {
    special_use = \\Trash
    auto = create
  }
  mailbox Drafts {
    special_use = \\Drafts
    auto = create
  }
}
""",
    "inbox-prefix": """\
namespace inbox {
  inbox = yes
  prefix = INBOX.
  separator = .
  mailbox Sent {
    auto = create
  }
  mailbox Junk {
    auto = create
  }
  mailbox Trash {
    auto = create
  }
  mailbox Drafts {
    auto = create
  }
}
""",
    "gmail": """\
namespace inbox {
  inbox = yes
  separator = /
  mailbox "[Gmail]/All Mail" {
    special_use = \\All
    auto = create
  }
  mailbox "[Gmail]/Sent Mail" {
    special_use = \\Sent
    auto = create
  }
  mailbox "[Gmail]/Drafts" {
    special_use = \\Drafts
    auto = create
  }
  mailbox "[Gmail]/Spam" {
    special_use = \\Junk
    auto = create
  }
  mailbox "[Gmail]/Trash" {
    special_use = \\Trash
    auto = create
  }
}
""",
}


def _oauth2_text(root: Path, introspection_url: str, mechanisms: tuple[str, ...]) -> str:
    """The passdb that asks an RFC 7662 introspection endpoint about every token (recipe:
    "Dovecot with OAuth 2.0"); passwords keep the static passdb."""
    (root / "oauth2.conf.ext").write_text(f"""\
introspection_mode = post
introspection_url = {introspection_url}
force_introspection = yes
active_attribute = active
active_value = true
username_attribute = username
""")
    return f"""\
passdb {{
  driver = oauth2
  mechanisms = {' '.join(mechanisms)}
  args = {root}/oauth2.conf.ext
}}
"""


def _config_text(root: Path, port: int, certificates: Certificates | None,
                 mail_format: str = "maildir", introspection_url: str | None = None,
                 oauth_mechanisms: tuple[str, ...] = ("xoauth2", "oauthbearer"),
                 layout: str = "default", capabilities: str | None = None) -> str:
    if os.geteuid() == 0:
        internal, login, mail_user = "dovecot", "dovenull", "dovecot"
    else:  # unprivileged: everything runs as the current user
        import getpass

        internal = login = mail_user = getpass.getuser()
    ssl = (f"ssl = required\nssl_cert = <{certificates.cert}\nssl_key = <{certificates.key}\n"
           if certificates else "ssl = no\n")
    listener = "imaps" if certificates else "imap"
    ssl_flag = "\n    ssl = yes" if certificates else ""
    other = "imap" if certificates else "imaps"
    mechanisms = ("plain login " + " ".join(oauth_mechanisms)
                  if introspection_url else "plain login")
    oauth2 = _oauth2_text(root, introspection_url, oauth_mechanisms) if introspection_url else ""
    # Dovecot's setting replaces the whole post-login CAPABILITY list (a leading "+" would add).
    capability = f"imap_capability = {capabilities}\n" if capabilities else ""
    return f"""\
{capability}protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
{ssl}disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
# Tests try wrong passwords on purpose: no 2 s failure delay, no anvil penalty for loopback.
auth_failure_delay = 0
login_trusted_networks = 127.0.0.1/32
mail_location = {mail_format}:{root}/mail/%u
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = 1
first_valid_gid = 1
{oauth2}passdb {{
  driver = static
  mechanisms = plain login
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_user} home={root}/mail/%u
}}
service imap-login {{
  inet_listener {listener} {{
    port = {port}{ssl_flag}
  }}
  inet_listener {other} {{
    port = 0
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
{_NAMESPACES[layout]}"""


@contextlib.contextmanager
def running_dovecot(*, tls: bool, mail_format: str = "maildir",
                    introspection_url: str | None = None,
                    oauth_mechanisms: tuple[str, ...] = ("xoauth2", "oauthbearer"),
                    layout: str = "default", capabilities: str | None = None
                    ) -> Iterator[Dovecot]:
    """Start a Dovecot in a fresh world-traversable temporary directory; stop and remove it.

    ``mail_format`` (one of :data:`MAIL_FORMATS`) is how it stores every user's mail; the
    default Maildir is what the tests use and write into directly. With
    ``introspection_url`` it also accepts OAuth 2.0 access tokens (``oauth_mechanisms``,
    SASL XOAUTH2 / OAUTHBEARER), asking that RFC 7662 endpoint about each one. ``layout``
    (one of :data:`LAYOUTS`) is the folder layout every user sees. ``capabilities``, when
    given, is the whole CAPABILITY list after login (to play a server without an extension).
    """
    if mail_format not in MAIL_FORMATS:
        raise ValueError(f"mail_format must be one of {MAIL_FORMATS}, not {mail_format!r}")
    if shutil.which("dovecot") is None:
        pytest.skip("dovecot is not installed (Debian: dovecot-imapd; scripts/test installs it)")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
    # Short, under /tmp whatever TMPDIR is: Dovecot's AF_UNIX sockets live below it (≤ 107 bytes).
    root = short_directory("syncd-dovecot-")
    try:
        root.chmod(0o755)  # the login and mail processes run as other users
        for sub in ("run", "state", "mail"):
            (root / sub).mkdir(mode=0o755)
        certificates = Certificates.make(root) if tls else None
        server = Dovecot(root, free_port(), certificates, mail_format)
        server.chown_mail(root / "mail")
        server.config.write_text(_config_text(root, server.port, certificates, mail_format,
                                              introspection_url, oauth_mechanisms, layout,
                                              capabilities))
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot_plain() -> Iterator[Dovecot]:
    """A Dovecot with ``ssl = no`` on a free loopback port, for the whole session."""
    with running_dovecot(tls=False) as server:
        yield server


@pytest.fixture(scope="session")
def dovecot_tls() -> Iterator[Dovecot]:
    """A Dovecot with ``ssl = required`` (implicit TLS) and a test CA, for the whole session."""
    with running_dovecot(tls=True) as server:
        yield server
