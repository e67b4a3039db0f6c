"""Real third-party mail (../shared/corpus/mail) served by a real Dovecot: nothing escapes."""

from __future__ import annotations

import pytest
from imap_helpers import connector, deliver, pull_all
from servers.dovecot import dovecot_plain  # noqa: F401 - a fixture

from tests.conftest import CORPUS

MAIL = CORPUS / "mail"
#: Folders of the corpus with the most malformed headers (bounces with CR-only lines, MIME and
#: header torture cases, RFC 2047/2231 edge cases).
TORTURE = ("sisimai-bounces", "flanker-fixtures", "spamscope-mail-parser-fixtures",
           "php-mime-mail-parser-fixtures")


def corpus_messages(limit_per_folder: int = 40) -> list[bytes]:
    messages = []
    for folder in TORTURE:
        files = sorted(p for p in (MAIL / folder).rglob("*")
                       if p.is_file() and "_upstream" not in p.parts
                       and p.name.lower() not in ("readme", "readme.md", "license"))
        messages += [p.read_bytes() for p in files[:limit_per_folder]]
    return [m for m in messages if m.strip()]


@pytest.mark.corpus
@pytest.mark.skipif(not MAIL.is_dir(), reason=f"no corpus at {MAIL}")
def test_malformed_corpus_mail_appended_to_a_folder_never_stops_a_sync(dovecot_plain):  # noqa: F811
    user = dovecot_plain.new_user()
    messages = corpus_messages()
    deliver(dovecot_plain, user, "INBOX", messages)
    _, records, skipped, cursor = pull_all(connector(dovecot_plain, user))
    assert len(records) + len(skipped) == len(messages)
    assert len(records) > len(messages) // 2
    assert all(skip.reason for skip in skipped)
    _, again, _, _ = pull_all(connector(dovecot_plain, user), cursor)
    assert again == []
