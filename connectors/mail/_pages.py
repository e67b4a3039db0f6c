"""Pages of parsed mail: what every mail connector hands the engine.

Apart from the header parser (:mod:`connectors.mail._mail`) so that a pass with nothing new to
read (an IMAP pass whose folders all stand where the cursor left them) never loads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from syncd.model import Message, Page, Record, Role, Skip


@dataclass
class PageBuilder:
    """Collects records and skips into pages of at most ``size`` entries.

    ``my_addresses`` grows over a whole pass (From of every message in a Sent-role folder) and
    every page carries all of it seen so far, so a page read after the Sent folder still says
    which addresses are mine.
    """

    size: int = 500
    records: list[Record] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    my_addresses: set[str] = field(default_factory=set)
    record_count: int = 0
    skip_count: int = 0

    def add(self, item: Message | Skip) -> None:
        """Add a parsed message (noting a Sent-role sender as mine) or a skip."""
        if isinstance(item, Skip):
            self.skipped.append(item)
            self.skip_count += 1
            return
        if item.folder_role is Role.SENT and item.sender is not None:
            self.my_addresses.add(item.sender.email)
        self.records.append(item)
        self.record_count += 1

    @property
    def full(self) -> bool:
        """True when the collected entries fill a page."""
        return len(self.records) + len(self.skipped) >= self.size

    def page(self, cursor: str | None) -> Page:
        """Return a page of everything collected so far with ``cursor``, and start afresh."""
        page = Page(
            records=tuple(self.records),
            skipped=tuple(self.skipped),
            cursor=cursor,
            my_addresses=frozenset(self.my_addresses),
        )
        self.records = []
        self.skipped = []
        return page
