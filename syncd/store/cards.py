"""Address-book cards: who owns which addresses, tiers from categories, birthdays.

A card (syncd.model.Card, from a vCard file, CardDAV or Google Contacts) is stored under
(source, card id): applying the same card again changes nothing. Its addresses become one
person named after the card, with two exceptions that keep the user's word: addresses the user
kept apart with ``syncd split`` stay apart (the card goes with its first address), and a person
``[[people]]`` lists keeps the name the config gives. When the tier policy
(syncd.cards.TierMap, decided by the caller) gives a tier, the person is tracked at it, unless
the user's own choices say otherwise (``[[people]]``, ``syncd track``, or ``syncd untrack`` of
someone not tracked now). A card removed upstream, or one whose categories no longer map,
untracks the person only when that card was why they were tracked; their history is never
touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from syncd.model import Birthday, Card
from syncd.store.tracking import TrackingMixin

#: people.tracked_by of a person tracked because an address-book card maps to a tier.
CARD_TRACKING = "vcard"


class CardsMixin(TrackingMixin):
    """Applying pages of cards and reading birthdays back."""

    def apply_cards(self, source: str, cards: Sequence[tuple[Card, str | None]],
                    removals: Sequence[str] = ()) -> tuple[int, int]:
        """Store ``cards`` (each with the tier the policy gave it, or None) and forget
        ``removals`` (card ids, or a prefix ending in ``|`` for a whole address book).

        Runs inside the caller's transaction (Engine._commit's batch or :meth:`transaction`).
        Return (cards stored, people newly tracked). A card without an e-mail address names
        nobody syncd can see: it is dropped like a removal.
        """
        db = self._db
        for removal in removals:
            if removal.endswith("|"):
                ids = [row[0] for row in db.execute(
                    "SELECT card_id FROM cards WHERE source = ? AND substr(card_id, 1, ?) = ?",
                    (source, len(removal), removal))]
            else:
                ids = [removal]
            for card_id in ids:
                self._forget_card(source, card_id)
        stored = tracked = 0
        # Most address books meet no `syncd split`: then no card needs the pairwise check.
        splits = db.execute("SELECT 1 FROM kept_apart LIMIT 1").fetchone() is not None
        for card, tier in cards:
            emails = list(dict.fromkeys(address.email for address in card.addresses
                                        if address.email))
            if not emails:
                self._forget_card(source, card.source_id)
                continue
            before = db.execute("SELECT person_id, tracks FROM cards WHERE source = ? AND "
                                "card_id = ?", (source, card.source_id)).fetchone()
            name = card.name or next((a.name for a in card.addresses if a.name), "") or emails[0]
            person_id = self._person_of_card(name, emails, splits)
            tracks = tier is not None and self._track_by_card(person_id, tier)
            if tracks and not (before is not None and before[1] and before[0] == person_id):
                tracked += 1
            birthday = card.birthday
            db.execute("INSERT OR REPLACE INTO cards VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (source, card.source_id, person_id, card.uid, card.name, tier,
                        int(tracks), birthday.month if birthday else None,
                        birthday.day if birthday else None,
                        birthday.year if birthday else None))
            if before is not None and before[1] and not (tracks and before[0] == person_id):
                self._untrack_unless_carded(int(before[0]))
            stored += 1
        return stored, tracked

    def _person_of_card(self, name: str, emails: Sequence[str], splits: bool) -> int:
        """Return the person a card with ``emails`` (canonical, in the card's order) names,
        making its addresses one person called ``name`` (no transaction of its own).

        The card's first address decides whose card it is. Each further address joins that
        person, with everyone already holding it (merged like ``syncd merge`` does, so their
        tracking is settled, not lost), unless ``syncd split`` kept that address or one of
        its person's from one already gathered: then the card leaves it where it is, and the
        split stands. The config file names the people ``[[people]]`` lists: a card's name is
        given only to the others.
        """
        self._people_by_address.clear()
        gathered: list[str] = []   # every address of the person the card is making
        owners: list[int] = []
        accepted: list[str] = []
        for email in emails:
            owner = self.owner_of(email)
            if owner is not None and owner in owners:
                accepted.append(email)
                continue
            if splits:
                brings = self.addresses_of(owner) if owner is not None else [email]
                if self._any_kept_apart(brings, gathered):
                    continue
                gathered.extend(brings)
            accepted.append(email)
            if owner is not None:
                owners.append(owner)
        if not owners:
            person_id = int(self._db.execute("INSERT INTO people(name) VALUES (?)",
                                             (name,)).lastrowid or 0)
        else:
            # People merged into this one keep their cards: merge_people moves them.
            person_id = self._merge_in_transaction(owners) if len(owners) > 1 else owners[0]
        self._db.executemany("INSERT OR IGNORE INTO addresses(address, person_id) VALUES (?, ?)",
                             [(email, person_id) for email in accepted])
        self._db.execute("UPDATE people SET name = ? WHERE id = ? AND tracked_by IS NOT 'config'",
                         (name, person_id))
        return person_id

    def _track_by_card(self, person_id: int, tier: str) -> bool:
        """Track ``person_id`` at ``tier`` because of a card; return whether the card is why
        they are tracked now. ``[[people]]`` and ``syncd track`` win; someone the user untracked
        (never_auto) stays untracked; auto_track's choice gives way to the address book."""
        self._db.execute(
            "UPDATE people SET tracked = 1, tracked_by = ?, tier = ?, every_days = NULL, "
            "track_reason = NULL WHERE id = ? AND (tracked_by IS NULL OR tracked_by IN (?, "
            "'auto')) AND NOT (tracked = 0 AND never_auto = 1)",
            (CARD_TRACKING, tier, person_id, CARD_TRACKING))
        row = self._db.execute("SELECT tracked_by FROM people WHERE id = ?",
                               (person_id,)).fetchone()
        return row is not None and row[0] == CARD_TRACKING

    def _forget_card(self, source: str, card_id: str) -> None:
        row = self._db.execute("DELETE FROM cards WHERE source = ? AND card_id = ? "
                               "RETURNING person_id, tracks", (source, card_id)).fetchone()
        if row is not None and row[1]:
            self._untrack_unless_carded(int(row[0]))

    def _untrack_unless_carded(self, person_id: int) -> None:
        """Untrack a person tracked by cards once no card of theirs tracks them any more
        (their tier goes with it; history, addresses and name stay)."""
        if self._db.execute("SELECT 1 FROM cards WHERE person_id = ? AND tracks = 1 LIMIT 1",
                            (person_id,)).fetchone() is not None:
            return
        self._db.execute("UPDATE people SET tracked = 0, tracked_by = NULL, tier = NULL "
                         "WHERE id = ? AND tracked_by = ?", (person_id, CARD_TRACKING))

    def birthdays(self, person_ids: Iterable[int] | None = None) -> dict[int, Birthday]:
        """Return each person's birthday from their cards (tracked people when ``person_ids``
        is None). A card with a year wins over one without."""
        result: dict[int, Birthday] = {}
        rows = self._db.execute(
            "SELECT c.person_id, c.birthday_month, c.birthday_day, c.birthday_year FROM cards c "
            "JOIN people p ON p.id = c.person_id WHERE c.birthday_month IS NOT NULL "
            "AND (? OR p.tracked = 1) ORDER BY c.birthday_year IS NULL",
            (person_ids is not None,)).fetchall()
        wanted = None if person_ids is None else set(person_ids)
        for person_id, month, day, year in rows:
            if (wanted is None or person_id in wanted) and person_id not in result:
                result[person_id] = Birthday(month, day, year)
        return result

    def card_count(self, source: str | None = None) -> int:
        """Return how many cards are stored (of ``source`` when given)."""
        if source is None:
            return int(self._db.execute("SELECT count(*) FROM cards").fetchone()[0])
        return int(self._db.execute("SELECT count(*) FROM cards WHERE source = ?",
                                    (source,)).fetchone()[0])

