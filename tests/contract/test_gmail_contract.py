"""The connector contract, run against the Gmail API of the fake Google server."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from servers.fake_google import FakeGoogle, serve

from connectors.google.gmail import GmailConnector
from tests.connectors.google_helpers import options, quick
from tests.contract.base import ConnectorContract


class TestGmailContract(ConnectorContract):
    @pytest.fixture(autouse=True)
    def _server(self, tmp_path):
        self.tmp_path = tmp_path
        self.running = serve(FakeGoogle())
        yield
        self.running.stop()

    def make_source(self, messages):
        self.add_messages(messages)
        return quick(GmailConnector("gmail", options(self.running, self.tmp_path / "state"),
                                    ZoneInfo("UTC")))

    def add_messages(self, messages):
        for raw in messages:
            self.running.fake.add_raw(raw)

    def add_unreadable(self):
        self.running.fake.add_raw(b"X-Nothing: here\r\n\r\nno sender, no recipients\r\n")
