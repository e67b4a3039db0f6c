"""Real-world mail nobody on this project wrote (../shared/corpus/mail) must never stop a sync.

Skipped when the corpus is not checked out next to this project.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors.mail._mail import Unreadable, parse_header_block, read_header_bytes
from connectors.mail.mbox import MboxConnector
from syncd.model import Message, Role

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
MAIL = CORPUS / "mail"

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not MAIL.is_dir(), reason=f"no corpus at {MAIL}"),
]


def corpus_files(root: Path) -> Iterator[Path]:
    """Every message-like file under ``root``, without upstream READMEs and licenses."""
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(MAIL)
        if any("_upstream" in part for part in relative.parts) or not path.is_file():
            continue
        if path.name.upper().startswith(("README", "LICENSE", "COPYING", "NOTICE")):
            continue
        yield path


def test_every_corpus_file_parses_or_is_unreadable_with_a_reason() -> None:
    outcomes = {"parsed": 0, "unreadable": 0}
    for path in corpus_files(MAIL):
        raw = read_header_bytes(path)
        try:
            message = parse_header_block(
                raw, source_id=str(path), folder_role=Role.INBOX, received=None
            )
        except Unreadable as unreadable:
            assert unreadable.reason and "\n" not in unreadable.reason, path
            outcomes["unreadable"] += 1
            continue
        assert message.date is None or message.date.tzinfo is not None, path
        assert message.message_id is None or message.message_id.strip() == message.message_id
        outcomes["parsed"] += 1
    assert outcomes["parsed"] > 4000, outcomes


def test_easy_ham_nearly_always_yields_a_sender_and_a_date() -> None:
    files = list(corpus_files(MAIL / "spamassassin-corpus" / "easy-ham-1"))
    assert len(files) > 1000
    with_sender = with_date = 0
    # Delivered now, as if just read from a Maildir: every file yields a message, and its date
    # is the Date header's when that is plausible.
    now = datetime.now(UTC)
    for path in files:
        message = parse_header_block(
            read_header_bytes(path), source_id=path.name, folder_role=Role.INBOX, received=now
        )
        with_sender += message.sender is not None
        with_date += message.date is not None
    assert with_sender / len(files) > 0.99
    assert with_date / len(files) > 0.97


def test_mbox_files_in_the_corpus_split_into_messages_without_errors() -> None:
    mbox_files = [
        path
        for folder in ("mimekit-fixtures", "perceval-mbox", "sisimai-bounces/mailbox")
        for path in corpus_files(MAIL / folder)
        if path.read_bytes()[:8].lstrip(b"\xef\xbb\xbf\r\n").startswith(b"From ")
    ]
    assert len(mbox_files) >= 10
    total = 0
    for path in mbox_files:
        source = MboxConnector("corpus", {"path": str(path)}, ZoneInfo("UTC"))
        pages = list(source.pull(None, set()))
        records = [record for page in pages for record in page.records]
        skipped = [skip for page in pages for skip in page.skipped]
        starts = path.read_bytes().count(b"\nFrom ") + 1
        assert 0 < len(records) + len(skipped) <= starts, path
        assert all(isinstance(record, Message) for record in records)
        total += len(records)
    assert total > 50
