"""vCard (RFC 6350 4.0, RFC 2426 3.0) to :class:`~syncd.model.Card`, with ``vobject``.

The one vCard reader of the address-book sources: a CardDAV resource holds one vCard, a file
may hold many. What syncd keeps: FN (else N as "Given Family"), every EMAIL (grouped 4.0
properties like ``item1.EMAIL`` included), CATEGORIES, BDAY and UID. A vCard that cannot be
read raises :class:`VcardUnreadable` with a one-line reason, so the caller skips it and reads
the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import vobject

from syncd.addresses import normalize_address
from syncd.model import Address, Birthday, Card

# RFC 6350 §4.3.1 date forms (and 3.0's ISO 8601 extended form): YYYYMMDD, YYYY-MM-DD,
# --MMDD, --MM-DD, each optionally followed by a time.
_BDAY = re.compile(r"^(?:(\d{4})|--)-?(\d{2})-?(\d{2})(?:T.*)?$")


class VcardUnreadable(ValueError):
    """A vCard that cannot be read; ``str()`` is the reason shown by ``syncd status``."""


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _name(component: Any) -> str:
    for line in component.contents.get("fn", ()):
        if _text(line.value):
            return _text(line.value)
    for line in component.contents.get("n", ()):
        value = line.value
        parts = [_text(getattr(value, "given", "")), _text(getattr(value, "family", ""))]
        joined = " ".join(" ".join(p) if isinstance(p, list) else p for p in parts if p)
        if joined:
            return joined
    return ""


def birthday(value: str) -> Birthday | None:
    """Return the Birthday of a BDAY value, None for a text or unreadable one."""
    match = _BDAY.match(value.strip())
    if match is None:
        return None
    year, month, day = match.groups()
    if not (1 <= int(month) <= 12 and 1 <= int(day) <= 31):
        return None
    return Birthday(int(month), int(day), int(year) if year else None)


def card(component: Any, source_id: str) -> Card:
    """Turn one parsed vCard component into a Card stable under ``source_id``."""
    if component.name != "VCARD":
        raise VcardUnreadable(f"it holds a {component.name}, not a VCARD")
    name = _name(component)
    addresses: list[Address] = []
    for line in component.contents.get("email", ()):
        email = normalize_address(_text(line.value))
        if email and all(address.email != email for address in addresses):
            addresses.append(Address(email, name))
    categories: list[str] = []
    for line in component.contents.get("categories", ()):
        values = line.value if isinstance(line.value, list) else [line.value]
        for value in values:
            if _text(value) and _text(value) not in categories:
                categories.append(_text(value))
    born = None
    for line in component.contents.get("bday", ()):
        born = birthday(_text(line.value))
        if born is not None:
            break
    uid = next((_text(line.value) for line in component.contents.get("uid", ())
                if _text(line.value)), None)
    return Card(source_id=source_id, uid=uid,
                name=name or (addresses[0].email if addresses else ""),
                addresses=tuple(addresses), categories=tuple(categories), birthday=born)


def parse_one(data: str, source_id: str) -> Card:
    """Return the Card of ``data``, which must hold exactly one vCard (a CardDAV resource)."""
    cards = list(parse_many(data, source_id))
    if len(cards) != 1:
        raise VcardUnreadable(f"it holds {len(cards)} vCards, not one")
    result = cards[0]
    if isinstance(result, VcardUnreadable):
        raise result
    return result


def parse_many(data: str, source_id: str) -> Iterator[Card | VcardUnreadable]:
    """Yield a Card (or the reason it is unreadable) per vCard in ``data``.

    The n-th card gets ``source_id`` when it is the only one, else ``source_id#n`` (n from 1).
    A parse error ends the reading of ``data`` (vobject cannot resynchronise after it).
    """
    found: list[Card | VcardUnreadable] = []
    try:
        for component in vobject.readComponents(data, ignoreUnreadable=True):
            found.append(component)
    except Exception as error:  # vobject raises ParseError and assorted ValueErrors
        found.append(VcardUnreadable(f"not a readable vCard ({_reason(error)})"))
    for index, item in enumerate(found, 1):
        own = source_id if len(found) == 1 else f"{source_id}#{index}"
        if isinstance(item, VcardUnreadable):
            yield item
            continue
        try:
            yield card(item, own)
        except VcardUnreadable as reason:
            yield reason
        except Exception as error:  # a value vobject parsed but cannot turn into text
            yield VcardUnreadable(f"not a readable vCard ({_reason(error)})")


def _reason(error: Exception) -> str:
    text = " ".join(str(error).split())
    return text[:120] if text else type(error).__name__
