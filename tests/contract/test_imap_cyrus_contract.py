"""The connector contract, run against a real Cyrus IMAP in both its namespace modes
(tests/servers/cyrus.py)."""

from __future__ import annotations

import pytest
from servers.cyrus import cyrus  # noqa: F401 - a fixture

from tests.contract.base import ConnectorContract


class TestCyrusContract(ConnectorContract):
    @pytest.fixture(autouse=True)
    def _server(self, cyrus):  # noqa: F811 - the fixture imported above
        self.server = cyrus
        self.user = cyrus.new_user()

    def make_source(self, messages):
        self.add_messages(messages)
        return self.server.connector(self.user)

    def add_messages(self, messages):
        self.server.put(self.user, "INBOX", list(messages))

    def add_unreadable(self):
        # Cyrus refuses to store a message whose header block is not made of fields; one
        # with neither From nor any recipient is stored, and holds nothing syncd can use.
        self.server.put(self.user, "INBOX", [b"Subject: nobody at all\r\n\r\nbody\r\n"])
