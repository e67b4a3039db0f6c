"""IMAP with OAuth 2.0 against a real Dovecot whose ``oauth2`` passdb asks a loopback RFC 7662
introspection endpoint: SASL XOAUTH2 and OAUTHBEARER, token_command, the Microsoft (MSAL
device code) and Google providers, refresh of an expired token, a revoked grant pausing the
source. Every test ends by grepping logs, errors and the database for every token the fake
identity ever issued: none may be there."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from imap_helpers import mail, pull_all
from servers.dovecot import running_dovecot
from servers.oauth import CLIENT_ID, TENANT, running_identity
from test_imap_security import run_cli

from connectors.mail.imap import ImapConnector
from syncd.errors import AuthError, SourceError
from syncd.store import Store


@pytest.fixture(scope="module")
def identity():
    directory = Path(tempfile.mkdtemp(prefix="syncd-id-", dir="/tmp"))
    with running_identity(directory) as fake:
        yield fake


@pytest.fixture(scope="module")
def dovecot_oauth(identity):
    """Dovecot offering AUTH=XOAUTH2 and AUTH=OAUTHBEARER."""
    with running_dovecot(tls=False, introspection_url=identity.introspection_url) as server:
        yield server


@pytest.fixture(scope="module")
def dovecot_xoauth2(identity):
    """Dovecot offering only AUTH=XOAUTH2, as Microsoft 365 does."""
    with running_dovecot(tls=False, introspection_url=identity.introspection_url,
                         oauth_mechanisms=("xoauth2",)) as server:
        yield server


@pytest.fixture
def trusted(identity, monkeypatch):
    """requests (inside MSAL) trusts the fake identity's test CA, as a system CA would be."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(identity.certificates.ca))


@pytest.fixture(autouse=True)
def debug_logs(caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("imapclient").setLevel(logging.DEBUG)
    return caplog


def account(server, prefix: str = "oauth") -> str:
    user = server.new_user(prefix)
    client = server.client(user)
    client.append("INBOX", mail(1))
    client.logout()
    return user


def token_source_options(server, user: str, **extra: object) -> dict[str, object]:
    options = server.options(user, auth="oauth2", **extra)
    del options["password_command"]
    return options


def imap(server, user: str, state_dir: Path | None = None, **extra: object) -> ImapConnector:
    options = token_source_options(server, user, **extra)
    if state_dir is not None:
        options["state_dir"] = str(state_dir)
    source = ImapConnector("work", options, ZoneInfo("UTC"))
    source.backoff = (0.05, 0.1)
    source.command_timeout = 2.0
    return source


def assert_no_token_anywhere(identity, caplog, *texts: str, state_dir: Path | None = None):
    """No token the fake ever issued is in the logs, the given texts or the database."""
    assert identity.issued, "the test issued no token, so it checked nothing"
    everything = caplog.text + "\n".join(texts)
    files = []
    if state_dir is not None and state_dir.exists():
        files = [path for path in state_dir.iterdir() if path.name.startswith("syncd.sqlite")]
        assert files, "no database to check"
    for token in identity.issued:
        assert token not in everything
        for path in files:
            assert token.encode() not in path.read_bytes()


def dovecot_methods(server, user: str) -> list[str]:
    """The OAuth SASL mechanisms of ``user``'s logins, from Dovecot's own log (written
    by its log process a moment after the login: waited for, up to 10 s)."""
    import time

    deadline = time.monotonic() + 10
    while True:
        methods = [line.split("method=")[1].split(",")[0] for line in server.log().splitlines()
                   if f"imap-login: Info: Login: user=<{user}>," in line
                   and "method=PLAIN" not in line]
        if methods or time.monotonic() > deadline:
            return methods
        time.sleep(0.05)


# --- SASL --------------------------------------------------------------------------------------


def test_oauthbearer_is_used_when_the_server_advertises_it(dovecot_oauth, identity, tmp_path,
                                                         debug_logs):
    user = account(dovecot_oauth)
    token = identity.issue(user)
    _, records, _, _ = pull_all(imap(dovecot_oauth, user, token_command=f"echo {token}"))
    assert [record.message_id for record in records] == ["1@test"]
    assert dovecot_methods(dovecot_oauth, user) == ["OAUTHBEARER"]
    assert_no_token_anywhere(identity, debug_logs)


def test_xoauth2_is_used_when_it_is_all_the_server_offers(dovecot_xoauth2, identity,
                                                        debug_logs):
    user = account(dovecot_xoauth2)
    token = identity.issue(user)
    _, records, _, _ = pull_all(imap(dovecot_xoauth2, user, token_command=f"echo {token}"))
    assert len(records) == 1
    assert dovecot_methods(dovecot_xoauth2, user) == ["XOAUTH2"]
    assert_no_token_anywhere(identity, debug_logs)


@pytest.mark.parametrize("server_name", ["dovecot_oauth", "dovecot_xoauth2"])
def test_a_refused_token_is_an_auth_error_naming_the_fix(server_name, identity, request,
                                                       debug_logs):
    server = request.getfixturevalue(server_name)
    user = account(server)
    token = identity.issue(user)
    identity.expire(token)
    with pytest.raises(AuthError) as refused:
        pull_all(imap(server, user, token_command=f"echo {token}"))
    assert "run: syncd auth work" in str(refused.value)
    assert "refused the OAuth access token" in str(refused.value)
    assert_no_token_anywhere(identity, debug_logs, str(refused.value))


def test_the_idle_connection_logs_in_the_same_way(dovecot_oauth, identity, debug_logs):
    user = account(dovecot_oauth)
    token = identity.issue(user)
    source = imap(dovecot_oauth, user, token_command=f"echo {token}")
    try:
        assert source.wait_for_changes(0.2) is False  # logged in, IDLE timed out quietly
    finally:
        source.close()
    identity.expire(token)
    with pytest.raises(AuthError):
        source.wait_for_changes(0.2)
    assert_no_token_anywhere(identity, debug_logs)


# --- token_command -----------------------------------------------------------------------------


def test_token_command_runs_for_every_connection(dovecot_oauth, identity, tmp_path,
                                                 debug_logs):
    user = account(dovecot_oauth)
    first = identity.issue(user)
    current = tmp_path / "token"
    current.write_text(first + "\n")
    source = imap(dovecot_oauth, user, token_command=f"cat {current}")
    _, _, _, cursor = pull_all(source)
    # The tool refreshed meanwhile (as oama does): the next connection gets the new token.
    identity.expire(first)
    current.write_text(identity.issue(user) + "\n")
    _, records, _, _ = pull_all(source, cursor)
    assert records == []  # logged in, and nothing new
    assert_no_token_anywhere(identity, debug_logs)


@pytest.mark.parametrize(("command", "says"), [
    ("echo at-secret-output; exit 3", "failed (exit status 3, some output)"),
    ("sleep 30", "did not finish in 2 s"),
    ("true", "failed (exit status 0, no output)"),
    ("echo '   '", "printed only blanks"),
])
def test_a_failing_token_command_is_an_error_of_that_source_saying_which(
        dovecot_oauth, identity, tmp_path, command, says, debug_logs):
    user = account(dovecot_oauth)
    with pytest.raises(SourceError) as failed:
        pull_all(imap(dovecot_oauth, user, token_command=command))
    message = str(failed.value)
    assert not isinstance(failed.value, AuthError)  # not the user's grant: nothing to pause
    assert message.startswith("token_command of source 'work'")
    assert says in message
    assert "at-secret-output" not in message + debug_logs.text


def test_a_failing_token_command_stops_only_its_own_source(dovecot_oauth, identity, tmp_path,
                                                           debug_logs):
    user = account(dovecot_oauth)
    token = identity.issue(user)
    state = tmp_path / "state"
    config = tmp_path / "config.toml"
    config.write_text(f"""\
[general]
state_dir = "{state}"
[me]
addresses = ["me@example.com"]
[sources.good]
type = "imap"
host = "127.0.0.1"
port = {dovecot_oauth.port}
tls = "none"
username = "{user}"
token_command = "echo {token}"
[sources.broken]
type = "imap"
host = "127.0.0.1"
port = {dovecot_oauth.port}
tls = "none"
username = "{user}"
token_command = "exit 7"
""")
    code, output = run_cli("-c", str(config), "sync")
    assert code == 1
    assert "good: 1" in output
    assert "token_command of source 'broken' failed (exit status 7" in output
    store = Store.open(state)
    assert not store.is_paused("broken")  # a broken tool is not a refused grant
    store.close()
    # syncd auth on a token_command source checks the command and the login; nothing stored.
    code, checked = run_cli("-c", str(config), "auth", "good")
    assert code == 0 and "token_command of good works" in checked, checked
    code, refused = run_cli("-c", str(config), "auth", "broken")
    assert code == 1 and "token_command of source 'broken' failed" in refused
    assert not (state / "tokens").exists()
    assert_no_token_anywhere(identity, debug_logs, output, checked, refused, state_dir=state)


# --- Microsoft (MSAL device code) --------------------------------------------------------------


def microsoft_config(tmp_path: Path, server, identity, user: str) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f"""\
[general]
state_dir = "{tmp_path / 'state'}"
[me]
addresses = ["me@example.com"]
[sources.work]
type = "imap"
username = "{user}"
oauth_provider = "microsoft"
client_id = "{CLIENT_ID}"
tenant = "{TENANT}"
oauth_authority = "{identity.authority_host}"
host = "127.0.0.1"
port = {server.port}
tls = "none"
""")
    return config


def test_microsoft_device_code_sign_in_then_sync_refresh_and_revocation(
        dovecot_xoauth2, identity, tmp_path, trusted, debug_logs):
    server = dovecot_xoauth2
    user = account(server, "ms")
    config = str(microsoft_config(tmp_path, server, identity, user))
    state = tmp_path / "state"

    code, output = run_cli("-c", config, "sync")
    assert code == 1 and "has no Microsoft sign-in yet; run: syncd auth work" in output

    identity.browser_user = user
    try:
        code, output = run_cli("-c", config, "auth", "work")
    finally:
        identity.browser_user = None
    assert code == 0, output
    assert "open the page https://microsoft.com/devicelogin and enter the code ABCD-" in output
    assert "signed in" in output
    # No keyring here: MSAL's cache went to a 0600 file beside the database.
    [cache_file] = (state / "tokens").iterdir()
    assert cache_file.name == f"microsoft-{user}.json"
    assert cache_file.stat().st_mode & 0o777 == 0o600
    [device_request] = [form for path, form in identity.requests
                        if path == f"/{TENANT}/oauth2/v2.0/devicecode"]
    assert device_request["client_id"] == CLIENT_ID
    assert set(device_request["scope"].split()) >= {
        "https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"}

    code, output = run_cli("-c", config, "sync")
    assert code == 0, output
    assert "work: 1" in output
    refreshes = len(identity.grants("refresh_token"))
    assert refreshes == 0  # the access token from the sign-in was still good

    # An hour later: the cached access token has died; the server refuses it, MSAL redeems the
    # refresh token, and the login is tried once more, with success.
    for token in list(identity.active):
        if identity.active[token] == user:
            identity.expire(token)
    code, output = run_cli("-c", config, "sync")
    assert code == 0, output
    [refresh] = identity.grants("refresh_token")[refreshes:]
    assert refresh["client_id"] == CLIENT_ID
    assert "https://outlook.office.com/IMAP.AccessAsUser.All" in refresh["scope"]

    # The user revokes syncd's access: refused, the source pauses until syncd auth.
    identity.revoke_all(user)
    code, output = run_cli("-c", config, "sync")
    assert code == 1 and "run: syncd auth work" in output
    store = Store.open(state)
    assert store.is_paused("work")
    store.close()
    code, status = run_cli("-c", config, "status")
    assert "paused until you run: syncd auth work" in status

    identity.browser_user = user
    try:
        code, again = run_cli("-c", config, "auth", "work")
    finally:
        identity.browser_user = None
    assert code == 0, again
    store = Store.open(state)
    assert not store.is_paused("work")
    store.close()
    assert_no_token_anywhere(identity, debug_logs, output, status, again, state_dir=state)


def test_a_token_that_expires_mid_session_is_refreshed_when_reconnecting(
        dovecot_xoauth2, identity, tmp_path, trusted, debug_logs):
    from connectors.mail._imap_session import OAuthLogin, Session
    from connectors.mail._microsoft_oauth import MicrosoftTokens
    from syncd.token_store import TokenStore

    server = dovecot_xoauth2
    user = account(server, "mid")
    tokens = MicrosoftTokens("work", user, CLIENT_ID, TENANT, identity.authority_host,
                             TokenStore(tmp_path / "state"))
    identity.browser_user = user
    try:
        tokens.authorize(lambda text: None)
    finally:
        identity.browser_user = None
    source = imap(server, user, oauth_provider="microsoft", client_id=CLIENT_ID)
    session = Session(source.settings, OAuthLogin(tokens), backoff=(0.05,))
    try:
        assert session.examine("INBOX").messages == 1
        # The access token dies while the session is open, and then the connection breaks:
        # the reconnect logs in again, is refused once, refreshes, and the session goes on.
        [token] = [t for t, owner in identity.active.items() if owner == user]
        identity.expire(token)
        refreshes = len(identity.grants("refresh_token"))
        session.connection.interrupt()
        assert session.call(lambda connection: connection.uids_from(1)) == [1]
        assert session.losses == 1
        assert len(identity.grants("refresh_token")) == refreshes + 1
    finally:
        session.close()
    assert_no_token_anywhere(identity, debug_logs)


# --- Google ------------------------------------------------------------------------------------


def test_google_installed_app_sign_in_then_refresh_and_revocation(
        dovecot_oauth, identity, tmp_path, debug_logs):
    import threading
    import urllib.request

    server = dovecot_oauth
    user = account(server, "gm")
    secrets_file = identity.google_client_secrets(tmp_path)
    source = imap(server, user, tmp_path / "state", oauth_provider="google",
                  client_secrets=str(secrets_file))
    with pytest.raises(AuthError, match="no Google authorization yet; run: syncd auth work"):
        pull_all(source)

    shown: list[str] = []

    def browser(text: str) -> None:
        # The user opens the URL and consents; the browser follows Google's redirect.
        shown.append(text)
        url = text.split("\n")[-1]
        redirect = identity.google_consent(url, user)
        threading.Thread(target=lambda: urllib.request.urlopen(redirect, timeout=10).read(),
                         daemon=True).start()

    where = source.authorize(browser)
    assert where is not None and "signed in" in where
    assert "scope=https%3A%2F%2Fmail.google.com%2F" in shown[0]
    assert "code_challenge_method=S256" in shown[0] and "access_type=offline" in shown[0]
    _, records, _, _ = pull_all(source)
    assert len(records) == 1

    # A new process: nothing in memory; the stored refresh token gets an access token.
    fresh = imap(server, user, tmp_path / "state", oauth_provider="google",
                 client_secrets=str(secrets_file))
    before = len(identity.grants("refresh_token"))
    pull_all(fresh)
    assert len(identity.grants("refresh_token")) == before + 1

    identity.revoke_all(user)
    with pytest.raises(AuthError) as refused:
        pull_all(fresh)
    assert "run: syncd auth work" in str(refused.value)
    assert_no_token_anywhere(identity, debug_logs, str(refused.value), *shown)
