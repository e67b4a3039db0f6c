"""`syncd auth` and `syncd sync` of Google sources end to end, against the fake Google server.

The fake plays Google's consent screen: fetching its authorization URL redirects (like a
browser after "Allow") to the loopback address `syncd auth` waits on.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from servers.fake_google import FakeGoogle, fill_mailbox, serve

from syncd.store import Store
from syncd.testing import database_content

GMAIL = "https://www.googleapis.com/auth/gmail.metadata"
CALENDAR = "https://www.googleapis.com/auth/calendar.readonly"


@pytest.fixture
def google():
    running = serve(FakeGoogle())
    yield running
    running.stop()


def write_config(tmp: Path, running, *, calendar: bool = False, extra: str = "") -> Path:
    secrets = tmp / "client_secret.json"
    secrets.write_text(json.dumps(running.fake.client_secrets()))
    text = (f'[general]\nstate_dir = "{tmp / "state"}"\n[me]\naddresses = ["me@gmail.com"]\n'
            f'[sources.gmail]\ntype = "gmail"\nclient_secrets = "{secrets}"\n'
            f'account = "me@gmail.com"\napi_endpoint = "{running.base}"\n{extra}')
    if calendar:
        text += (f'[sources.gcal]\ntype = "google_calendar"\nclient_secrets = "{secrets}"\n'
                 f'account = "me@gmail.com"\napi_endpoint = "{running.base}"\n')
    config = tmp / "config.toml"
    config.write_text(text)
    return config


def syncd(config: Path, *arguments: str) -> list[str]:
    return [sys.executable, "-m", "syncd", "-c", str(config), *arguments]


def start_auth(config: Path, source: str = "gmail", *options: str):
    process = subprocess.Popen(syncd(config, *options, "auth", source, "--no-browser"),
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    shown = ""
    while "http" not in shown:
        line = process.stderr.readline()
        assert line, f"syncd auth ended early: {process.communicate()}"
        shown += line
    [url] = re.findall(r"(http://127\.0\.0\.1:\d+/o/oauth2/auth\?\S+)", shown)
    return process, url, shown


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_auth_with_no_browser_prints_the_url_and_takes_the_loopback_redirect(google, tmp_path):
    config = write_config(tmp_path, google, calendar=True)
    # -v: at DEBUG the OAuth libraries would log the token response, tokens included.
    process, url, _ = start_auth(config, "gmail", "-v")
    # The "browser": Google's consent page redirects to the loopback address syncd listens on.
    with urllib.request.urlopen(url, timeout=30) as answer:
        assert b"authorization received" in answer.read()
    output, errors = process.communicate(timeout=60)
    assert process.returncode == 0, errors
    token_file = tmp_path / "state" / "tokens" / "google-me@gmail.com.json"
    assert f"the refresh token is in {token_file}" in output
    assert "authorized gmail, gcal" in output
    assert f"LoadCredential=google-me@gmail.com:{token_file}" in output
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"
    # One consent for both sources of the account: only the scopes they need.
    assert google.fake.granted_scopes == [f"{CALENDAR} {GMAIL}"]
    stored = json.loads(token_file.read_text())
    assert stored["token_uri"] == f"{google.base}token"
    for secret in google.fake.refresh_tokens_issued + google.fake.access_tokens_issued:
        assert secret not in output + errors


def test_auth_accepts_the_redirected_address_pasted_from_another_machine(google, tmp_path):
    config = write_config(tmp_path, google)
    process, url, _ = start_auth(config)
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(url, timeout=30)
    final = redirect.value.headers["Location"]
    # The browser elsewhere could not reach this machine's loopback: the user pastes it.
    output, errors = process.communicate(final + "\n", timeout=60)
    assert process.returncode == 0, errors
    assert "authorized gmail" in output
    assert google.fake.refresh_tokens


def test_sync_after_auth_then_a_revoked_token_pauses_the_source_with_the_fix(google, tmp_path):
    fill_mailbox(google.fake, 40)
    config = write_config(tmp_path, google)
    process, url, _ = start_auth(config)
    urllib.request.urlopen(url, timeout=30).read()
    process.communicate(timeout=60)
    done = subprocess.run(syncd(config, "sync"), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "gmail: 40 read, 40 counted" in done.stdout
    google.fake.add_message(sender="late@example.org", to="me@gmail.com")
    google.fake.revoke()
    failed = subprocess.run(syncd(config, "sync"), capture_output=True, text=True, timeout=120)
    assert failed.returncode == 1
    assert "run: syncd auth gmail" in failed.stderr
    status = subprocess.run(syncd(config, "status"), capture_output=True, text=True, timeout=60)
    assert "paused until you run: syncd auth gmail" in status.stdout
    assert google.fake.calls["token"] == 2 + 1  # auth code, first sync, one refused refresh


def test_a_first_sync_killed_midway_resumes_without_loss_or_double_counting(google, tmp_path):
    fake = google.fake
    fill_mailbox(fake, 1500)
    fake.batch_delay = 0.02
    # Far above Google's limit, so the test is quick; the estimate still uses it.
    config = write_config(tmp_path, google, extra="quota_units_per_second = 25000\n")
    process, url, _ = start_auth(config)
    urllib.request.urlopen(url, timeout=30).read()
    process.communicate(timeout=60)
    database = tmp_path / "state" / "syncd.sqlite3"
    sync = subprocess.Popen(syncd(config, "sync"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    stored = 0
    while time.monotonic() < deadline and sync.poll() is None:
        time.sleep(0.05)
        if database.exists():
            try:
                with contextlib.closing(sqlite3.connect(database, timeout=5)) as db:
                    stored = db.execute("SELECT count(*) FROM observations").fetchone()[0]
            except sqlite3.Error:
                continue
            if stored >= 500:
                break
    assert sync.poll() is None, "the sync ended before it could be killed"
    os.kill(sync.pid, signal.SIGKILL)
    sync.wait()
    assert 500 <= stored < 1500
    status = subprocess.run(syncd(config, "status"), capture_output=True, text=True, timeout=60)
    assert re.search(r"Gmail: [\d,]+ of 1,500 read, about \d+ min left at Google's rate limit",
                     status.stdout), status.stdout
    fetched_before = fake.calls["messages.get"]
    fake.batch_delay = 0
    done = subprocess.run(syncd(config, "sync"), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    store = Store.open(database.parent)
    content = database_content(store)
    store.close()
    assert len(content["observations"]) == 1500
    assert sum(count for *_, count, _ in content["stats"]) == 1500
    # Resumed from the last stored page: at most one page (500) read twice.
    assert fake.calls["messages.get"] - fetched_before <= 1500 - stored + 500
    assert "next" not in json.loads(dict(content["cursors"])["gmail"])
