"""Shared setup of the Google source tests: the fake server, a client file, a stored token."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from servers.fake_google import FakeGoogle, RunningFake, serve

from connectors.google._auth import SCOPES, Backoff
from syncd.token_store import TokenStore, token_name


@pytest.fixture(name="google")
def google_server():
    """A fresh fake Google server on 127.0.0.1, stopped after the test."""
    running = serve(FakeGoogle())
    yield running
    running.stop()


def options(running: RunningFake, state_dir: Path, *scope_types: str, account: str | None = None,
            **extra: object) -> dict[str, object]:
    """Return a Google source's options: a client file, api_endpoint and a stored token
    granting the scopes of ``scope_types`` (as ``syncd auth`` would have left it)."""
    fake = running.fake
    state_dir.mkdir(parents=True, exist_ok=True)
    secrets = state_dir / "client_secret.json"
    secrets.write_text(json.dumps(fake.client_secrets()))
    scopes = [SCOPES[kind] for kind in scope_types or ("gmail",)]
    refresh = fake.issue_refresh_token(" ".join(scopes))
    TokenStore(state_dir).save(
        token_name("google", account or fake.client_id),
        json.dumps({"refresh_token": refresh, "token_uri": f"{fake.base}token",
                    "client_id": fake.client_id, "client_secret": fake.client_secret,
                    "scopes": scopes}))
    values: dict[str, object] = {"client_secrets": str(secrets), "api_endpoint": fake.base,
                                 "state_dir": str(state_dir), "quota_units_per_second": 0}
    if account:
        values["account"] = account
    values.update(extra)
    return values


def quick(connector):
    """Shorten the connector's backoff so fault tests do not sleep for seconds."""
    connector.session.backoff = Backoff(base=0.001, ceiling=0.01)
    return connector
