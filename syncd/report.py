"""``syncd report``: gather what the offline HTML report shows, and write it.

The report is built from what the commands already read: the tracked people's ties, the top
suggestions (:class:`Suggested`, supplied by the caller), their contact per month (one query
for everyone, :meth:`syncd.app.App.monthly`), their next meetings, and every source's health.
:mod:`syncd.report_html` turns the resulting :class:`Report` into one HTML file (pure);
:func:`write_report` writes it atomically, readable by the user alone (it names people).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from syncd.activity import MonthActivity, month_window
from syncd.errors import ReportError
from syncd.model import PersonRow
from syncd.ties import Status, Tie, evaluate

if TYPE_CHECKING:
    from syncd.app import App

log = logging.getLogger(__name__)

#: How many suggestions the heat map shows beside the tracked people.
SUGGESTIONS_SHOWN = 10
REPORT_NAME = "report.html"


@dataclass(frozen=True, slots=True)
class Suggested:
    """An untracked person worth keeping, as a suggestion source gives it, with one line of why."""

    person: PersonRow
    why: str
    group: str = "track"


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One person of the heat map: their tie, months, next meeting, and why when suggested."""

    tie: Tie
    months: tuple[MonthActivity, ...]
    next_meeting: datetime | None = None
    suggested: Suggested | None = None


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """One source as ``syncd status`` sees it: last sync, last error, skipped items."""

    name: str
    type: str
    configured: bool
    last_attempt: datetime | None
    last_success: datetime | None
    last_error: str | None
    paused: bool
    skipped: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Report:
    """Everything the report shows, as of ``generated``."""

    generated: datetime
    timezone: tzinfo
    months: tuple[str, ...]
    rows: tuple[ReportRow, ...]
    sources: tuple[SourceHealth, ...]
    tracked: int


def _sort_key(row: ReportRow, now: datetime) -> tuple[int, float, str]:
    """Most overdue first: quiet, then due soon, then the rest by how close their due date is;
    people never contacted last (as ``syncd due`` orders them)."""
    due_at = row.tie.due_at
    if row.tie.status is Status.NEVER or due_at is None:
        return (1, 0.0, row.tie.person.name.lower())
    return (0, -(now - due_at).total_seconds(), row.tie.person.name.lower())


def app_suggestions(app: App) -> list[Suggested]:
    """Return the first ``SUGGESTIONS_SHOWN`` of ``syncd suggest`` (both groups, strongest
    first), each with its one line of why."""
    return [Suggested(item.tie.person, item.strength.why, item.strength.group)
            for item in app.suggest(limit=SUGGESTIONS_SHOWN)][:SUGGESTIONS_SHOWN]


def build_report(app: App, suggestions: Sequence[Suggested] | None = None) -> Report:
    """Return the report of ``app``'s tracked people and the first ``SUGGESTIONS_SHOWN``
    of ``suggestions`` (default: :func:`app_suggestions`; tracked ones are left out), as of
    ``app.clock()``."""
    if suggestions is None:
        suggestions = app_suggestions(app)
    now = app.clock()
    config = app.config
    tracked = app.store.tracked_people()
    wanted = [item for item in suggestions if not item.person.tracked][:SUGGESTIONS_SHOWN]
    ties = [evaluate(person, config.tiers, now) for person in tracked]
    ties += [evaluate(item.person, config.tiers, now) for item in wanted]
    ids = [tie.person.id for tie in ties]
    monthly = app.monthly(ids)
    meetings = app.store.next_meetings(ids, now)
    by_id = {item.person.id: item for item in wanted}
    rows = [ReportRow(tie, monthly[tie.person.id], meetings.get(tie.person.id),
                      by_id.get(tie.person.id) if not tie.person.tracked else None)
            for tie in ties]
    rows.sort(key=lambda row: _sort_key(row, now))
    stored = {row.name: row for row in app.store.sources(with_counts=False)}
    names = list(config.sources) + sorted(set(stored) - set(config.sources))
    sources = []
    for name in names:
        source = config.sources.get(name)
        row = stored.get(name)
        sources.append(SourceHealth(
            name, source.type if source else "?", source is not None,
            row.last_attempt if row else None, row.last_success if row else None,
            row.last_error if row else None, bool(row and row.error_kind == "auth"),
            dict(row.skipped) if row else {}))
    return Report(now, config.timezone, month_window(now, config.timezone).months,
                  tuple(rows), tuple(sources), len(tracked))


def default_report_path(state_dir: Path) -> Path:
    """Return where ``syncd report`` writes without ``--out``: ``STATE_DIR/report.html``."""
    return state_dir / REPORT_NAME


def write_report(app: App, path: Path,
                 suggestions: Sequence[Suggested] | None = None) -> Path:
    """Render the report and write it to ``path`` atomically (0600: it names people).

    A reader never sees half a file: it is written beside ``path`` and renamed over it.
    Raise :class:`ReportError` when the file cannot be written. Return the absolute path.
    """
    from syncd.report_html import render_html

    report = build_report(app, suggestions)
    html = render_html(report)
    target = path.expanduser().absolute()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".report-", suffix=".tmp",
                                             dir=target.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(html)
            os.chmod(temporary, 0o600)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as error:
        raise ReportError(f"cannot write the report to {target}: {error.strerror or error}; "
                          "choose another file with --out (or [report] path)") from None
    log.info("report written to %s: %d people, %d bytes", target, len(report.rows),
             len(html.encode()))
    return target


def open_in_browser(path: Path) -> bool:
    """Show ``path`` in the desktop's default browser (xdg-open through :mod:`webbrowser`,
    which also honours ``$BROWSER``). Return False when no browser could be started."""
    import webbrowser

    try:
        return webbrowser.open(path.absolute().as_uri())
    except webbrowser.Error:
        return False
