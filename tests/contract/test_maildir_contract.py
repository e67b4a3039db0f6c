"""The connector contract, run against a Maildir."""

from __future__ import annotations

import itertools
from zoneinfo import ZoneInfo

import pytest

from connectors.mail.maildir import MaildirConnector
from tests.contract.base import ConnectorContract

_names = itertools.count(1)


class TestMaildirContract(ConnectorContract):
    @pytest.fixture(autouse=True)
    def _root(self, tmp_path):
        self.root = tmp_path / "Maildir"

    def make_source(self, messages):
        for sub in ("cur", "new", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.add_messages(messages)
        return MaildirConnector("mail", {"path": str(self.root)}, ZoneInfo("UTC"))

    def add_messages(self, messages):
        for raw in messages:
            (self.root / "new" / f"1712000000.{next(_names)}.test").write_bytes(raw)

    def add_unreadable(self):
        (self.root / "cur" / f"1712000000.{next(_names)}.test:2,S").write_bytes(b"\x00" * 64)
