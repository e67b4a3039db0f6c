"""Rules for the fast paths of the mail parser: they give exactly what the general path gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_tz

import pytest

from connectors.mail._mail import _COMMON_DATE, parse_addresses, parse_date

RECEIVED = datetime(2030, 1, 1, tzinfo=UTC)


def general(value: str) -> datetime | None:
    """parse_date's answer as parsedate_tz alone gives it (the path before the fast one)."""
    parts = parsedate_tz(value)
    if parts is None:
        return None
    try:
        moment = datetime(parts[0], parts[1], parts[2], parts[3], parts[4], min(parts[5], 59),
                          tzinfo=UTC) - timedelta(seconds=parts[9] or 0)
    except (ValueError, OverflowError):
        return None
    if moment < datetime(1990, 1, 1, tzinfo=UTC) or moment > RECEIVED + timedelta(days=2):
        return None
    return moment


@pytest.mark.parametrize("value", [
    "Mon, 1 Jan 2024 10:00:00 +0100",
    "1 Jan 2024 10:00 -0000",
    "Wed, 12 Mar 2025 23:59:60 -0830 (PST)",
    "Thu, 05 DEC 1999 00:00:00 +1400",
    "Tue, 31 Feb 2024 10:00:00 +0000",
    "Sat, 9 Sep 2023 25:00:00 +0000",
    "Sun, 3 Mar 1989 10:00:00 +0100",
    "Mon, 3 Mar 2031 10:00:00 +0100",
])
def test_the_common_date_shape_is_read_as_parsedate_tz_reads_it(value):
    assert _COMMON_DATE.fullmatch(value)
    assert parse_date(value, received=RECEIVED) == general(value)


def test_other_date_shapes_still_take_the_general_path():
    assert parse_date("Fri, 1 Mar 2024 10:00:00 GMT", received=RECEIVED) == datetime(
        2024, 3, 1, 10, tzinfo=UTC)
    assert parse_date("Fri, 1 Foo 2024 10:00:00 +0000", received=RECEIVED) is None


def test_remembered_address_values_are_the_same_answer_and_long_values_are_not_kept():
    assert parse_addresses("Bob <BOB@Example.org>") is parse_addresses("Bob <BOB@Example.org>")
    many = ", ".join(f"person{index}@example.org" for index in range(40))
    assert len(parse_addresses(many)) == 40
    assert parse_addresses(many) is not parse_addresses(many)
