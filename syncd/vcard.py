"""vCard import with vobject (vCard 4.0, RFC 6350, and 3.0, RFC 2426; 2.1 tolerated): names,
e-mail addresses, categories, birthdays and UIDs become :class:`syncd.model.Card` records.

A file is cut into cards before vobject reads them, so one broken card is skipped with a
reason and the others import: a card without END:VCARD, one that is not valid UTF-8 (read as
Latin-1/Windows-1252 then, as old exporters write it), one whose UID an earlier card of the
same import had. Only the properties syncd reads reach vobject: photos and the like are never
read (vCard 2.1 writes base64 blocks without the folding vobject expects). vCard 2.1
QUOTED-PRINTABLE soft line breaks (a line ending in ``=``) are joined first.

Every import is the source ``vcard``: a card is stored under its UID (or, without one, a hash
of its name and addresses), so importing the same file again changes nothing. An import only
adds and updates; a card missing from a later file is not removed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import vobject

from syncd.addresses import normalize_address
from syncd.cards import TierMap
from syncd.model import Address, Birthday, Card, Skip

if TYPE_CHECKING:  # the parser is shared with the CardDAV source, which needs no store
    from syncd.store import Store

#: The source every ``syncd import vcard`` stores its cards under.
SOURCE = "vcard"

#: The only properties handed to vobject: the ones syncd reads. Others (photos, logos and keys
#: among them, large base64 blocks that vCard 2.1 writes without the folding vobject expects,
#: RFC 6350 §6.2.4, §6.6.3, §6.8.1) are dropped unread: a card is never refused for a property
#: syncd has no use for, and vobject, ~1 ms per property line, parses a third as much.
_READ = frozenset({"BEGIN", "END", "VERSION", "FN", "N", "EMAIL", "CATEGORIES", "BDAY", "UID"})
#: The start of a property line: [group.]NAME followed by ';' or ':' (RFC 6350 §3.3). A base64
#: line never contains either.
_PROPERTY = re.compile(r"^(?:[A-Za-z0-9-]+\.)?([A-Za-z0-9-]+)[;:]")
#: BDAY as date (RFC 6350 §4.3.1, ISO 8601 basic or extended): 1980-04-15, 19800415,
#: --0415 and --04-15 (no year), optionally followed by a time.
_DATE = re.compile(r"^(?:(\d{4})|--)-?(\d{2})-?(\d{2})(?:$|T)")


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did: cards stored, people newly tracked, and cards skipped with why
    (a card without an e-mail address is counted in ``without_email``, not skipped)."""

    people: int
    addresses: int
    tracked: int
    without_email: int
    skipped: tuple[Skip, ...]
    cards_found: int


def vcard_files(path: Path) -> list[Path]:
    """Return ``path`` itself, or the ``.vcf``/``.vcard`` files under a directory, sorted."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file()
                      and p.suffix.lower() in (".vcf", ".vcard"))
    return [path]


def split_cards(data: bytes) -> Iterator[tuple[int, str | None, str]]:
    """Yield (line number, text or None, reason) per card in ``data``: the text of a whole
    card, or None with the reason it cannot be read."""
    lines = data.splitlines()
    start: int | None = None
    for number, raw in enumerate(lines, 1):
        upper = raw.strip().upper()
        if upper == b"BEGIN:VCARD":
            if start is not None:
                yield start, None, "it has no END:VCARD before the next BEGIN:VCARD"
            start = number
        elif upper == b"END:VCARD" and start is not None:
            yield start, _decode(b"\r\n".join(lines[start - 1:number])), ""
            start = None
    if start is not None:
        yield start, None, "it has no END:VCARD before the end of the file"


def _decode(chunk: bytes) -> str:
    try:
        return chunk.decode("utf-8")
    except UnicodeDecodeError:
        # Not UTF-8: old exporters (vCard 2.1, Outlook) write the machine's 8-bit charset.
        return chunk.decode("cp1252", errors="replace")


def _clean(text: str) -> str:
    """Return the card with only the properties syncd reads (:data:`_READ`), without blank
    lines, and with QP soft line breaks joined."""
    kept: list[str] = []
    dropping = False
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.strip():
            continue
        match = _PROPERTY.match(line)
        if match is None or line[:1] in (" ", "\t"):
            if not dropping and kept:
                kept.append(line)  # a folded continuation (RFC 6350 §3.2)
            continue
        name = match.group(1).upper()
        dropping = name not in _READ
        if dropping:
            continue
        head = line.split(":", 1)[0].upper()
        if "QUOTED-PRINTABLE" in head:
            # vCard 2.1: a QP value continues on the next line after a trailing '='.
            while line.endswith("=") and index < len(lines):
                line = line[:-1] + lines[index].lstrip()
                index += 1
        kept.append(line)
    return "\r\n".join(kept) + "\r\n"


def parse_birthday(value: object) -> Birthday | None:
    """Return the birthday of a BDAY value, or None when it is no date (a text BDAY)."""
    if isinstance(value, date):
        return Birthday(value.month, value.day, value.year)
    match = _DATE.match(str(value).strip())
    if match is None:
        return None
    year = int(match.group(1)) if match.group(1) else None
    month, day = int(match.group(2)), int(match.group(3))
    try:
        date(year or 2000, month, day)  # 2000 is a leap year: --0229 is a date
    except ValueError:
        return None
    return Birthday(month, day, year)


def _text(component: Any, name: str) -> str:
    value = getattr(component, name, None)
    text = getattr(value, "value", "") if value is not None else ""
    return text.strip() if isinstance(text, str) else ""


def _preference(line: Any) -> int:
    """Return how preferred an EMAIL line is, 1 most: vCard 4.0 PREF=1..100 (RFC 6350 §5.3);
    3.0 TYPE=pref (RFC 2426 §3.3.2) and 2.1's bare PREF count as 1; no preference is 101."""
    params = getattr(line, "params", {}) or {}
    for value in params.get("PREF", ()):
        try:
            return min(max(int(value), 1), 100)
        except ValueError:
            continue
    kinds = [*params.get("TYPE", ()), *(getattr(line, "singletonparams", ()) or ())]
    return 1 if any(str(kind).lower() == "pref" for kind in kinds) else 101


def _card(component: Any) -> Card:
    name = _text(component, "fn")
    if not name and "n" in component.contents:
        structured = component.n.value
        name = " ".join(part for part in (getattr(structured, "given", ""),
                                          getattr(structured, "family", ""))
                        if isinstance(part, str) and part).strip()
    emails: list[Address] = []
    # The preferred address first (a sorted() is stable: the card's order otherwise): the first
    # address decides whose card it is when a split keeps its addresses apart (store/cards.py).
    for line in sorted(component.contents.get("email", ()), key=_preference):
        email = normalize_address(str(line.value))
        if email and email not in [a.email for a in emails]:
            emails.append(Address(email, name))
    categories: list[str] = []
    for line in component.contents.get("categories", ()):
        values = line.value if isinstance(line.value, list) else str(line.value).split(",")
        categories.extend(value.strip() for value in values if value.strip())
    birthday = None
    for line in component.contents.get("bday", ()):
        birthday = parse_birthday(line.value)
        if birthday is not None:
            break
    uid = _text(component, "uid") or None
    if uid is not None:
        source_id = f"uid:{uid}"
    else:
        digest = hashlib.sha256("\n".join([name, *sorted(a.email for a in emails)]).encode())
        source_id = f"sha256:{digest.hexdigest()[:32]}"
    return Card(source_id=source_id, uid=uid, name=name, addresses=tuple(emails),
                categories=tuple(dict.fromkeys(categories)), birthday=birthday)


def read_cards(data: bytes) -> Iterator[tuple[int, Card | None, str]]:
    """Yield ``(line, card, "")`` for each readable card of ``data`` and ``(line, None, why)``
    for each one that is not (``why``: a reason without the place, "it has no END:VCARD...");
    a card repeating the UID of an earlier one is not readable."""
    seen: dict[str, int] = {}
    for line, text, reason in split_cards(data):
        if text is None:
            yield line, None, reason
            continue
        try:
            component = vobject.readOne(_clean(text))
            card = _card(component)
        except Exception as error:  # vobject raises several kinds, all meaning "unreadable"
            detail = str(error).splitlines()[0] if str(error) else type(error).__name__
            yield line, None, f"it is not a readable vCard ({detail})"
            continue
        if card.uid is not None and card.uid in seen:
            yield line, None, f"its UID {card.uid} is the one of the card at line {seen[card.uid]}"
            continue
        if card.uid is not None:
            seen[card.uid] = line
        yield line, card, ""


def parse_cards(data: bytes, label: str = "") -> tuple[list[Card], list[Skip]]:
    """Return the cards in ``data`` and the ones skipped, each with a one-line reason
    (``label`` names the file in the skip's source id)."""
    cards: list[Card] = []
    skipped: list[Skip] = []
    for line, card, why in read_cards(data):
        if card is None:
            where = f"{label}:{line}" if label else f"line {line}"
            skipped.append(Skip(where, f"the card at {where} was skipped: {why}"))
        else:
            cards.append(card)
    return cards, skipped


def import_cards(store: Store, data: bytes | Iterable[tuple[str, bytes]],
                 tiers: TierMap | Iterable[str]) -> ImportResult:
    """Store every readable card of ``data`` (bytes, or (label, bytes) per file) through the
    card path (Store.apply_cards), in one transaction; return what it did."""
    files: Sequence[tuple[str, bytes]] = ([("", data)] if isinstance(data, bytes)
                                          else list(data))
    tier_map = tiers if isinstance(tiers, TierMap) else TierMap(frozenset(tiers))
    cards: list[Card] = []
    skipped: list[Skip] = []
    uids: set[str] = set()
    for label, content in files:
        found, bad = parse_cards(content, label)
        for card in found:
            if card.uid is not None and card.uid in uids:
                skipped.append(Skip(card.source_id, f"the card {card.name or card.uid!r} in "
                                    f"{label or 'the input'} was skipped: its UID {card.uid} "
                                    "is the one of a card imported just before"))
                continue
            if card.uid is not None:
                uids.add(card.uid)
            cards.append(card)
        skipped.extend(bad)
    with_email = [card for card in cards if card.addresses]
    with store.transaction():
        _, tracked = store.apply_cards(
            SOURCE, [(card, tier_map.tier_for(card.categories)) for card in with_email])
    return ImportResult(people=len(with_email),
                        addresses=sum(len(card.addresses) for card in with_email),
                        tracked=tracked, without_email=len(cards) - len(with_email),
                        skipped=tuple(skipped), cards_found=len(cards) + len(skipped))
