"""vCard import (RFC 6350; vCard 3.0 and 2.1 tolerated): names, addresses, categories.

Only FN/N, EMAIL and CATEGORIES are read. A card whose CATEGORIES names a configured tier is
tracked at that tier; other cards only teach syncd who owns which addresses.
"""

from __future__ import annotations

from collections.abc import Iterator, Set
from dataclasses import dataclass

from syncd.addresses import normalize_address
from syncd.store import Store


@dataclass(frozen=True, slots=True)
class Card:
    """The parts of one vCard syncd uses."""

    name: str
    addresses: tuple[str, ...]
    categories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did."""

    people: int
    addresses: int
    tracked: int
    skipped: int


def _unfold(text: str) -> Iterator[str]:
    # RFC 6350 §3.2: a line starting with a space or tab continues the previous one.
    current = ""
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line[:1] in (" ", "\t") and current:
            current += line[1:]
        else:
            if current:
                yield current
            current = line
    if current:
        yield current


def _unescape(value: str) -> str:
    return value.replace("\\,", ",").replace("\\;", ";").replace("\\n", " ").replace("\\\\", "\\")


def parse_cards(data: bytes) -> list[Card]:
    """Return every card in ``data``; properties syncd does not use are ignored."""
    text = data.decode("utf-8", errors="replace")
    cards: list[Card] = []
    name, structured = "", ""
    addresses: list[str] = []
    categories: list[str] = []
    for line in _unfold(text):
        head, _, value = line.partition(":")
        prop = head.split(";", 1)[0].split(".")[-1].upper()
        if prop == "BEGIN" and value.strip().upper() == "VCARD":
            name, structured, addresses, categories = "", "", [], []
        elif prop == "FN":
            name = _unescape(value).strip()
        elif prop == "N":
            parts = [_unescape(part).strip() for part in value.split(";")]
            structured = " ".join(p for p in (parts[1:2] + parts[:1]) if p)
        elif prop == "EMAIL":
            address = normalize_address(value)
            if address and address not in addresses:
                addresses.append(address)
        elif prop == "CATEGORIES":
            categories.extend(c.strip() for c in value.split(",") if c.strip())
        elif prop == "END" and value.strip().upper() == "VCARD":
            cards.append(Card(name or structured, tuple(addresses), tuple(categories)))
    return cards


def import_cards(store: Store, data: bytes, tiers: Set[str]) -> ImportResult:
    """Merge every card with an address into the store (one transaction); return counts."""
    cards = parse_cards(data)
    people = addresses = tracked = skipped = 0
    tier_by_lower = {tier.lower(): tier for tier in tiers}
    with store.transaction():
        for card in cards:
            if not card.addresses:
                skipped += 1
                continue
            person_id = store.merge_addresses(card.name or card.addresses[0], card.addresses)
            people += 1
            addresses += len(card.addresses)
            tier = next((tier_by_lower[c.lower()] for c in card.categories
                         if c.lower() in tier_by_lower), None)
            if tier is not None:
                store.mark_tracked_in_transaction(person_id, tier)
                tracked += 1
    return ImportResult(people, addresses, tracked, skipped)
