"""The report as one self-contained HTML page. Pure: a :class:`syncd.report.Report` in, text out.

What makes it safe to open anywhere and keep offline:

- Everything is inline: the CSS, and one small script for the filter box. No font, image,
  stylesheet or script is loaded from anywhere, so the page makes no request at all; its
  Content-Security-Policy (``default-src 'none'``; the script allowed by its SHA-256 hash,
  CSP Level 3 §8.4 / MDN "script-src") would stop any that slipped in.
- Every piece of text from the data (names, addresses, errors, reasons) goes through
  :func:`html.escape` with ``quote=True``, and every attribute value is double-quoted, so a
  display name like ``<script>`` is shown, never parsed as markup (HTML Living Standard §13.1.2).
- Light and dark follow ``prefers-color-scheme`` (Media Queries Level 5); ``@media print``
  drops the filter and keeps the first :data:`PRINT_ROWS` rows of the heat map, so a print is
  one or two A4 pages whatever the number of people.
- 500 people are ~12,000 month cells: each is an empty ``<td>`` with a one-letter class and a
  ``title`` only when it has contact, which keeps the page well under 2 MB.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, tzinfo

from syncd import __version__
from syncd.activity import MonthActivity, month_label, short_span
from syncd.report import Report, ReportRow, SourceHealth
from syncd.ties import Status

#: Rows of the heat map kept in print (the screen shows them all, with a filter box).
PRINT_ROWS = 40
#: Entries per "at a glance" card (the heat map lists everyone).
CARD_ROWS = 8

_SCRIPT = (
    "(function(){var box=document.getElementById('filter'),"
    "shown=document.getElementById('shown'),"
    "rows=Array.prototype.slice.call(document.querySelectorAll('#heat tbody tr'));"
    "function apply(){var q=box.value.trim().toLowerCase(),n=0;"
    "rows.forEach(function(row){var hit=!q||row.getAttribute('data-f').indexOf(q)>=0;"
    "row.hidden=!hit;if(hit){n++;}});"
    "shown.textContent=n+' of '+rows.length+' shown';}"
    "box.addEventListener('input',apply);apply();})();"
)

_CSS = """
:root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;
--card:#f6f8fa;--h0:#ebedf0;--h1:#9be9a8;--h2:#40c463;--h3:#30a14e;--h4:#216e39;
--quiet:#cf222e;--quiet-bg:#ffebe9;--due:#9a6700;--due-bg:#fff8c5;--ok:#1a7f37;--ok-bg:#dafbe1;
--meet:#0969da;--meet-bg:#ddf4ff;--sugg:#8250df;--sugg-bg:#fbefff;--never:#59636e;
--never-bg:#eff2f5;--bar:#8c959f}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;
--line:#30363d;--card:#151b23;--h0:#212830;--h1:#0e4429;--h2:#006d32;--h3:#26a641;
--h4:#39d353;--quiet:#ff7b72;--quiet-bg:#4a1b1e;--due:#e3b341;--due-bg:#3d2e0b;--ok:#56d364;
--ok-bg:#12311d;--meet:#79c0ff;--meet-bg:#0f2d5c;--sugg:#d2a8ff;--sugg-bg:#321f52;
--never:#b1bac4;--never-bg:#262c36;--bar:#6e7681}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1240px;padding:20px 24px 32px;background:var(--bg);color:var(--fg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",Helvetica,Arial,sans-serif}
h1{font-size:22px;margin:0}h1 small{font-size:14px;font-weight:400;color:var(--muted);
margin-left:10px}
h2{font-size:15px;margin:0 0 8px}
.summary{margin:6px 0 18px}.summary .chip{margin-right:6px}.muted{color:var(--muted)}
.chip{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;font-weight:600;
white-space:nowrap}
.quiet{color:var(--quiet);background:var(--quiet-bg)}.due{color:var(--due);background:var(--due-bg)}
.ok{color:var(--ok);background:var(--ok-bg)}.meet{color:var(--meet);background:var(--meet-bg)}
.sugg{color:var(--sugg);background:var(--sugg-bg)}.never{color:var(--never);background:var(--never-bg)}
.glance{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:12px;margin-bottom:22px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.card h2 .chip{margin-left:6px}
.card ol{list-style:none;margin:0;padding:0}
.card li{display:flex;flex-wrap:wrap;justify-content:space-between;column-gap:10px;
padding:4px 0;border-top:1px solid var(--line)}.card li:first-child{border-top:0}
.card li b{max-width:100%;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.card .when{color:var(--muted);white-space:nowrap;margin-left:auto}
.card .more{color:var(--muted);font-size:12px}
.tools{display:flex;align-items:center;gap:12px;margin:0 0 8px}.tools h2{margin:0}
input[type=search]{font:inherit;padding:4px 10px;width:300px;border:1px solid var(--line);
border-radius:6px;background:var(--bg);color:var(--fg)}
table{border-collapse:collapse}
#heat{width:100%}
#heat th,#heat td{padding:3px 8px;text-align:left;white-space:nowrap;vertical-align:middle}
#heat thead th{font-size:11px;font-weight:600;color:var(--muted)}
#heat thead th.y{text-align:left;padding:0 1px;border-left:1px solid var(--line)}
#heat tbody tr{border-top:1px solid var(--line)}
#heat tbody tr:hover{background:var(--card)}
#heat tbody th{font-weight:600;max-width:230px;overflow:hidden;text-overflow:ellipsis}
#heat .addr{display:block;font-weight:400;font-size:11px;color:var(--muted);overflow:hidden;
text-overflow:ellipsis}
#heat .mi{padding:0 1px;text-align:center;width:17px}
#heat td.a,#heat td.b,#heat td.c,#heat td.d,#heat td.e{width:17px;min-width:17px;height:22px;
padding:0;border:2px solid transparent;border-width:4px 1px;background-clip:padding-box;
position:relative}
td.a{background:var(--h0)}td.b{background:var(--h1)}td.c{background:var(--h2)}
td.d{background:var(--h3)}td.e{background:var(--h4)}
td.m::after{content:"";position:absolute;left:50%;top:50%;width:5px;height:5px;margin:-2.5px;
border-radius:50%;background:var(--fg)}
.gap{display:inline-block;position:relative;width:90px;height:8px;border-radius:4px;
background:var(--h0);vertical-align:middle;margin-right:8px}
.gap i{position:absolute;left:0;top:0;height:8px;border-radius:4px;background:var(--bar)}
.gap i.over{background:var(--quiet)}
.gap b{position:absolute;top:-3px;width:2px;height:14px;background:var(--fg)}
.w0{width:0}.w1{width:10%}.w2{width:20%}.w3{width:30%}.w4{width:40%}.w5{width:50%}.w6{width:60%}
.w7{width:70%}.w8{width:80%}.w9{width:90%}.w10{width:100%}
.p0{left:0}.p1{left:10%}.p2{left:20%}.p3{left:30%}.p4{left:40%}.p5{left:50%}.p6{left:60%}
.p7{left:70%}.p8{left:80%}.p9{left:90%}.p10{left:calc(100% - 2px)}
.rh{font-size:12px;color:var(--muted)}
.legend{margin:8px 0 22px;font-size:12px;color:var(--muted);display:flex;gap:14px;flex-wrap:wrap;
align-items:center}
.legend .sw{display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:-2px;
margin-right:4px}
.sources td,.sources th{padding:4px 12px 4px 0;text-align:left;vertical-align:top}
.sources thead th{font-size:12px;color:var(--muted);border-bottom:1px solid var(--line)}
.sources .error{color:var(--quiet)}
.print-only{display:none}
footer{margin-top:26px;font-size:12px;color:var(--muted)}
@media screen and (max-width:900px){.glance{grid-template-columns:1fr}}
@media print{
@page{size:A4;margin:10mm}
body{max-width:none;padding:0;font-size:9pt;-webkit-print-color-adjust:exact;
print-color-adjust:exact}
.tools input,#shown{display:none}.print-only{display:block}
#heat tbody tr:nth-child(n+41){display:none}
#heat tbody tr[hidden]{display:none}
.card li:nth-child(n+7){display:none}
#heat th,#heat td{padding:1px 4px}
#heat td.a,#heat td.b,#heat td.c,#heat td.d,#heat td.e{width:12px;min-width:12px;height:14px;
border-width:2px 1px}
#heat .addr{display:none}.glance{gap:8px;margin-bottom:12px}.gap{width:60px}
h1{font-size:16pt}.legend{margin-bottom:10px}tr,.card{break-inside:avoid}
.lc,#heat .meet{display:none}.card{padding:6px 10px}.card li{padding:2px 0}}
"""

_SHADE_CLASSES = ("a", "b", "c", "d", "e")


def escape(text: object) -> str:
    """Return ``text`` safe as HTML text and as a double-quoted attribute value."""
    return html.escape(str(text), quote=True)


def _script_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def _local(moment: datetime, timezone: tzinfo) -> datetime:
    return moment.astimezone(timezone)


def _when(moment: datetime, timezone: tzinfo, with_time: bool = True) -> str:
    local = _local(moment, timezone)
    text = f"{local:%a} {local.day} {local:%b %Y}"
    return f"{text}, {local:%H:%M}" if with_time else text


def _short_day(moment: datetime, timezone: tzinfo) -> str:
    local = _local(moment, timezone)
    return f"{local:%a} {local.day} {local:%b}"


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    delta = now - moment
    if delta < timedelta(days=1):
        return "today"
    return f"{short_span(delta)} ago"


def name_of(row: ReportRow) -> str:
    """Return the name shown for a row's person (their first address when unnamed)."""
    person = row.tie.person
    return person.name or (person.addresses[0] if person.addresses else f"#{person.id}")


def status_chip(row: ReportRow, now: datetime) -> tuple[str, str, str]:
    """Return (css class, text, filter word) of a row's status chip."""
    tie = row.tie
    if row.suggested is not None:
        return "sugg", "suggested" if row.suggested.group != "reconnect" else "reconnect?", \
            "suggested"
    if tie.status is Status.QUIET and tie.overdue is not None:
        return "quiet", f"{short_span(tie.overdue)} overdue", "quiet"
    if tie.status is Status.DUE_SOON and tie.due_at is not None:
        days = max(1, math.ceil((tie.due_at - now).total_seconds() / 86400))
        return "due", f"due in {days}d", "due soon"
    if tie.status is Status.SNOOZED and tie.person.snoozed_until is not None:
        return "never", f"snoozed to {tie.person.snoozed_until:%d %b}", "snoozed"
    if tie.status is Status.NEVER:
        return "never", "no contact yet", "never"
    return "ok", "ok", "ok"


def _cell_title(month: MonthActivity) -> str:
    parts = [f"{month_label(month.month)}: {month.contact_days} "
             f"day{'s' if month.contact_days != 1 else ''}"]
    for count, word in ((month.outgoing, "I wrote"), (month.incoming, "they wrote"),
                        (month.meetings, "met"), (month.manual, "logged")):
        if count:
            parts.append(f"{word} {count}")
    return " · ".join(parts)


def _cells(months: Sequence[MonthActivity]) -> str:
    out = []
    for month in months:
        shade = _SHADE_CLASSES[month.shade]
        if not month.contact_days:
            out.append(f'<td class="{shade}"></td>')
            continue
        met = " m" if month.meetings or month.manual else ""
        # Numbers and month names only: nothing to escape (and 12,000 cells at 500 people).
        out.append(f'<td class="{shade}{met}" title="{_cell_title(month)}"></td>')
    return "".join(out)


def _tenths(value: timedelta, scale: timedelta) -> int:
    if scale <= timedelta():
        return 0
    return max(0, min(10, round(10 * value.total_seconds() / scale.total_seconds())))


def _rhythm(row: ReportRow, now: datetime) -> str:
    """A bar of the current silence with a tick at the usual gap, and both in words."""
    person = row.tie.person
    usual = timedelta(days=person.inferred_days) if person.inferred_days else None
    wanted = row.tie.cadence if row.tie.cadence_source in ("person", "tier") else None
    rhythm = wanted or usual or row.tie.cadence
    quiet = now - person.last_contact if person.last_contact else None
    if quiet is None and rhythm is None:
        return '<td class="rh">-</td>'
    scale = max(value for value in (rhythm, quiet) if value is not None)
    bar = ""
    if quiet is not None:
        over = " over" if rhythm is not None and quiet > rhythm else ""
        bar += f'<i class="w{_tenths(quiet, scale)}{over}"></i>'
    if rhythm is not None:
        bar += f'<b class="p{_tenths(rhythm, scale)}"></b>'
    words = []
    if rhythm is not None:
        words.append(f"every {short_span(rhythm)}")
    words.append(f"{short_span(quiet)} quiet" if quiet is not None else "no contact")
    title = []
    if usual is not None:
        title.append(f"usually every {short_span(usual)}")
    if wanted is not None:
        title.append(f"you want every {short_span(wanted)}")
    title.append("no contact on record" if quiet is None else f"now {short_span(quiet)} quiet")
    return (f'<td class="rh" title="{escape(" · ".join(title))}"><span class="gap">{bar}</span>'
            f'{escape(" · ".join(words))}</td>')


def _heat_row(row: ReportRow, report: Report) -> str:
    now = report.generated
    person = row.tie.person
    css, text, word = status_chip(row, now)
    filter_text = " ".join([name_of(row), *person.addresses, word]).lower()
    chip_title = ""
    if row.suggested is not None:
        chip_title = f' title="{escape(row.suggested.why)}"'
    meeting = ""
    if row.next_meeting is not None:
        meeting = (f' <span class="chip meet" title="'
                   f'{escape(_when(row.next_meeting, report.timezone))}">'
                   f'meeting {escape(_short_day(row.next_meeting, report.timezone))}'
                   "</span>")
    address = person.addresses[0] if person.addresses and person.name else ""
    last = person.last_contact
    last_title = f' title="{escape(_when(last, report.timezone))}"' if last else ""
    return (f'<tr data-f="{escape(filter_text)}"><th scope="row" title="'
            f'{escape(", ".join(person.addresses))}">{escape(name_of(row))}'
            f'<span class="addr">{escape(address)}</span></th>'
            f'<td><span class="chip {css}"{chip_title}>{escape(text)}</span>{meeting}</td>'
            f"{_cells(row.months)}{_rhythm(row, now)}"
            f'<td class="lc"{last_title}>{escape(_ago(last, now))}</td></tr>')


def _heat_head(months: Sequence[str]) -> str:
    years: list[tuple[str, int]] = []
    for month in months:
        if years and years[-1][0] == month[:4]:
            years[-1] = (years[-1][0], years[-1][1] + 1)
        else:
            years.append((month[:4], 1))
    year_cells = "".join(f'<th class="y" colspan="{span}">{escape(year) if span > 1 else ""}'
                         "</th>" for year, span in years)
    initials = "".join(f'<th class="mi" title="{escape(month_label(month))}">'
                       f"{'JFMAMJJASOND'[int(month[5:]) - 1]}</th>" for month in months)
    return (f'<thead><tr><th></th><th></th>{year_cells}<th></th><th class="lc"></th></tr>'
            f"<tr><th>Person</th><th>Status</th>{initials}<th>Rhythm · now</th>"
            '<th class="lc">Last contact</th></tr></thead>')


def _card(title: str, chip: str, items: Sequence[tuple[str, str]], empty: str) -> str:
    count = f'<span class="chip {chip}">{len(items)}</span>' if items else ""
    if not items:
        body = f'<p class="muted">{escape(empty)}</p>'
    else:
        shown = "".join(f'<li><b title="{escape(name)}">{escape(name)}</b>'
                        f'<span class="when">{escape(detail)}</span></li>'
                        for name, detail in items[:CARD_ROWS])
        more = (f'<li class="more">and {len(items) - CARD_ROWS} more in the table below</li>'
                if len(items) > CARD_ROWS else "")
        body = f"<ol>{shown}{more}</ol>"
    return f'<div class="card"><h2>{escape(title)}{count}</h2>{body}</div>'


def _glance(report: Report) -> str:
    now = report.generated
    tracked = [row for row in report.rows if row.suggested is None]
    quiet = [(name_of(row), f"{status_chip(row, now)[1]} · last "
                            f"{_ago(row.tie.person.last_contact, now)}")
             for row in tracked if row.tie.status is Status.QUIET]
    due = [(name_of(row), status_chip(row, now)[1]) for row in tracked
           if row.tie.status is Status.DUE_SOON]
    meetings = sorted((row for row in report.rows if row.next_meeting is not None),
                      key=lambda row: row.next_meeting or now)
    seeing = [(name_of(row), _when(row.next_meeting, report.timezone))
              for row in meetings if row.next_meeting is not None]
    return ('<section class="glance">'
            + _card("Quiet", "quiet", quiet, "Nobody tracked has gone quiet.")
            + _card("Due soon", "due", due, "Nobody is due in the next days.")
            + _card("You will see soon", "meet", seeing, "No meetings ahead with them.")
            + "</section>")


def _summary(report: Report) -> str:
    counts = {status: 0 for status in Status}
    for row in report.rows:
        if row.suggested is None:
            counts[row.tie.status] += 1
    meetings = sum(1 for row in report.rows if row.next_meeting is not None)
    suggested = sum(1 for row in report.rows if row.suggested is not None)
    chips = [f'<span class="chip quiet">{counts[Status.QUIET]} quiet</span>',
             f'<span class="chip due">{counts[Status.DUE_SOON]} due soon</span>',
             f'<span class="chip ok">{counts[Status.OK]} in touch</span>',
             f'<span class="chip meet">{meetings} meeting{"s" if meetings != 1 else ""} '
             "ahead</span>"]
    if counts[Status.NEVER]:
        chips.append(f'<span class="chip never">{counts[Status.NEVER]} no contact yet</span>')
    if counts[Status.SNOOZED]:
        chips.append(f'<span class="chip never">{counts[Status.SNOOZED]} snoozed</span>')
    extra = f", {suggested} suggested" if suggested else ""
    return (f'<p class="summary">{"".join(chips)}<span class="muted">{report.tracked} tracked'
            f"{extra}</span></p>")


def _legend() -> str:
    swatches = "".join(f'<span><span class="sw" style="background:var(--h{level})"></span>'
                       f"{label}</span>" for level, label in
                       ((0, "none"), (1, "1 day"), (2, "2-3 days"), (3, "4-7 days"),
                        (4, "8+ days a month")))
    return (f'<p class="legend">{swatches}<span>● met or logged a contact</span>'
            '<span>bar: time since the last contact; tick: the rhythm (yours, else theirs); '
            "red when past it</span></p>")


def _source_rows(sources: Iterable[SourceHealth], report: Report) -> str:
    now = report.generated
    rows = []
    for source in sources:
        if source.paused:
            state = '<span class="chip quiet">paused</span> run: syncd auth ' + escape(
                source.name)
        elif source.last_error:
            state = f'<span class="error">{escape(source.last_error)}</span>'
        elif source.last_success is None:
            state = '<span class="muted">never synced</span>'
        else:
            state = '<span class="chip ok">ok</span>'
        if not source.configured:
            state += ' <span class="muted">(no longer in the config)</span>'
        skipped = sum(source.skipped.values())
        reasons = "; ".join(f"{count} {reason}" for reason, count in
                            sorted(source.skipped.items(), key=lambda item: -item[1])[:3])
        skipped_cell = (f'{skipped} <span class="muted">({escape(reasons)})</span>'
                        if skipped else "0")
        last = source.last_success
        last_cell = (f'<span title="{escape(_when(last, report.timezone))}">'
                     f"{escape(_ago(last, now))}</span>" if last else "never")
        rows.append(f"<tr><th>{escape(source.name)}</th><td>{escape(source.type)}</td>"
                    f"<td>{last_cell}</td><td>{state}</td><td>{skipped_cell}</td></tr>")
    if not rows:
        rows.append('<tr><td colspan="5" class="muted">No sources configured.</td></tr>')
    return "".join(rows)


def render_html(report: Report) -> str:
    """Return the whole report page for ``report``."""
    now = report.generated
    zone = getattr(report.timezone, "key", None) or str(report.timezone)
    heat_rows = "".join(_heat_row(row, report) for row in report.rows)
    if not report.rows:
        heat_rows = (f'<tr><td colspan="{len(report.months) + 4}" class="muted">Nobody is '
                     "tracked yet: run syncd track PERSON, or list [[people]] in the config."
                     "</td></tr>")
    over = len(report.rows) - PRINT_ROWS
    print_note = (f'<p class="print-only muted">Printed: the first {PRINT_ROWS} of '
                  f"{len(report.rows)} people, most overdue first.</p>" if over > 0 else "")
    policy = (f"default-src 'none'; style-src 'unsafe-inline'; "
              f"script-src '{_script_hash(_SCRIPT)}'; base-uri 'none'; form-action 'none'")
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f'<meta http-equiv="Content-Security-Policy" content="{escape(policy)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="color-scheme" content="light dark">',
        f"<title>syncd: your ties, {escape(_when(now, report.timezone, with_time=False))}"
        "</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<header><h1>Your ties<small>as of {escape(_when(now, report.timezone))} "
        f"({escape(zone)})</small></h1>{_summary(report)}</header>",
        _glance(report),
        '<section><div class="tools"><h2>Contact by month</h2>',
        '<input id="filter" type="search" placeholder="Filter: name, address, quiet, due soon…"'
        ' aria-label="Filter people" autocomplete="off">',
        f'<span id="shown" class="muted">{len(report.rows)} shown</span></div>',
        print_note,
        f'<table id="heat">{_heat_head(report.months)}<tbody>{heat_rows}</tbody></table>',
        _legend(), "</section>",
        '<section><h2>Sources</h2><table class="sources"><thead><tr><th>Source</th>'
        "<th>Type</th><th>Last sync</th><th>State</th><th>Skipped items</th></tr></thead>"
        f"<tbody>{_source_rows(report.sources, report)}</tbody></table></section>",
        f"<footer>Written by syncd {escape(__version__)} from the local database. This file "
        "loads nothing from the network; it names people: keep it to yourself.</footer>",
        f"<script>{_SCRIPT}</script></body></html>\n",
    ])
