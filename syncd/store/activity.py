"""Contact per month (the contact strip of ``syncd show``, the report's heat map)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from syncd.store.schema import StoreBase

if TYPE_CHECKING:  # imported where used: only `report`, `show` and `people --json` ask
    from syncd.activity import MonthActivity, MonthWindow


class ActivityMixin(StoreBase):
    """Counted contacts summed per person and calendar month, from the contacts index alone."""

    def monthly_activity(self, person_ids: Iterable[int], window: MonthWindow
                         ) -> dict[int, dict[str, MonthActivity]]:
        """Return, per person id with counted contact in ``window``, their activity per month.

        ONE statement for any number of people and months: ids and month bounds go in as JSON
        arrays (``json_each``), and each (person, month) is one range of the covering index
        ``contacts_person(person_id, at, counts, direction)``, so no contact row is read.
        Days are told apart in local time (shifted by ``window.utc_offset``). Months without
        contact are absent; see :func:`syncd.activity.fill_months`.
        """
        from syncd.activity import MonthActivity

        ids = json.dumps(sorted(set(person_ids)))
        bounds = json.dumps([[start, end] for start, end in
                             itertools.pairwise(window.bounds)])
        result: dict[int, dict[str, MonthActivity]] = {}
        # The four directions are counted by ONE sum of per-row weights, one 16-bit lane each
        # (exact up to 65,535 contacts of one kind with one person in one month): a third
        # faster than four sums, as SQLite calls the aggregate once per row instead of four
        # times (bench/report_bench.py).
        for person_id, index, days, lanes in self._db.execute(
                "SELECT wanted.value, month.key, count(DISTINCT (c.at + ?) / 86400), "
                "sum(CASE c.direction WHEN 'outgoing' THEN 1 WHEN 'incoming' THEN 65536 "
                "WHEN 'meeting' THEN 4294967296 WHEN 'manual' THEN 281474976710656 "
                "ELSE 0 END) "
                "FROM json_each(?) AS wanted CROSS JOIN json_each(?) AS month "
                "CROSS JOIN contacts c ON c.person_id = wanted.value "
                "AND c.at >= json_extract(month.value, '$[0]') "
                "AND c.at < json_extract(month.value, '$[1]') "
                "WHERE c.counts = 1 GROUP BY wanted.value, month.key",
                (window.utc_offset, ids, bounds)):
            month = window.months[index]
            result.setdefault(person_id, {})[month] = MonthActivity(
                month, days, lanes & 0xFFFF, (lanes >> 16) & 0xFFFF, (lanes >> 32) & 0xFFFF,
                lanes >> 48)
        return result
