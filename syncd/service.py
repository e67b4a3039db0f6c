"""systemd units: the text of the user unit, where it goes, and how to (un)install it.

The templates here are the single source of ``systemd/syncd.service`` and
``systemd/syncd@.service`` in the repository (a test checks they match). ``syncd service
install`` renders the user unit with the absolute path of the running executable, so the unit
keeps working whatever ``$PATH`` systemd's user manager has.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

UNIT_NAME = "syncd.service"
EXEC_PLACEHOLDER = "@EXEC@"

USER_UNIT = """\
# syncd as a systemd user service: `syncd service install`, or copy this file to
# ~/.config/systemd/user/syncd.service, fix ExecStart, then:
#   systemctl --user daemon-reload && systemctl --user enable --now syncd
# A user unit (not a system one) because desktop notifications need the session bus.

[Unit]
Description=syncd: tells you when a tie that matters goes quiet
# Give up after 5 crashes in 5 minutes instead of restarting forever.
StartLimitIntervalSec=300
StartLimitBurst=5

[Service]
# syncd sends READY=1 once config and database are open, STATUS= lines while it works,
# and WATCHDOG=1 pings.
Type=notify
NotifyAccess=main
ExecStart=@EXEC@ run
# SIGHUP re-reads the config; an invalid new config is logged and the old one kept.
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=30
# Exit status 78 (EX_CONFIG) means the config is invalid: restarting cannot fix that.
RestartPreventExitStatus=78
# On SIGTERM syncd finishes the page it is storing and exits 0 within 10 s.
TimeoutStopSec=20
# Without pings for this long (a hung server connection) systemd restarts syncd.
WatchdogSec=15min

# Hardening. Each line says what is lost if it is removed.
# NoNewPrivileges: without it, a password_command or [notify] command run by syncd could gain
# privileges through setuid programs (sudo, su).
NoNewPrivileges=yes
# LockPersonality: without it, syncd could switch the kernel execution domain, an old trick
# to weaken memory protections.
LockPersonality=yes
# RestrictRealtime: without it, a runaway syncd could take realtime priority and freeze the
# desktop.
RestrictRealtime=yes
# RestrictSUIDSGID: without it, syncd could create setuid/setgid files.
RestrictSUIDSGID=yes
# SystemCallArchitectures: without it, 32-bit system calls stay open as a way around filters.
SystemCallArchitectures=native
# UMask: without it, new files (database, lock) could be created readable by other users.
UMask=0077
# Not set on purpose: ProtectSystem/ProtectHome/PrivateTmp need mount namespaces, which user
# managers only get with unprivileged user namespaces; where those are off the unit would fail
# to start. MemoryDenyWriteExecute breaks libffi callbacks that keyring backends may use.

[Install]
WantedBy=default.target
"""

SYSTEM_UNIT = """\
# syncd for headless servers, one instance per user: syncd@alice.service runs as alice.
# No session bus here: use [notify] backend = "command" (ntfy, Pushover, mail) or "log", and
# password_command instead of the keyring.
#   install -m 644 syncd@.service /etc/systemd/system/
#   put alice's config in /etc/syncd/alice.toml (readable by alice only)
#   systemctl daemon-reload && systemctl enable --now syncd@alice

[Unit]
Description=syncd for %i: tells you when a tie that matters goes quiet
Wants=network-online.target
After=network-online.target
StartLimitIntervalSec=300
StartLimitBurst=5

[Service]
Type=notify
NotifyAccess=main
User=%i
# The config lives outside the user's home so admins can manage it.
Environment=SYNCD_CONFIG=/etc/syncd/%i.toml
# The database goes to /var/lib/syncd/%i/syncd (set [general] state_dir to override).
StateDirectory=syncd/%i
StateDirectoryMode=0700
Environment=XDG_STATE_HOME=/var/lib/syncd/%i
ExecStart=@EXEC@ run
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=30
# Exit status 78 (EX_CONFIG) means the config is invalid: restarting cannot fix that.
RestartPreventExitStatus=78
TimeoutStopSec=20
WatchdogSec=15min

# Hardening. Each line says what is lost if it is removed.
# NoNewPrivileges: without it, a password_command or notify command could gain privileges
# through setuid programs.
NoNewPrivileges=yes
# ProtectSystem: without it, a compromised syncd could modify /usr, /boot and /etc.
ProtectSystem=strict
# ProtectHome: without it, syncd could write anywhere in /home; read-only still lets it read
# a Maildir or mbox there.
ProtectHome=read-only
# PrivateTmp: without it, syncd shares /tmp with every other service and user.
PrivateTmp=yes
# PrivateDevices: without it, syncd could open raw devices.
PrivateDevices=yes
# ProtectKernelTunables, ProtectKernelModules, ProtectKernelLogs, ProtectControlGroups:
# without them syncd could change sysctls, load kernel modules, read the kernel log or
# rewrite cgroups.
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
# RestrictAddressFamilies: without it, syncd could open raw or netlink sockets; it needs only
# IP (mail and calendar servers) and unix sockets (sd_notify, password helpers).
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
# RestrictNamespaces: without it, syncd could create namespaces to hide from these rules.
RestrictNamespaces=yes
# LockPersonality: without it, syncd could switch the kernel execution domain.
LockPersonality=yes
# RestrictRealtime: without it, a runaway syncd could take realtime priority.
RestrictRealtime=yes
# RestrictSUIDSGID: without it, syncd could create setuid/setgid files.
RestrictSUIDSGID=yes
# SystemCallArchitectures: without it, 32-bit system calls stay open around filters.
SystemCallArchitectures=native
# UMask: without it, the database could be created readable by other users.
UMask=0077

[Install]
WantedBy=multi-user.target
"""


def render_unit(template: str, command: Sequence[str]) -> str:
    """Return ``template`` with ExecStart running ``command`` (quoted for systemd)."""
    return template.replace(EXEC_PLACEHOLDER, " ".join(_quote(part) for part in command))


def _quote(word: str) -> str:
    # systemd.service(5) "Command lines": double quotes group words; backslash escapes.
    # "%" starts a specifier and must be doubled; "$" would be expanded, so "$$".
    escaped = word.replace("%", "%%").replace("$", "$$")
    if any(character in escaped for character in " \t\"'\\;"):
        return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return escaped


def executable_command(argv0: str = sys.argv[0], python: str = sys.executable) -> list[str]:
    """Return the absolute command that runs this syncd (before ``run``).

    The installed ``syncd`` script when that is what runs now (its absolute path, symlinks
    kept so upgrades of pipx/venv installs keep working), else ``python -m syncd``.
    """
    path = Path(argv0)
    if path.name == "syncd" and path.exists():
        return [str(path.absolute())]
    return [str(Path(python).absolute()), "-m", "syncd"]


def user_unit_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Return ``$XDG_CONFIG_HOME/systemd/user`` where systemd's user manager reads units."""
    config = environ.get("XDG_CONFIG_HOME", "")
    base = Path(config) if config and os.path.isabs(config) else (
        Path(environ.get("HOME", str(Path.home()))) / ".config")
    return base / "systemd" / "user"


@dataclass(frozen=True, slots=True)
class SystemctlResult:
    """What running one ``systemctl --user`` command did."""

    command: tuple[str, ...]
    ok: bool
    output: str


def systemctl(arguments: Sequence[str], environ: Mapping[str, str] = os.environ
              ) -> SystemctlResult | None:
    """Run ``systemctl --user ARGUMENTS``; None when systemctl is not installed.

    ``$SYNCD_SYSTEMCTL`` names another systemctl (packagers and tests).
    """
    program = environ.get("SYNCD_SYSTEMCTL") or shutil.which("systemctl")
    if not program:
        return None
    command = (program, "--user", *arguments)
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=30,
                                check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return SystemctlResult(command, False, str(error))
    output = (result.stdout + result.stderr).strip()
    return SystemctlResult(command, result.returncode == 0, output)
