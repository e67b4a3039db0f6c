"""Contact per calendar month: the numbers behind the contact strip and the report's heat map.

Pure: months are named ``YYYY-MM`` in the user's time zone and computed from an injected
``now``. The store fills :class:`MonthActivity` from the contacts index in one query
(:meth:`syncd.store.Store.monthly_activity`); everything here only arranges and grades it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

#: How many months the strip and the heat map show (the current one included).
MONTHS_SHOWN = 24
#: Contact days in a month at which a cell reaches shade 1, 2, 3 and 4. Fixed, not scaled per
#: person, so two rows of the heat map compare at a glance: one day, a few, about weekly,
#: about every other day.
SHADE_THRESHOLDS = (1, 2, 4, 8)


@dataclass(frozen=True, slots=True)
class MonthActivity:
    """Counted contact with one person in one calendar month.

    ``contact_days`` are distinct local days with any counted contact; the other fields count
    counted contacts by direction (``manual`` ones are logged with ``syncd done``).
    """

    month: str
    contact_days: int = 0
    outgoing: int = 0
    incoming: int = 0
    meetings: int = 0
    manual: int = 0

    @property
    def shade(self) -> int:
        """Return 0 (no contact) to 4 (8 or more contact days), see :data:`SHADE_THRESHOLDS`."""
        return sum(1 for threshold in SHADE_THRESHOLDS if self.contact_days >= threshold)

    def as_json(self) -> dict[str, int | str]:
        """Return the object ``syncd show --json`` lists under ``monthly``."""
        return {"month": self.month, "contact_days": self.contact_days,
                "outgoing": self.outgoing, "incoming": self.incoming,
                "meetings": self.meetings, "manual": self.manual}


@dataclass(frozen=True, slots=True)
class MonthWindow:
    """The months shown, oldest first, and where each starts and ends."""

    months: tuple[str, ...]
    #: Epoch seconds of local midnight on the first of each month, and of the month after the
    #: last: month ``i`` is ``bounds[i] <= t < bounds[i + 1]`` (exact across DST changes).
    bounds: tuple[int, ...]
    #: The zone's offset from UTC at ``now``, in seconds: contact times are shifted by it to
    #: tell local days apart (a day of a contact within an hour of midnight across a DST change
    #: may be its neighbour; days only matter for counting distinct ones).
    utc_offset: int

    @property
    def since(self) -> datetime:
        """The instant the oldest month starts."""
        return datetime.fromtimestamp(self.bounds[0], UTC)


def month_window(now: datetime, timezone: tzinfo, count: int = MONTHS_SHOWN) -> MonthWindow:
    """Return the ``count`` calendar months ending with the local month of ``now``."""
    local = now.astimezone(timezone)
    last = local.year * 12 + local.month - 1  # months since the year 0, January = 0
    first = last - count + 1

    def starts(index: int) -> int:
        year, month = divmod(index, 12)
        return int(datetime(year, month + 1, 1, tzinfo=timezone).timestamp())

    offset = local.utcoffset() or timedelta()
    return MonthWindow(tuple(f"{index // 12:04d}-{index % 12 + 1:02d}"
                             for index in range(first, last + 1)),
                       tuple(starts(index) for index in range(first, last + 2)),
                       int(offset.total_seconds()))


def fill_months(window: MonthWindow,
                found: Mapping[str, MonthActivity] | None) -> tuple[MonthActivity, ...]:
    """Return one :class:`MonthActivity` per month of ``window``, empty where none was found."""
    found = found or {}
    return tuple(found.get(month) or MonthActivity(month) for month in window.months)


def month_initial(month: str) -> str:
    """Return the month's initial, ``J`` for ``2026-01``."""
    return "JFMAMJJASOND"[int(month[5:]) - 1]


def month_label(month: str) -> str:
    """Return ``Jan 2026`` for ``2026-01``."""
    names = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return f"{names[int(month[5:]) - 1]} {month[:4]}"


def short_span(duration: timedelta) -> str:
    """Return a rounded span the way people say it: ``5d``, ``3w``, ``4mo``, ``2y``.

    Days up to two weeks, weeks up to about two and a half months, months up to two years.
    """
    days = duration.total_seconds() / 86400
    if days < 14:
        return f"{max(0, round(days))}d"
    if days < 75:
        return f"{round(days / 7)}w"
    if days < 730:
        return f"{round(days / 30.4375)}mo"
    return f"{round(days / 365.25)}y"


def months_summary(months: Sequence[MonthActivity]) -> str:
    """Return "in touch in 14 of 24 months, 41 contact days" for a strip's caption."""
    active = sum(1 for month in months if month.contact_days)
    days = sum(month.contact_days for month in months)
    return (f"in touch in {active} of {len(months)} months, "
            f"{days} contact day{'s' if days != 1 else ''}")
