"""Terminal pictures of one tie: the contact strip and the usual gap against the current silence.

Pure: a :class:`Picture` is lines of (text, style) spans. :meth:`Picture.plain` is what a pipe
or ``NO_COLOR`` gets, and the very same characters are what a terminal shows, only coloured
(``cli.py`` maps the style names to colours), so testing the plain text tests the layout.

The strip, one two-character cell per month, oldest left::

    ··░░▒▒··▓▓██▓▓░░    three rows: shade by contact days (░ 1 day, ▒ 2-3, ▓ 4-7, █ 8+),
    ↑ ↕●  ↓ ↕ ↕●↕       marks (↑ I wrote, ↓ they wrote, ↕ both ways, ● met or logged a contact),
    J F M A M J J A     and month initials, with the year written above each January.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from syncd.activity import MonthActivity, month_initial, months_summary, short_span

#: One shade character per level of :attr:`MonthActivity.shade`; "·" keeps empty months visible.
SHADES = ("·", "░", "▒", "▓", "█")
LEGEND = "░ 1 day ▒ 2-3 ▓ 4-7 █ 8+ a month · ↑ I wrote ↓ they wrote ↕ both ● met"
#: Width of the longer bar of :func:`gap_picture`.
BAR_WIDTH = 30

Span = tuple[str, str | None]


@dataclass(frozen=True, slots=True)
class Picture:
    """Lines of (text, style name or None) spans."""

    lines: tuple[tuple[Span, ...], ...]

    def plain(self) -> str:
        """Return the picture as plain text, one line per line, no trailing spaces."""
        return "\n".join("".join(text for text, _ in line).rstrip() for line in self.lines)


def direction_mark(month: MonthActivity) -> str:
    """Return ↕ (both ways), ↑ (only I wrote), ↓ (only they wrote) or a space."""
    if month.outgoing and month.incoming:
        return "↕"
    if month.outgoing:
        return "↑"
    if month.incoming:
        return "↓"
    return " "


def contact_strip(months: Sequence[MonthActivity], indent: str = "  ") -> Picture:
    """Return the strip of ``months`` (oldest first): caption, years, shades, marks, initials."""
    # The year above each January, and above the first month when that leaves room.
    labels = [(index * 2, month.month[:4]) for index, month in enumerate(months)
              if month.month.endswith("-01")]
    if months and (not labels or labels[0][0] >= 6):
        labels.insert(0, (0, months[0].month[:4]))
    years = ""
    for column, label in labels:
        years += " " * (column - len(years)) + label
    shades: list[Span] = [(indent, None)]
    marks: list[Span] = [(indent, None)]
    for month in months:
        shades.append((SHADES[month.shade] * 2, f"shade{month.shade}"))
        direction = direction_mark(month)
        marks.append((direction, "mark" if direction != " " else None))
        met = month.meetings or month.manual
        marks.append(("●" if met else " ", "met" if met else None))
    initials = indent + " ".join(month_initial(month.month) for month in months)
    return Picture((
        ((indent + "contact, last " f"{len(months)} months: " + months_summary(months),
          "caption"),),
        ((indent + years, "dim"),),
        tuple(shades),
        tuple(marks),
        ((initials, "dim"),),
        ((indent + LEGEND, "dim"),),
    ))


def rhythm_text(usual: timedelta | None, wanted: timedelta | None,
                quiet: timedelta | None) -> str:
    """Return "usually every 3w · now 7w quiet" (or what is known of it).

    ``usual`` is the person's own rhythm (inferred from their history), ``wanted`` the cadence
    the user set (a tier or ``every``), ``quiet`` the time since the last contact (None when
    there was none).
    """
    parts = [f"usually every {short_span(usual)}" if usual else "no usual rhythm yet"]
    if wanted:
        parts.append(f"you want every {short_span(wanted)}")
    if quiet is None:
        parts.append("no contact on record")
    elif quiet < timedelta(days=1):
        parts.append("in touch today")
    else:
        parts.append(f"now {short_span(quiet)} quiet")
    return " · ".join(parts)


def gap_picture(usual: timedelta | None, wanted: timedelta | None,
                quiet: timedelta | None, indent: str = "  ") -> Picture:
    """Return bars for the usual gap, the wanted cadence and the current silence, to scale.

    The silence bar is styled ``over`` when it is longer than the wanted cadence (else the
    usual gap), ``within`` otherwise. Bars are drawn only for what is known.
    """
    rows = [(label, value) for label, value in (("usual gap", usual), ("you want", wanted),
                                                ("now quiet", quiet)) if value is not None]
    lines: list[tuple[Span, ...]] = []
    longest = max((value for _, value in rows), default=timedelta())
    limit = wanted or usual
    for label, value in rows:
        length = (0 if longest <= timedelta() else
                  max(1, round(BAR_WIDTH * value.total_seconds() / longest.total_seconds())))
        if label == "now quiet":
            style = "over" if limit is not None and value > limit else "within"
        else:
            style = "bar"
        lines.append(((f"{indent}{label:<10} ", "dim"), ("█" * length, style),
                      (" " * (BAR_WIDTH - length + 1) + short_span(value), None)))
    lines.append(((indent + rhythm_text(usual, wanted, quiet), "caption"),))
    return Picture(tuple(lines))
