"""`syncd report` on the demo data, rendered by a real headless Chromium over DevTools.

The page must show every tracked person of the demo with their status, log no error, request
nothing but its own file, show a hostile display name as text, filter by the box, print to at
most two A4 pages, and read well in light and dark (the screenshots are kept in
``$SYNCD_SCREENSHOTS`` when set, to look at).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from servers.chromium import browser  # noqa: F401 - fixture

from syncd.demo import demo_config_text, write_demo_calendar
from syncd.demo_data import DEMO_PEOPLE, write_sample_data

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"
CHIP_OF_STATUS = {"quiet": "quiet", "due_soon": "due", "ok": "ok", "never": "never",
                  "snoozed": "never"}


def syncd(config: Path, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "syncd", "-c", str(config), *args],
                            capture_output=True, text=True, timeout=120,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, list[dict], list[dict]]:
    """The demo's data and calendar synced, plus a tracked person with a hostile name; the
    report written by `syncd report --out`, and `syncd people --json` and `syncd suggest
    --json` to compare with."""
    root = tmp_path_factory.mktemp("report")
    now = datetime.now(UTC)
    data = write_sample_data(root / "sample", now=now)
    calendar = write_demo_calendar(root / "sample" / "calendar.ics", data.me[0], now)
    config = root / "config.toml"
    config.write_text(demo_config_text(data, root / "state", calendar)
                      + f"\n[[people]]\nname = {json.dumps(HOSTILE)}\n"
                        'addresses = ["mallory@example.org"]\n', encoding="utf-8")
    syncd(config, "sync")
    out = root / "out" / "ties.html"
    assert syncd(config, "report", "--out", str(out)).strip() == f"wrote {out}"
    people = json.loads(syncd(config, "people", "--json"))
    suggested = json.loads(syncd(config, "suggest", "--json"))
    return out, people, suggested


@pytest.fixture
def page(browser, report):  # noqa: F811
    opened = browser.open_page(report[0].as_uri())
    yield opened
    opened.close()


ROWS = """[...document.querySelectorAll('#heat tbody tr')].map(row => ({
    name: row.querySelector('th').firstChild.textContent,
    chip: row.querySelector('.chip').className.replace('chip ', ''),
    cells: row.querySelectorAll('td.a, td.b, td.c, td.d, td.e').length,
    visible: !row.hidden}))"""


def test_the_page_shows_every_tracked_person_of_the_demo_with_their_status(page, report):
    _, people, suggested = report
    rows = page.evaluate(ROWS)
    shown = {row["name"]: row["chip"] for row in rows if row["chip"] != "sugg"}
    assert {person.name for person in DEMO_PEOPLE} <= set(shown)
    assert shown == {person["name"]: CHIP_OF_STATUS[person["status"]] for person in people}
    # The strongest untracked ties of `syncd suggest` join them, marked as suggestions.
    assert suggested
    assert {row["name"] for row in rows if row["chip"] == "sugg"} == {
        person["name"] for person in suggested[:10]}
    assert {row["cells"] for row in rows} == {24}
    assert "quiet" in shown.values() and "ok" in shown.values()
    glance = page.evaluate("document.querySelector('.glance').innerText")
    quiet = [person["name"] for person in people if person["status"] == "quiet"]
    assert quiet and all(name in glance for name in quiet)
    assert "Theo Rivera" in glance.split("You will see soon")[1]  # lunch in three days


def test_the_console_has_no_errors_and_nothing_was_thrown(page):
    assert page.events("Runtime.exceptionThrown") == []
    console = [event for event in page.events("Runtime.consoleAPICalled")
               if event["type"] in ("error", "warning", "assert")]
    assert console == []
    log = [event["entry"] for event in page.events("Log.entryAdded")
           if event["entry"]["level"] in ("error", "warning")]
    assert log == []


def test_the_file_makes_no_network_request_but_its_own(page, report):
    requests = [event["request"]["url"] for event in page.events("Network.requestWillBeSent")]
    assert requests == [report[0].as_uri()]


def test_a_hostile_display_name_is_shown_as_text_and_never_runs(page):
    names = page.evaluate("[...document.querySelectorAll('#heat tbody th')]"
                          ".map(th => th.firstChild.textContent)")
    assert HOSTILE in names
    assert page.evaluate("document.querySelectorAll('script').length") == 1
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.events("Page.javascriptDialogOpening") == []


def test_the_filter_box_keeps_only_the_matching_people(page, report):
    page.evaluate("(() => {const box = document.getElementById('filter'); box.value = 'jordan';"
                  "box.dispatchEvent(new Event('input'));})()")
    visible = [row["name"] for row in page.evaluate(ROWS) if row["visible"]]
    assert visible == ["Jordan Blake"]
    shown = page.evaluate("document.getElementById('shown').textContent")
    assert shown == f"1 of {len(report[1]) + min(10, len(report[2]))} shown"
    page.evaluate("(() => {const box = document.getElementById('filter'); box.value = 'quiet';"
                  "box.dispatchEvent(new Event('input'));})()")
    quiet = [row["chip"] for row in page.evaluate(ROWS) if row["visible"]]
    assert quiet and set(quiet) == {"quiet"}


def test_it_prints_to_at_most_two_pages(page):
    pdf = page.pdf()
    pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))
    assert 1 <= pages <= 2


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_light_and_dark_follow_the_system_and_keep_text_readable(browser, report,  # noqa: F811
                                                                 scheme, tmp_path):
    page = browser.open_page(report[0].as_uri(), color_scheme=scheme)
    try:
        colors = page.evaluate("(() => {const s = getComputedStyle(document.body);"
                               "return [s.backgroundColor, s.color];})()")
        background, text = (_luminance(color) for color in colors)
        assert (background > text) == (scheme == "light")
        assert (max(background, text) + 0.05) / (min(background, text) + 0.05) >= 7  # WCAG AAA
        folder = Path(os.environ.get("SYNCD_SCREENSHOTS") or tmp_path)
        folder.mkdir(parents=True, exist_ok=True)
        shot = page.screenshot(folder / f"report-{scheme}.png")
        assert shot.stat().st_size > 10_000
    finally:
        page.close()


def _luminance(css_color: str) -> float:
    """Relative luminance of an ``rgb(r, g, b)`` colour (WCAG 2.1, "relative luminance")."""
    channels = [int(value) / 255 for value in re.findall(r"\d+", css_color)[:3]]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_the_browser_fixture_really_sees_a_dialog(browser, tmp_path):  # noqa: F811
    """The check above could not fail if a dialog went unseen: a page that does alert() shows
    up in the events."""
    page_file = tmp_path / "alert.html"
    page_file.write_text("<!DOCTYPE html><title>t</title><script>alert('hi')</script>")
    page = browser.open_page(page_file.as_uri())
    try:
        assert [event["message"] for event in page.events("Page.javascriptDialogOpening")] == [
            "hi"]
    finally:
        page.close()


def five_hundred_people(now: datetime):
    """A report of 500 tracked people with long names and busy, varied histories (pure data)."""
    import random
    from datetime import timedelta

    from syncd.activity import MonthActivity, month_window
    from syncd.model import PersonRow
    from syncd.report import Report, ReportRow, SourceHealth
    from syncd.ties import evaluate

    rng = random.Random(500)
    window = month_window(now, UTC)
    rows = []
    for index in range(500):
        last = now - timedelta(days=rng.randrange(0, 200))
        person = PersonRow(index + 1, f"Person Number {index} Withaverylongfamilyname",
                           (f"person.number.{index}@a-rather-long-domain.example",), True, None,
                           rng.choice([14.0, 30.0, 90.0]), None, last, last, None, None, last,
                           now - timedelta(days=900), 300, 12.0)
        months = tuple(MonthActivity(month, rng.randrange(0, 25), rng.randrange(0, 30),
                                     rng.randrange(0, 30), rng.randrange(0, 3))
                       for month in window.months)
        rows.append(ReportRow(evaluate(person, {}, now), months))
    sources = tuple(SourceHealth(f"source{n}", "imap", True, now, now, None, False,
                                 {"no plausible date": 3}) for n in range(6))
    return Report(now, UTC, window.months, tuple(rows), sources, 500)


def test_five_hundred_people_stay_under_2_mb_print_on_two_pages_and_filter(browser,  # noqa: F811
                                                                          tmp_path):
    from syncd.report_html import render_html

    html = render_html(five_hundred_people(datetime.now(UTC)))
    assert len(html.encode()) <= 2_000_000
    page_file = tmp_path / "500.html"
    page_file.write_text(html, encoding="utf-8")
    page = browser.open_page(page_file.as_uri())
    try:
        assert page.evaluate("document.querySelectorAll('#heat tbody tr').length") == 500
        pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", page.pdf()))
        assert 1 <= pages <= 2
        page.evaluate("(() => {const box = document.getElementById('filter');"
                      "box.value = 'person.number.42@'; box.dispatchEvent(new Event('input'));})()")
        assert page.evaluate("document.getElementById('shown').textContent") == "1 of 500 shown"
        assert page.events("Runtime.exceptionThrown") == []
    finally:
        page.close()
