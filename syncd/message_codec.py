"""A :class:`~syncd.model.Message` as compact JSON text, and back: what the store keeps of a
message whose decision an address of mine learned later could change (see
``Engine.revisit``).

Only what :func:`syncd.rules.classify_message` reads is kept: identities, times, addresses with
their display names, the folder role and the classification headers. Never a body, never a
subject. Pure: no I/O.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from syncd.model import Address, Message, Role


def encode_message(message: Message) -> str:
    """Return ``message`` as one line of JSON that :func:`decode_message` turns back into it."""
    data: dict[str, Any] = {"id": message.source_id, "role": message.folder_role.value}
    if message.message_id:
        data["mid"] = message.message_id
    if message.date is not None:
        data["date"] = message.date.timestamp()
    if message.received is not None:
        data["recv"] = message.received.timestamp()
    if message.sender is not None:
        data["from"] = _pair(message.sender)
    for key, addresses in (("to", message.to), ("cc", message.cc), ("bcc", message.bcc)):
        if addresses:
            data[key] = [_pair(address) for address in addresses]
    if message.headers:
        data["h"] = dict(message.headers)
    if message.fingerprint:
        data["fp"] = message.fingerprint
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def decode_message(text: str) -> Message:
    """Return the message :func:`encode_message` wrote as ``text``; raise ValueError (or
    KeyError/TypeError) when ``text`` is not such JSON."""
    data = json.loads(text)
    return Message(
        source_id=str(data["id"]),
        message_id=data.get("mid"),
        date=_time(data.get("date")),
        received=_time(data.get("recv")),
        sender=Address(*data["from"]) if "from" in data else None,
        to=tuple(Address(*pair) for pair in data.get("to", ())),
        cc=tuple(Address(*pair) for pair in data.get("cc", ())),
        bcc=tuple(Address(*pair) for pair in data.get("bcc", ())),
        folder_role=Role(data["role"]),
        headers=dict(data.get("h", {})),
        fingerprint=str(data.get("fp", "")),
    )


def _pair(address: Address) -> list[str]:
    return [address.email, address.name] if address.name else [address.email]


def _time(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)
