"""E-mail address normalisation: one spelling per mailbox, so one person per address.

Rules (DESIGN §3): the domain is always case-folded (RFC 5321 §2.4: domains are case
insensitive); the local part is case-folded too by default, because in practice no provider
distinguishes ``Alice`` from ``alice``. Gmail ignores dots and ``+tag`` suffixes in the local
part, so on gmail.com and googlemail.com those are removed and the domain is unified; other
providers are left alone because ``first.last`` and ``firstlast`` may be different people there.
"""

from __future__ import annotations

import re

_GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
_WHITESPACE = re.compile(r"\s")


def normalize_address(raw: str, *, fold_local_part: bool = True) -> str | None:
    """Return the canonical form of ``raw`` or None when it is not a usable address.

    ``raw`` is a bare ``local@domain`` (display names already split off). Surrounding angle
    brackets, whitespace and a trailing dot on the domain are tolerated.
    """
    text = raw.strip().strip("<>").strip()
    if text.count("@") < 1:
        return None
    local, _, domain = text.rpartition("@")
    local = local.strip().strip('"')
    domain = domain.strip().rstrip(".").lower()
    if not local or not domain or "." not in domain or _WHITESPACE.search(text):
        return None
    if fold_local_part:
        local = local.lower()
    if domain in _GMAIL_DOMAINS:
        local = local.split("+", 1)[0].replace(".", "").lower()
        domain = "gmail.com"
    if not local:
        return None
    return f"{local}@{domain}"


def local_part(address: str) -> str:
    """Return the part of a normalised address before the last ``@``."""
    return address.rpartition("@")[0]


def domain_part(address: str) -> str:
    """Return the part of a normalised address after the last ``@``."""
    return address.rpartition("@")[2]
