"""Gmail benchmark: a 20,000-message first sync against the fake Google server.

Run: python bench/gmail_bench.py [--messages 20000] [--ceiling 1000]

The fake server (tests/servers/fake_google.py) runs in a process of its own, so the numbers are
the client's. Prints:

1. throttling off: the connector's CPU time per message (target <= 2 ms, i.e. >= 500
   messages/s of client CPU), its wall-clock rate, and next to it a baseline measured in the
   same run: the bare google-api-python-client sending the same batches of messages.get
   (format=metadata) with nothing done with the answers. The ratio says what syncd adds.
2. the whole pass through the engine and the store (SQLite on disk), for reference.
3. the token bucket on at ``--ceiling`` quota units/s (5 per message): the measured message
   rate against the ceiling; target: within 5% under it, never above.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.google._auth import GMAIL_SCOPE, GoogleSession  # noqa: E402
from connectors.google.gmail import METADATA_HEADERS, GmailConnector  # noqa: E402
from syncd.engine import Engine  # noqa: E402
from syncd.rules import Rules  # noqa: E402
from syncd.store import Store  # noqa: E402
from syncd.token_store import TokenStore, token_name  # noqa: E402


def start_fake(messages: int) -> tuple[subprocess.Popen[str], dict[str, object]]:
    process = subprocess.Popen([sys.executable, "-m", "tests.servers.fake_google",
                                str(messages)], cwd=ROOT, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, json.loads(process.stdout.readline())


def source_options(fake: dict[str, object], state: Path, rate: int) -> dict[str, object]:
    secrets = fake["client_secrets"]
    assert isinstance(secrets, dict)
    client = secrets["installed"]
    state.mkdir(parents=True, exist_ok=True)
    (state / "client_secret.json").write_text(json.dumps(secrets))
    TokenStore(state).save(token_name("google", client["client_id"]), json.dumps({
        "refresh_token": fake["refresh_token"], "token_uri": client["token_uri"],
        "client_id": client["client_id"], "client_secret": client["client_secret"],
        "scopes": [GMAIL_SCOPE]}))
    return {"client_secrets": str(state / "client_secret.json"), "api_endpoint": fake["base"],
            "state_dir": str(state), "quota_units_per_second": rate,
            "exclude_labels": []}


def pull(options: dict[str, object], limit: int | None = None) -> tuple[int, float, float]:
    """Return (messages, CPU seconds, wall seconds) of one full pull (first ``limit``)."""
    connector = GmailConnector("bench", options, ZoneInfo("UTC"))
    connector.session.credentials()  # the token refresh is not what is measured
    connector.session.service("gmail", "v1")
    count = 0
    cpu, wall = time.process_time(), time.perf_counter()
    for page in connector.pull(None, frozenset()):
        count += len(page.records) + len(page.skipped)
        if limit is not None and count >= limit:
            break
    return count, time.process_time() - cpu, time.perf_counter() - wall


def bare_client(options: dict[str, object]) -> tuple[int, float]:
    """The baseline: the library alone listing ids and sending the same batches."""
    from googleapiclient.http import BatchHttpRequest

    session = GoogleSession("bench", options, GMAIL_SCOPE)
    messages = session.service("gmail", "v1").users().messages()
    count = 0

    def ignore(request_id: str, response: object, exception: Exception | None) -> None:
        nonlocal count
        count += exception is None

    cpu = time.process_time()
    token = None
    while True:
        listing = messages.list(userId="me", maxResults=500, pageToken=token).execute()
        ids = [item["id"] for item in listing.get("messages", ())]
        for start in range(0, len(ids), 50):
            batch = BatchHttpRequest(callback=ignore,
                                     batch_uri=session.batch_uri("gmail", "v1"))
            for identifier in ids[start:start + 50]:
                batch.add(messages.get(userId="me", id=identifier, format="metadata",
                                       metadataHeaders=list(METADATA_HEADERS)))
            batch.execute()
        token = listing.get("nextPageToken")
        if not token:
            return count, time.process_time() - cpu


def engine_pass(options: dict[str, object], state: Path) -> tuple[int, float, float]:
    store = Store.open(state / "db")
    store.set_configured_addresses(["me@gmail.com"])
    engine = Engine(store, Rules(), lambda: datetime(2026, 6, 1, tzinfo=UTC))
    connector = GmailConnector("bench", options, ZoneInfo("UTC"))
    cpu, wall = time.process_time(), time.perf_counter()
    report = engine.sync("bench", connector)
    elapsed = time.process_time() - cpu, time.perf_counter() - wall
    store.close()
    assert report.error is None, report.error
    return report.records, *elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--ceiling", type=int, default=1000,
                        help="quota units/s for the throttled run (Google's is 250)")
    parser.add_argument("--throttled-messages", type=int, default=4000)
    arguments = parser.parse_args()
    process, fake = start_fake(arguments.messages)
    try:
        with tempfile.TemporaryDirectory(dir="/tmp") as directory:
            state = Path(directory)
            options = source_options(fake, state / "a", 0)
            base_count, base_cpu = bare_client(options)
            count, cpu, wall = pull(options)
            print(f"fake Gmail, {count:,} messages, throttling off")
            print(f"  bare client library (baseline): {base_cpu / base_count * 1000:.2f} ms CPU"
                  f" per message ({base_count / base_cpu:,.0f}/s)")
            print(f"  syncd connector:                {cpu / count * 1000:.2f} ms CPU per "
                  f"message ({count / cpu:,.0f}/s of CPU; {count / wall:,.0f}/s wall); "
                  f"target <= 2 ms")
            print(f"  ratio to the baseline:          {cpu / base_cpu:.2f}x")
            records, engine_cpu, engine_wall = engine_pass(options, state / "a")
            print(f"  whole pass with engine + store: {engine_cpu / records * 1000:.2f} ms CPU "
                  f"per message, {records / engine_wall:,.0f} messages/s wall")
            rate = arguments.ceiling
            limited = source_options(fake, state / "b", rate)
            count, _, wall = pull(limited, arguments.throttled_messages)
            ceiling = rate / 5
            measured = count / wall
            print(f"token bucket at {rate} units/s = {ceiling:,.0f} messages/s ceiling, "
                  f"{count:,} messages")
            print(f"  measured {measured:,.1f} messages/s = {measured / ceiling:.1%} of the "
                  f"ceiling (target: 95-100%)")
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)


if __name__ == "__main__":
    main()
