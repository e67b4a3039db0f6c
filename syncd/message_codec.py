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

from syncd.model import Address, Message, Role

#: One encoder, made once: compact separators, UTF-8 kept as is; the values are fresh lists of
#: plain values, which cannot be circular, so the check for that is skipped.
_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"),
                          check_circular=False).encode


def encode_message(message: Message) -> str:
    """Return ``message`` as one line of JSON that :func:`decode_message` turns back into it.

    A positional list rather than an object: a third faster to write and smaller to keep.
    """
    sender, date, received = message.sender, message.date, message.received
    headers = message.headers
    return _DUMPS([
        message.source_id, message.folder_role.value, message.message_id,
        date.timestamp() if date is not None else None,
        received.timestamp() if received is not None else None,
        [sender.email, sender.name] if sender is not None else None,
        [[address.email, address.name] for address in message.to] if message.to else [],
        [[address.email, address.name] for address in message.cc] if message.cc else [],
        [[address.email, address.name] for address in message.bcc] if message.bcc else [],
        (headers if type(headers) is dict else dict(headers)) if headers else None,
        message.fingerprint])


def decode_message(text: str) -> Message:
    """Return the message :func:`encode_message` wrote as ``text``; raise ValueError (or
    TypeError) when ``text`` is not such JSON."""
    (source_id, role, message_id, date, received, sender, to, cc, bcc, headers,
     fingerprint) = json.loads(text)
    return Message(
        source_id=str(source_id),
        message_id=message_id,
        date=_time(date),
        received=_time(received),
        sender=Address(*sender) if sender is not None else None,
        to=tuple(Address(*pair) for pair in to),
        cc=tuple(Address(*pair) for pair in cc),
        bcc=tuple(Address(*pair) for pair in bcc),
        folder_role=Role(role),
        headers=dict(headers or {}),
        fingerprint=str(fingerprint),
    )


def _time(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)
