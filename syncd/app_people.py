"""Finding and listing people for :class:`syncd.app.App`: who a query names, who is due, who
has a birthday ahead, everyone's tie, and whom to suggest (and ``auto_track``).

A mixin: :class:`PeopleMixin` reads the ``config``, ``store`` and ``clock`` of the App it is
mixed into and changes nothing the user chose (``auto_track`` only tracks, never untracks).
It never imports :mod:`syncd.app`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from syncd.cards import birthday_window, birthdays_within
from syncd.errors import AmbiguousPerson, PersonNotFound
from syncd.model import PersonRow
from syncd.rules import AddressPatterns, is_automated_address
from syncd.strength import RECONNECT, TRACK, Suggestion, suggested
from syncd.ties import DEFAULT_CADENCE, Tie, due_ties, evaluate

if TYPE_CHECKING:
    # The monthly pictures are imported where they are used (only `report`, `show` and
    # `people --json`): every command pays its module imports before it starts.
    from syncd.activity import MonthActivity
    from syncd.config import Config
    from syncd.store import Store

# Log lines keep the name they had before App was split (as the daemon's parts keep theirs).
log = logging.getLogger("syncd.app")

#: Candidates scored beyond the number asked for, before ranking (see PeopleMixin._strongest).
_RANKING_MARGIN = 20


def person_label(store: Store, person_id: int) -> str:
    """Return how messages name person ``person_id``: ``Name <first address>``, the name or
    the address alone when the other is missing, ``#ID`` when there is no such person."""
    row = store.person(person_id)
    if row is None:
        return f"#{person_id}"
    first = row.shown[0] if row.addresses else f"#{row.id}"
    return f"{row.name} <{first}>" if row.name and row.addresses else (row.name or first)


class PeopleMixin:
    """Finding, listing and suggesting people: the read side of an App."""

    config: Config
    store: Store
    clock: Callable[[], datetime]

    def find_person(self, query: str) -> PersonRow:
        """Return the person ``query`` names (address, name, or id as ``12`` or ``#12``).

        PERSON is, in this order: ``#ID`` (or a bare id), an address, a whole name, or the
        start of exactly one person's name or address (a first name, ``bob@``). Raise
        :class:`PersonNotFound` with the closest people, counted ones first, when nobody
        matches, and :class:`AmbiguousPerson` naming them when several people do.
        """
        from syncd.addresses import normalize_address

        text = query.strip()
        if text.startswith("#") and text[1:].isdigit():
            found = self.store.person(int(text[1:]))
            if found is None:
                raise PersonNotFound(query, [])
            return found
        candidates = self.store.find_people(normalize_address(text) or text) if text else []
        if not candidates and text:
            matches = self.store.find_people_by_prefix(text)
            counted = [person_id for person_id, is_counted in matches if is_counted]
            # One counted person (a tie) wins over junk-folder senders who share the prefix.
            candidates = counted if len(counted) == 1 else [person_id for person_id, _ in matches]
            if len(candidates) > 1:
                raise AmbiguousPerson(query, [person_label(self.store, person_id)
                                              for person_id in candidates[:5]],
                                      len(candidates))
        if candidates:
            person = self.store.person(candidates[0])
            assert person is not None
            return person
        raise PersonNotFound(query, self._suggestions(text))

    def _suggestions(self, text: str) -> list[str]:
        """Return up to three people close to ``text``: counted people (tracked, or with a
        counted contact) first; others only when no counted person is close."""
        import difflib

        lowered = text.lower()
        best: dict[int, tuple[bool, float]] = {}
        for person_id, value, _kind, counted in self.store.suggestion_pool():
            candidate = value.lower()
            score = difflib.SequenceMatcher(None, lowered, candidate).ratio()
            if lowered and lowered in candidate:
                score = max(score, 0.8)
            if score >= 0.5 and score > best.get(person_id, (False, 0.0))[1]:
                best[person_id] = (counted, score)
        ranked = sorted(best.items(), key=lambda item: (not item[1][0], -item[1][1]))
        if any(counted for _, (counted, _score) in ranked):
            ranked = [item for item in ranked if item[1][0]]
        return [person_label(self.store, person_id) for person_id, _ in ranked[:3]]

    def tie(self, person: PersonRow) -> Tie:
        """Return the tie with ``person`` now."""
        return evaluate(person, self.config.tiers, self.clock())

    def due(self, *, not_alerted_within: timedelta | None = None) -> list[Tie]:
        """Return tracked ties that are quiet, due soon or never contacted.

        With ``not_alerted_within``, people alerted that recently are left out already in SQL
        (the daemon's alert check holds them back anyway).
        """
        tiers = self.config.tiers
        default = tiers.get("default", DEFAULT_CADENCE)
        now = self.clock()
        candidates = self.store.due_candidates(
            {name: cadence.total_seconds() / 86400 for name, cadence in tiers.items()},
            default.total_seconds() / 86400, now, renotify_after=not_alerted_within)
        return due_ties(candidates, tiers, now)

    def birthdays_ahead(self, window: timedelta | None = None
                        ) -> list[tuple[Tie, date, int | None]]:
        """Return (tie, local date, age or None) of tracked people whose birthday (from their
        address-book cards) comes within ``window`` (default: :func:`birthday_window`),
        soonest first."""
        today = self.clock().astimezone(self.config.timezone).date()
        found = birthdays_within(self.store.birthdays(), today,
                                 window or birthday_window(self.config.notify.birthdays))
        if not found:
            return []
        ties = {tie.person.id: tie for tie in self.people()}
        return [(ties[person_id], on, age) for person_id, on, age in found if person_id in ties]

    def people(self, everyone: bool = False) -> list[Tie]:
        """Return tracked people (or everyone with a counted contact), by name."""
        rows = self.store.counted_people() if everyone else self.store.tracked_people()
        now = self.clock()
        ties = [evaluate(row, self.config.tiers, now) for row in rows]
        ties.sort(key=lambda tie: (not tie.person.tracked, tie.person.name.lower(),
                                   tie.person.addresses))
        return ties

    def monthly(self, person_ids: Sequence[int]) -> dict[int, tuple[MonthActivity, ...]]:
        """Return each person's counted contact per month, the last 24 local months, oldest
        first (one query for all of them; months without contact are empty, not missing)."""
        from syncd.activity import fill_months, month_window

        window = month_window(self.clock(), self.config.timezone)
        found = self.store.monthly_activity(person_ids, window)
        return {person_id: fill_months(window, found.get(person_id)) for person_id in person_ids}

    def suggest(self, limit: int = 10) -> list[Suggestion]:
        """Return up to ``limit`` suggestions per group ("track", "reconnect"), strongest first.

        Never suggested: tracked, ignored or untracked-by-me people, my own addresses, one-way
        incoming-only correspondents, automated addresses (noreply, notifications ...) and
        addresses an ignore pattern matches (syncd.strength has the scoring).
        """
        found = [*self._strongest(dormant=False, limit=limit),
                 *self._strongest(dormant=True, limit=limit)]
        found.sort(key=lambda item: (-item.strength.score, item.tie.person.id))
        return found

    def _strongest(self, *, dormant: bool, limit: int,
                   needs_rhythm: bool = False) -> list[Suggestion]:
        """Return the ``limit`` strongest suggestions of one group, paging past excluded ones.

        The store orders by the score stored at the last sync; the policy scores again at
        ``now`` (recency moves), so a margin of candidates is scored before ranking: asking
        for 5 or for 10 then gives the same first five.
        """
        now = self.clock()
        patterns = AddressPatterns([*self.config.rules.ignore, *self.store.ignore_patterns()])
        mine = self.store.my_addresses()
        result: list[Suggestion] = []
        offset = 0
        wanted = limit + _RANKING_MARGIN
        while len(result) < wanted:
            page = self.store.strongest_untracked(now, dormant=dormant, limit=limit + 20,
                                                  offset=offset, needs_rhythm=needs_rhythm)
            if not page:
                break
            offset += len(page)
            people = {row.id: row for row in self.store.people_with_ids(
                [person_id for person_id, _ in page])}
            for person_id, history in page:
                person = people.get(person_id)
                if person is None or any(address in mine or is_automated_address(address) or
                                         patterns.matches(address)
                                         for address in person.addresses):
                    continue
                scored = suggested(history, now)
                if scored is None or scored.group != (RECONNECT if dormant else TRACK):
                    continue  # the store's SQL mirrors the policy; the policy has the last word
                result.append(Suggestion(evaluate(person, self.config.tiers, now), scored))
                if len(result) == wanted:
                    break
        result.sort(key=lambda item: (-item.strength.score, item.tie.person.id))
        return result[:limit]

    def auto_track(self) -> int:
        """Track the strongest alive ties until ``[general] auto_track`` people are auto-tracked.

        Only ties with an inferred rhythm (their cadence is "inferred"), never someone the user
        untracked; each records why. Lowering the number untracks nobody: a tie that goes
        quiet is exactly what to be told about. Return how many were tracked now.
        """
        if not self.config.auto_track:
            return 0
        wanted = self.config.auto_track - self.store.auto_tracked_count()
        if wanted <= 0:
            return 0
        chosen = self._strongest(dormant=False, limit=wanted, needs_rhythm=True)
        self.store.track_automatically([
            (item.tie.person.id, f"auto_track: score {item.strength.score}, "
                                 f"{item.strength.why}") for item in chosen])
        if chosen:
            log.info("auto_track: tracking %d of the strongest ties", len(chosen))
        return len(chosen)
