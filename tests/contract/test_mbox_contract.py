"""The connector contract, run against an mbox file."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from connectors.mail.mbox import MboxConnector
from tests.contract.base import ConnectorContract


class TestMboxContract(ConnectorContract):
    @pytest.fixture(autouse=True)
    def _path(self, tmp_path):
        self.path = tmp_path / "Inbox"

    def make_source(self, messages):
        self.path.write_bytes(b"")
        self.add_messages(messages)
        return MboxConnector("mbox", {"path": str(self.path)}, ZoneInfo("UTC"))

    def add_messages(self, messages):
        with self.path.open("ab") as file:
            for raw in messages:
                file.write(b"From MAILER-DAEMON Fri Mar  1 10:00:00 2024\n"
                           + raw.replace(b"\r\n", b"\n") + b"\n")

    def add_unreadable(self):
        with self.path.open("ab") as file:
            file.write(b"From MAILER-DAEMON Fri Mar  1 10:00:00 2024\n"
                       b"X-Nothing: here\n\nno sender, no recipients\n\n")
