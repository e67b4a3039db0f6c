"""Which tier an address-book card puts its person at: pure policy, no store.

A card's categories (vCard CATEGORIES, RFC 6350 §6.7.1; Google contact-group names and
"starred") map to tiers through ``[tiers.map]``; a category spelled like a tier name maps to
that tier as well. Matching ignores case. The first category that maps wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class TierMap:
    """``[tiers]`` names plus ``[tiers.map]`` (category -> tier), matched case-insensitively."""

    tiers: frozenset[str] = frozenset()
    mapping: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def tier_for(self, categories: Iterable[str]) -> str | None:
        """Return the tier the first mapped category names, or None when none maps."""
        by_tier = {tier.lower(): tier for tier in self.tiers}
        by_category = {category.lower(): tier for category, tier in self.mapping.items()}
        for category in categories:
            key = category.strip().lower()
            if key in by_category:
                return by_category[key]
            if key in by_tier:
                return by_tier[key]
        return None
