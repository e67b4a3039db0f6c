"""A saved JSON cursor that cannot be used means a full resync (CursorExpired), never a crash."""

from __future__ import annotations

import pytest

from connectors.base import load_json_cursor
from syncd.errors import CursorExpired

WHAT = "the saved Test position"


def test_no_cursor_yet_is_an_empty_state():
    assert load_json_cursor(None, 1, WHAT) == {}


def test_a_cursor_of_this_version_is_read_back():
    assert load_json_cursor('{"v": 1, "history": "42"}', 1, WHAT, ("history",)) == {
        "v": 1, "history": "42"}


@pytest.mark.parametrize("saved, why", [
    ("{not json", "unreadable"),
    ('["v", 1]', "from another version"),
    ('{"v": 2, "history": "42"}', "from another version"),
    ('{"v": 1}', "from another version"),
])
def test_an_unusable_cursor_asks_for_a_full_resync(saved, why):
    with pytest.raises(CursorExpired, match=f"^{WHAT} is {why}$"):
        load_json_cursor(saved, 1, WHAT, ("history",))
