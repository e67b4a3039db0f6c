"""Unix seconds of a UTC wall-clock time, by integer arithmetic: the hot path of every Date
(RFC 5322 §3.3) and INTERNALDATE (RFC 3501 §2.3.3) the mail connectors read. Pure: no I/O.
"""

from __future__ import annotations

_DAYS_BEFORE_1900 = -25_567  # days from 1970-01-01 back to 1900-01-01


def _month_starts() -> dict[int, tuple[int, int]]:
    """For 1900-2099, keyed by ``year * 12 + month``: the seconds from the Unix epoch to the
    first of the month, and the month's length in days (proleptic Gregorian, as ``datetime``).

    Built by counting month lengths rather than with ``datetime``/``calendar``: this runs at
    import, and a pass with no new mail must not pay for it (2,400 entries in ~1 ms, not ~6).
    """
    starts: dict[int, tuple[int, int]] = {}
    days = _DAYS_BEFORE_1900
    for year in range(1900, 2100):
        february = 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
        for month, length in enumerate((31, february, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31),
                                       start=1):
            starts[year * 12 + month] = (days * 86_400, length)
            days += length
    return starts


_MONTH_STARTS = _month_starts()


def utc_stamp(year: int, month: int, day: int, hour: int, minute: int, second: int) -> int | None:
    """Return the Unix time of a UTC wall-clock time of 1900-2099, or None when ``datetime``
    would refuse it (day outside the month, hour over 23, minute or second over 59).

    Integer arithmetic instead of ``datetime(...) - timedelta(...)``: a quarter of the cost of
    reading a date. Raise :class:`KeyError` for another year or month: callers handle those
    with ``datetime`` itself.
    """
    start, length = _MONTH_STARTS[year * 12 + month]
    if 1 <= day <= length and hour < 24 and minute < 60 and second < 60:
        return start + (day - 1) * 86400 + hour * 3600 + minute * 60 + second
    return None
