"""Which IMAP folders are mine: the personal namespace of RFC 2342, by longest prefix."""

from __future__ import annotations

import pytest

from connectors.mail._imap_session import Namespaces
from connectors.mail.imap import _names_namespace, _outside_prefix

#: What Cyrus answers to NAMESPACE in its two modes, and Dovecot with prefix = INBOX.
CYRUS_STANDARD = Namespaces((("INBOX.", "."),), (("user.", "."),), (("", "."),))
CYRUS_ALTERNATE = Namespaces((("", "/"),), (("Other Users/", "/"),),
                             (("Shared Folders/", "/"),))
INBOX_PREFIX = Namespaces((("INBOX.", "."),), (), ())


@pytest.mark.parametrize(("namespaces", "name", "outside"), [
    (CYRUS_STANDARD, "INBOX", None),  # INBOX is always mine (RFC 3501 §5.1)
    (CYRUS_STANDARD, "INBOX.Sent", None),
    (CYRUS_STANDARD, "user.alice", "user."),
    (CYRUS_STANDARD, "user.alice.Sent", "user."),
    (CYRUS_STANDARD, "public.news", ""),  # the shared namespace has the empty prefix
    (CYRUS_ALTERNATE, "Sent", None),
    (CYRUS_ALTERNATE, "Other Users/alice/Sent", "Other Users/"),
    (CYRUS_ALTERNATE, "Shared Folders/team", "Shared Folders/"),
    (INBOX_PREFIX, "INBOX.Junk", None),
    (INBOX_PREFIX, "Sent", None),  # in no namespace at all: a quirk of my own tree
    (None, "Other Users/alice/Sent", None),  # no NAMESPACE: the whole tree is mine
])
def test_a_folder_is_mine_when_its_longest_matching_namespace_is_personal(namespaces, name,
                                                                          outside):
    assert _outside_prefix(name, namespaces) == outside


def test_only_a_glob_that_spells_out_the_prefix_names_another_namespace():
    assert _names_namespace("Other Users/alice/*", "Other Users/")
    assert _names_namespace("user.alice*", "user.")
    assert not _names_namespace("*", "Other Users/")
    assert not _names_namespace("*", "")
    assert not _names_namespace("*/alice/*", "Other Users/")
    assert _names_namespace("public.*", "")
