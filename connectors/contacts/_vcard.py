"""One CardDAV resource to one :class:`~syncd.model.Card`, through syncd's one vCard reader.

The vCard reading itself (vobject; 4.0, 3.0, 2.1 tolerated; photos dropped, odd charsets
decoded) is :func:`syncd.vcard.read_cards`, which ``syncd import vcard`` uses too. This adds
what CardDAV needs: RFC 6352 §5.1 allows exactly one vCard per address object resource, and the
card's ``source_id`` is the resource's href (the key of its later removal), not its UID.
"""

from __future__ import annotations

from dataclasses import replace

from syncd.model import Card
from syncd.vcard import read_cards


class VcardUnreadable(ValueError):
    """A resource that is not one readable vCard; ``str()`` is the reason."""


def parse_one(data: str, source_id: str) -> Card:
    """Return the Card of ``data`` under ``source_id``; raise VcardUnreadable with why not."""
    found = list(read_cards(data.encode("utf-8")))
    reasons = [why for _, card, why in found if card is None]
    if reasons:
        raise VcardUnreadable(reasons[0])
    if len(found) != 1:
        raise VcardUnreadable(f"it holds {len(found)} vCards, not one (RFC 6352 §5.1)")
    card = found[0][1]
    assert card is not None
    return replace(card, source_id=source_id)
