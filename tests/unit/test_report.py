"""The report's data and page, without a browser: order, suggestions, escaping, the CSP."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta

from syncd.activity import month_window
from syncd.app import App
from syncd.config import parse_config
from syncd.model import Address, Decision, Direction, PersonRow
from syncd.report import Report, SourceHealth, Suggested, build_report
from syncd.report_html import render_html
from syncd.store import Store

NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script>&<b onmouseover=alert(1)>'


def app_with(people: dict[str, tuple[str, int | None]]) -> App:
    """An app where I last wrote each address N days ago (None: never), all tracked every 2w."""
    config = parse_config({
        "general": {"state_dir": "/nonexistent", "timezone": "UTC"},
        "people": [{"name": name, "addresses": [address], "every": "2w"}
                   for name, (address, _) in people.items()]})
    store = Store.in_memory()
    app = App(config, store, lambda: NOW)
    app.apply_config()
    for index, (address, days) in enumerate(people.values()):
        if days is not None:
            at = NOW - timedelta(days=days)
            who = Address(address)
            store.apply("mail", [(f"m{index}", Decision(
                True, "outgoing", "I wrote", Direction.OUTGOING, at, counted=(who,),
                participants=(who,), dedupe_key=f"k{index}"))], [], None)
    return app


def test_rows_go_most_overdue_first_and_people_never_contacted_last():
    app = app_with({"Never": ("never@example.com", None), "Fine": ("fine@example.com", 2),
                    "Quiet": ("quiet@example.com", 40), "Quieter": ("quieter@example.com", 90),
                    "Due": ("due@example.com", 12)})
    report = build_report(app, suggestions=[])
    assert [row.tie.person.name for row in report.rows] == [
        "Quieter", "Quiet", "Due", "Fine", "Never"]
    assert report.tracked == 5
    assert all(len(row.months) == 24 for row in report.rows)
    assert report.rows[0].months[-4].month == "2026-08"  # 90 days before November 15th
    assert report.rows[0].months[-4].contact_days == 1


def test_suggestions_join_the_heat_map_marked_with_their_why_but_never_tracked_people_twice():
    app = app_with({"Quiet": ("quiet@example.com", 40)})
    tracked = app.store.tracked_people()[0]
    stranger = PersonRow(999, "Sam Stranger", ("sam@example.net",), False, None, None, None,
                         None, None, None, None, None, None, 0, None)
    report = build_report(app, suggestions=[
        Suggested(stranger, "41 two-way contact days over 2 years"),
        Suggested(tracked, "already tracked")])
    assert [(row.tie.person.name, row.suggested is not None) for row in report.rows] == [
        ("Quiet", False), ("Sam Stranger", True)]
    html = render_html(report)
    assert 'title="41 two-way contact days over 2 years">suggested</span>' in html


def test_every_text_from_the_data_is_escaped_wherever_it_appears():
    app = app_with({HOSTILE: ("mallory@example.com", 40)})
    stranger = PersonRow(999, HOSTILE, ("x@example.net",), False, None, None, None, None,
                         None, None, None, None, None, 0, None)
    report = build_report(app, suggestions=[Suggested(stranger, HOSTILE)])
    report = Report(report.generated, report.timezone, report.months, report.rows,
                    (SourceHealth(HOSTILE, "imap", True, NOW, None, HOSTILE, False,
                                  {HOSTILE: 2}),), report.tracked)
    html = render_html(report)
    assert html.count("<script") == 1 and "<b onmouseover" not in html
    assert html.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;") >= 6


def test_the_content_security_policy_allows_exactly_the_inline_script():
    html = render_html(build_report(app_with({}), suggestions=[]))
    script = re.search(r"<script>(.*?)</script>", html, re.DOTALL).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)
    assert f"script-src 'sha256-{digest}'" in policy.replace("&#x27;", "'")
    assert "default-src 'none'" in policy.replace("&#x27;", "'")
    assert "Nobody is tracked yet" in html


def test_the_report_window_matches_the_strip_window():
    report = build_report(app_with({}), suggestions=[])
    assert report.months == month_window(NOW, UTC).months
