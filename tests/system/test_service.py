"""The systemd units and `syncd service install|uninstall|status`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from syncd.service import SYSTEM_UNIT, USER_UNIT, render_unit

REPO = Path(__file__).resolve().parents[2]
USER_FILE = REPO / "systemd" / "syncd.service"
SYSTEM_FILE = REPO / "systemd" / "syncd@.service"


def verify(unit: Path, *, user: bool, runtime: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("systemd-analyze") is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing: scripts/test installs Debian's systemd")
        pytest.skip("systemd-analyze is missing (Debian package systemd)")
    # --user needs a runtime directory even offline; give it a private one.
    return subprocess.run(["systemd-analyze", *(["--user"] if user else []), "verify",
                           str(unit)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)})


def with_this_executable(text: str, placeholder: str) -> str:
    """The repository's unit with ExecStart pointing at the syncd installed here."""
    command = f"{sys.executable} -m syncd"
    return text.replace(placeholder, command)


@pytest.fixture
def runtime(socket_dir):
    # systemd-analyze reads the user's socket units, whose paths live in the runtime
    # directory: it must be short enough for AF_UNIX (see servers/short_paths.py).
    directory = socket_dir / "runtime"
    directory.mkdir(mode=0o700)
    return directory


def test_the_repository_units_are_the_templates_syncd_installs():
    assert USER_FILE.read_text() == USER_UNIT.replace("@EXEC@", "%h/.local/bin/syncd")
    assert SYSTEM_FILE.read_text() == SYSTEM_UNIT.replace("@EXEC@", "/usr/local/bin/syncd")


def test_systemd_analyze_verify_accepts_the_user_unit(tmp_path, runtime):
    unit = tmp_path / "syncd.service"
    unit.write_text(with_this_executable(USER_FILE.read_text(), "%h/.local/bin/syncd"))
    result = verify(unit, user=True, runtime=runtime)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_systemd_analyze_verify_accepts_the_system_wide_template(tmp_path, runtime):
    (tmp_path / "syncd@.service").write_text(
        with_this_executable(SYSTEM_FILE.read_text(), "/usr/local/bin/syncd"))
    result = verify(tmp_path / "syncd@alice.service", user=False, runtime=runtime)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_systemd_analyze_verify_would_catch_a_broken_unit(tmp_path, runtime):
    unit = tmp_path / "syncd.service"
    unit.write_text(with_this_executable(USER_FILE.read_text(), "%h/.local/bin/syncd")
                    .replace("Type=notify", "Type=notifyy"))
    result = verify(unit, user=True, runtime=runtime)
    assert "Failed to parse service type" in result.stderr


def test_both_units_stop_restarting_on_a_config_error_and_use_sd_notify():
    for text in (USER_FILE.read_text(), SYSTEM_FILE.read_text()):
        lines = text.splitlines()
        assert "Type=notify" in lines and "RestartPreventExitStatus=78" in lines
    assert "User=%i" in SYSTEM_FILE.read_text().splitlines()


def test_every_hardening_line_says_what_breaks_without_it():
    for text in (USER_FILE.read_text(), SYSTEM_FILE.read_text()):
        section = text.split("# Hardening.", 1)[1].split("[Install]", 1)[0].splitlines()[1:]
        comments = " ".join(line for line in section if line.startswith("#"))
        directives = [line.split("=", 1)[0] for line in section
                      if line and not line.startswith("#")]
        assert len(directives) >= 5
        for key in directives:
            assert f"{key}:" in comments or f"{key}," in comments, f"{key} is not explained"
        assert comments.count("without it") + comments.count("without them") >= 5


def test_the_exec_line_quotes_paths_with_spaces_and_percent_signs():
    unit = render_unit(USER_UNIT, ["/opt/my apps/syncd", "-c", "/home/a/100%.toml"])
    assert 'ExecStart="/opt/my apps/syncd" -c /home/a/100%%.toml run' in unit


def run_cli(*arguments, env=None):
    return subprocess.run([sys.executable, "-m", "syncd", *arguments], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})


def test_service_install_writes_the_unit_with_this_executable_and_enables_it(tmp_path,
                                                                             isolated_home):
    config = tmp_path / "config.toml"
    config.write_text(f'[general]\nstate_dir = "{tmp_path / "state"}"\n')
    calls = tmp_path / "calls"
    fake = tmp_path / "systemctl"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    fake.chmod(0o755)
    result = run_cli("-c", str(config), "service", "install", env={"SYNCD_SYSTEMCTL": str(fake)})
    assert result.returncode == 0, result.stderr
    unit = isolated_home / ".config" / "systemd" / "user" / "syncd.service"
    exec_line = f"ExecStart={sys.executable} -m syncd -c {config} run"
    assert exec_line in unit.read_text().splitlines()
    assert calls.read_text().splitlines() == ["--user daemon-reload",
                                              "--user enable --now syncd.service"]
    status = run_cli("-c", str(config), "service", "status", env={"SYNCD_SYSTEMCTL": str(fake)})
    assert f"({exec_line})" in status.stdout and "daemon: not running" in status.stdout
    removed = run_cli("service", "uninstall", env={"SYNCD_SYSTEMCTL": str(fake)})
    assert removed.returncode == 0 and not unit.exists()
    assert "--user disable --now syncd.service" in calls.read_text()


def test_service_install_without_a_user_manager_fails_and_says_what_to_run_by_hand(
        tmp_path, isolated_home):
    config = tmp_path / "config.toml"
    config.write_text("")
    fake = tmp_path / "systemctl"
    fake.write_text("#!/bin/sh\necho 'Failed to connect to bus: No medium found' >&2\nexit 1\n")
    fake.chmod(0o755)
    result = run_cli("-c", str(config), "service", "install", env={"SYNCD_SYSTEMCTL": str(fake)})
    assert result.returncode == 1
    assert "could not reach the systemd user manager (Failed to connect to bus" in result.stderr
    assert ("run by hand: systemctl --user daemon-reload && systemctl --user enable --now "
            "syncd.service") in result.stderr
    assert (isolated_home / ".config" / "systemd" / "user" / "syncd.service").exists()


def test_service_install_refuses_an_invalid_config(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[general]\nstat_dir = 1\n")
    result = run_cli("-c", str(config), "service", "install", env={"SYNCD_SYSTEMCTL": "/bin/false"})
    assert result.returncode == 78 and "did you mean 'state_dir'" in result.stderr
