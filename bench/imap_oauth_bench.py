"""IMAP OAuth login benchmark: what a connection's login costs with each way of logging in.

Run: python bench/imap_oauth_bench.py [rounds]
Starts a Dovecot (oauth2 passdb + a loopback RFC 7662 introspection endpoint, as the tests do)
and opens and closes ``rounds`` connections (default 50) per way: LOGIN with a password (the
baseline, measured in the same run), OAUTHBEARER and XOAUTH2 with a token in memory (Dovecot
asks the introspection endpoint each time), and OAUTHBEARER with the token from a
``token_command`` (a shell started per connection). Prints ms per connection and the ratio to
the baseline. A sync opens one connection, so these are per-sync costs, not per message.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from servers.dovecot import PASSWORD, running_dovecot  # noqa: E402
from servers.oauth import running_identity  # noqa: E402

from connectors.mail._imap_oauth import CommandTokens  # noqa: E402
from connectors.mail._imap_session import Connection, OAuthLogin, PasswordLogin, Settings  # noqa: E402


class Fixed:
    def __init__(self, token: str) -> None:
        self.token = token

    def access_token(self, *, fresh: bool = False) -> str:
        return self.token


def per_connection(settings: Settings, login, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        Connection.open(settings, login).close()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    base = 0.0
    with running_identity(Path(tempfile.mkdtemp(prefix="syncd-bench-", dir="/tmp"))) as fake:
        for mechanisms in (("xoauth2", "oauthbearer"), ("xoauth2",)):
            with running_dovecot(tls=False, introspection_url=fake.introspection_url,
                                 oauth_mechanisms=mechanisms) as server:
                user = server.new_user("bench")
                token = fake.issue(user)
                settings = Settings("bench", "127.0.0.1", server.port, user, "none", 10.0)
                if mechanisms == ("xoauth2",):
                    ms = per_connection(settings, OAuthLogin(Fixed(token)), rounds)
                    print(f"XOAUTH2, token in memory:     {ms:6.2f} ms  ({ms / base:.2f}x)")
                    continue
                base = per_connection(settings, PasswordLogin(PASSWORD), rounds)
                print(f"LOGIN with a password:        {base:6.2f} ms  (baseline)")
                ms = per_connection(settings, OAuthLogin(Fixed(token)), rounds)
                print(f"OAUTHBEARER, token in memory: {ms:6.2f} ms  ({ms / base:.2f}x)")
                command = CommandTokens("bench", f"echo {token}", 10.0)
                ms = per_connection(settings, OAuthLogin(command), rounds)
                print(f"OAUTHBEARER, token_command:   {ms:6.2f} ms  ({ms / base:.2f}x)")


if __name__ == "__main__":
    main()
