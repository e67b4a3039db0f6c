"""Who may be one person at several addresses (``syncd people --duplicates``): pure policy.

Suggestions only: nothing here merges anybody (``syncd merge`` does, when the user says so).
The caller leaves out my own addresses, ignored people and automated senders. Three reasons,
each cheap to index, so 50,000 people cost one pass:

1. **The same display name** at different addresses. Only names of two words or more
   ("Alice Smith", "Smith, Alice"): a lone first name is shared by too many people.
2. **The same local part at related domains**: one domain is a subdomain of the other
   (``mail.acme.com`` / ``acme.com``), or both are the same organisation under another
   suffix (``acme.com`` / ``acme.co.uk`` / ``acme.de``), or they are one provider's two names
   (``gmail.com`` / ``googlemail.com``). The domain's organisation is the label before its
   public suffix, with the common two-label suffixes (``co.uk``, ``com.au``...) known here;
   a full public-suffix list would be more exact, and this is a suggestion, not a merge.
3. **A name that matches the local part**: John Smith and ``j.smith``, ``jsmith``,
   ``john.smith``, ``smith.john``, ``smithj`` (separators and trailing digits aside), when the
   address's own person has no name or the same one.

Local parts shared by very many people (``info``, ``admin``) suggest nothing: a bucket bigger
than :data:`CROWD` is a role, not a person.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: A name, local part or name key shared by more people than this suggests nothing.
CROWD = 12

#: Second-level labels under which organisations register (acme.co.uk, acme.com.au).
_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "ac", "gov", "edu", "ne", "or", "go"})
#: One provider's several names for the same mailboxes.
_SAME_PROVIDER = (frozenset({"gmail.com", "googlemail.com"}),)
_SEPARATORS = re.compile(r"[._\-+]+")
_WORDS = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A person who may have another address: id, display name, canonical addresses, and
    the same addresses as written (shown in suggestions; canonical when unknown)."""

    person_id: int
    name: str
    addresses: tuple[str, ...]
    written: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A merge suggestion: the people (ids, ascending), their addresses as written, and why."""

    people: tuple[int, ...]
    addresses: tuple[str, ...]
    reason: str


def name_key(name: str) -> tuple[str, ...]:
    """Return a display name's words, case-folded, accents and order of "Last, First" undone:
    ``"Smith, Jöhn"`` -> ``("john", "smith")``."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(char for char in text if not unicodedata.combining(char)).casefold()
    if text.count(",") == 1:
        last, _, first = text.partition(",")
        text = f"{first} {last}"
    return tuple(_WORDS.findall(text))


def organisation(domain: str) -> str:
    """Return the label naming a domain's organisation: ``mail.acme.co.uk`` -> ``acme``."""
    labels = domain.split(".")
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2:
        return labels[-3]
    return labels[-2] if len(labels) >= 2 else domain


def related_domains(first: str, second: str) -> bool:
    """Return True when two different domains likely belong to one organisation or provider."""
    if first == second:
        return False
    if first.endswith("." + second) or second.endswith("." + first):
        return True
    if any(first in names and second in names for names in _SAME_PROVIDER):
        return True
    return organisation(first) == organisation(second)


def name_forms(words: Sequence[str]) -> set[str]:
    """Return the local parts a person of this name writes from (separators removed)."""
    if len(words) < 2:
        return set()
    first, last = words[0], words[-1]
    return {first + last, first[0] + last, last + first, last + first[0]}


def _local_form(local: str) -> str:
    """Return a local part without separators and trailing digits: ``j.smith2`` -> ``jsmith``."""
    return _SEPARATORS.sub("", local).rstrip("0123456789")


def duplicates(candidates: Iterable[Candidate]) -> list[Duplicate]:
    """Return merge suggestions, each pair or group once with its first reason, in a stable
    order (by reason, then ids)."""
    people = {candidate.person_id: candidate for candidate in candidates}
    found: dict[tuple[int, ...], tuple[int, str]] = {}  # people -> (rule number, reason)
    rule = 0

    def suggest(ids: Iterable[int], reason: str) -> None:
        group = tuple(sorted(set(ids)))
        if len(group) >= 2 and group not in found:
            found[group] = (rule, reason)

    by_name: dict[tuple[str, ...], list[int]] = {}
    for person in people.values():
        words = name_key(person.name)
        if len(words) >= 2:
            by_name.setdefault(words, []).append(person.person_id)
    for words, ids in by_name.items():
        if 2 <= len(ids) <= CROWD:
            suggest(ids, f"the same name, {' '.join(words).title()}, at different addresses")

    rule = 1
    by_local: dict[str, list[tuple[int, str]]] = {}
    for person in people.values():
        for address in person.addresses:
            local, _, domain = address.rpartition("@")
            by_local.setdefault(_SEPARATORS.sub("", local), []).append(
                (person.person_id, domain))
    for local, owners in by_local.items():
        if len(owners) > CROWD:
            continue
        for (one, one_domain), (other, other_domain) in itertools.combinations(owners, 2):
            if one != other and related_domains(one_domain, other_domain):
                suggest((one, other), f"the same local part, {local}, at related domains "
                                      f"{min(one_domain, other_domain)} and "
                                      f"{max(one_domain, other_domain)}")

    rule = 2
    by_form: dict[str, list[int]] = {}
    for person in people.values():
        for address in person.addresses:
            by_form.setdefault(_local_form(address.rpartition("@")[0]), []).append(
                person.person_id)
    for person in people.values():
        words = name_key(person.name)
        for form in sorted(name_forms(words)):
            holders = by_form.get(form, [])
            if len(holders) > CROWD:
                continue
            for other in holders:
                other_words = name_key(people[other].name)
                if other != person.person_id and (not other_words or other_words == words):
                    local = next(address.rpartition("@")[0]
                                 for address in people[other].addresses
                                 if _local_form(address.rpartition("@")[0]) == form)
                    suggest((person.person_id, other),
                            f"the name {person.name} matches the local part {local}")

    result = []
    for group, (_, reason) in sorted(found.items(), key=lambda item: (item[1][0], item[0])):
        shown: list[str] = []
        for person_id in group:
            person = people[person_id]
            shown.extend(person.written or person.addresses)
        result.append(Duplicate(group, tuple(shown), reason))
    return result
