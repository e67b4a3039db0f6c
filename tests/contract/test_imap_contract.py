"""The connector contract, run against a real Dovecot."""

from __future__ import annotations

import pytest
from servers.dovecot import dovecot_plain  # noqa: F401 - a fixture

from tests.connectors.imap_helpers import connector, deliver
from tests.contract.base import ConnectorContract


class TestImapContract(ConnectorContract):
    @pytest.fixture(autouse=True)
    def _server(self, dovecot_plain):  # noqa: F811 - the fixture imported above
        self.server = dovecot_plain
        self.user = dovecot_plain.new_user()

    def make_source(self, messages):
        self.add_messages(messages)
        return connector(self.server, self.user)

    def add_messages(self, messages):
        deliver(self.server, self.user, "INBOX", messages)

    def add_unreadable(self):
        deliver(self.server, self.user, "INBOX", [b"\x00\x01 not a mail at all\r\n"])
