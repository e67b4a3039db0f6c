"""The alert policy (DESIGN §4): which quiet ties to notify about, and when. Pure.

Everything here is a function of ties, the alert history the store keeps, and an injected
``now``; the daemon does the I/O (reading the store, sending, recording what was sent). The
rules, in the order they apply:

1. Only tracked ties that are **quiet** (past due, not snoozed) can alert; a tie never
   contacted has no "days since" to tell and does not alert.
2. **Once per quiet tie**: a person named in an alert is not named again until
   ``renotify_after`` has passed, or a snooze that started after the alert has ended. A contact
   after the alert starts a new episode: when the tie goes quiet again it alerts again.
3. An **upcoming meeting** with the person suppresses the alert ("you will see Bob on Thursday").
4. **Quiet hours** (local wall-clock times in the configured time zone, possibly across
   midnight): nothing is sent; what is due waits for the first check after they end.
5. **max_per_day**: at most that many notifications per local calendar day (a digest counts
   as one); the most overdue go first, the rest wait for the next day.
6. **Digest**: more than ``digest_over`` alerts at once become one notification.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from syncd.config import NotifyConfig
from syncd.ties import Status, Tie

#: A digest names at most this many people; the rest are counted ("and 12 more").
DIGEST_NAMES = 8
_MONTH_DAYS = 30.4375


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """The ``[notify]`` knobs the policy needs, with the time zone quiet hours are read in."""

    timezone: tzinfo
    quiet_hours: tuple[time, time] | None = None
    max_per_day: int = 3
    renotify_after: timedelta = timedelta(days=7)
    digest_over: int = 3

    @classmethod
    def from_config(cls, notify: NotifyConfig, timezone: tzinfo) -> AlertPolicy:
        """Return the policy of a validated ``[notify]`` table."""
        return cls(timezone, parse_quiet_hours(notify.quiet_hours), notify.max_per_day,
                   notify.renotify_after, notify.digest_over)


def parse_quiet_hours(text: str | None) -> tuple[time, time] | None:
    """Return (start, end) of a validated ``"22:00-08:00"`` range; None for none or equal ends."""
    if not text:
        return None
    start_text, end_text = text.split("-")
    start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
    return None if start == end else (start, end)


def in_quiet_hours(now: datetime, policy: AlertPolicy) -> bool:
    """Return True when ``now`` falls in the policy's quiet hours, read as local wall-clock time.

    A range whose start is after its end crosses midnight (22:00-08:00). Wall-clock reading
    makes DST transitions need no special case: 23:30 is quiet on every night of the year.
    """
    if policy.quiet_hours is None:
        return False
    start, end = policy.quiet_hours
    local = now.astimezone(policy.timezone).time().replace(tzinfo=None)
    if start < end:
        return start <= local < end
    return local >= start or local < end


def local_day_start(now: datetime, timezone: tzinfo) -> datetime:
    """Return the moment (aware) the local calendar day containing ``now`` began.

    Days are 23 or 25 hours long across DST changes; counting from local midnight keeps
    ``max_per_day`` a per-calendar-day cap in every case.
    """
    local = now.astimezone(timezone)
    return datetime.combine(local.date(), time(0), tzinfo=timezone)


@dataclass(frozen=True, slots=True)
class Alert:
    """One quiet tie to tell the user about."""

    person_id: int
    name: str
    days_since: int
    due_at: datetime | None
    title: str
    body: str

    @property
    def text(self) -> str:
        """The one-line form: ``"Alice Example: 47 days since you last talked (...)"``."""
        return f"{self.title}: {self.body}"


@dataclass(frozen=True, slots=True)
class Notification:
    """One notification to send: a single alert (``kind="alert"``) or a digest of several."""

    kind: str
    title: str
    body: str
    alerts: tuple[Alert, ...]
    urgency: str = "normal"

    @property
    def text(self) -> str:
        """Title and body on one line (for the log backend)."""
        return f"{self.title}: {self.body}".replace("\n", "; ")


@dataclass(frozen=True, slots=True)
class Plan:
    """What one alert check decided: notifications to send, and counts of what was held back."""

    notifications: tuple[Notification, ...] = ()
    held: Mapping[str, int] = field(default_factory=dict)


def plan_alerts(ties: Sequence[Tie], *, policy: AlertPolicy, now: datetime,
                last_alerted: Mapping[int, datetime], sent_today: int,
                upcoming: Callable[[int], datetime | None]) -> Plan:
    """Decide which of ``ties`` to notify about now.

    ``last_alerted`` maps a person id to the last time they were named in a notification;
    ``sent_today`` is how many notifications went out since :func:`local_day_start`;
    ``upcoming`` returns the start of the person's next meeting, or None (called only for
    ties that passed every cheaper rule). Return a :class:`Plan`; ``held`` counts ties held
    back, by reason (``quiet_hours``, ``already_alerted``, ``meeting_ahead``, ``max_per_day``).
    """
    held: dict[str, int] = {}

    def hold(reason: str, count: int = 1) -> None:
        if count:
            held[reason] = held.get(reason, 0) + count

    quiet = [tie for tie in ties if tie.status is Status.QUIET and tie.person.tracked]
    if not quiet:
        return Plan()
    if in_quiet_hours(now, policy):
        hold("quiet_hours", len(quiet))
        return Plan((), held)
    eligible: list[Tie] = []
    for tie in quiet:
        if _recently_alerted(tie, last_alerted.get(tie.person.id), policy, now):
            hold("already_alerted")
        elif upcoming(tie.person.id) is not None:
            hold("meeting_ahead")
        else:
            eligible.append(tie)
    if not eligible:
        return Plan((), held)
    budget = policy.max_per_day - sent_today
    if budget <= 0:
        hold("max_per_day", len(eligible))
        return Plan((), held)
    eligible.sort(key=lambda tie: (-(tie.overdue or timedelta()).total_seconds(),
                                   tie.person.name, tie.person.id))
    alerts = [make_alert(tie, now) for tie in eligible]
    if len(alerts) > policy.digest_over:
        return Plan((make_digest(alerts),), held)
    hold("max_per_day", max(0, len(alerts) - budget))
    return Plan(tuple(Notification("alert", alert.title, alert.body, (alert,))
                      for alert in alerts[:budget]), held)


def birthday_key(on: date) -> datetime:
    """Return the ``due_at`` a birthday notification is recorded under: the birthday's date
    at midnight UTC, so each (person, year) is notified once, whatever restarts."""
    return datetime.combine(on, time(0), UTC)


def plan_birthdays(upcoming: Sequence[tuple[Tie, date, int | None]], *, policy: AlertPolicy,
                   now: datetime, lead: timedelta, notified: Container[tuple[int, date]]
                   ) -> tuple[Notification, ...]:
    """Decide which birthdays to notify about now: one notification per tracked person,
    from ``lead`` before their birthday (``upcoming``: tie, local date, age or None) until the
    day itself, once per year (``notified`` holds the (person id, date) pairs already sent),
    never in quiet hours. Birthdays do not use up ``max_per_day``: they come once a year.
    """
    if in_quiet_hours(now, policy):
        return ()
    today = now.astimezone(policy.timezone).date()
    notifications = []
    for tie, on, age in upcoming:
        person = tie.person
        if not person.tracked or on - today > lead or (person.id, on) in notified:
            continue
        name = person.name or (person.addresses[0] if person.addresses else f"#{person.id}")
        days = (on - today).days
        when = "today" if days == 0 else "tomorrow" if days == 1 else f"in {days} days"
        turns = f", turning {age}" if age is not None else ""
        since = (f"; you last talked {(now - person.last_contact).days} days ago"
                 if person.last_contact is not None else "")
        title = f"{name}'s birthday {when}"
        body = f"{on:%A %-d %B}{turns}{since}"
        alert = Alert(person.id, name, (now - person.last_contact).days
                      if person.last_contact is not None else 0, birthday_key(on), title, body)
        notifications.append(Notification("birthday", title, body, (alert,)))
    return tuple(notifications)


def _recently_alerted(tie: Tie, last: datetime | None, policy: AlertPolicy,
                      now: datetime) -> bool:
    if last is None:
        return False
    person = tie.person
    if person.last_contact is not None and person.last_contact > last:
        return False  # a contact since the alert: this is a new quiet episode
    snooze_end = person.snoozed_until
    if snooze_end is not None and last < snooze_end <= now:
        return False  # snoozed after the alert, and the snooze is over
    return now < last + policy.renotify_after


def make_alert(tie: Tie, now: datetime) -> Alert:
    """Return the alert for one quiet tie, with its user-facing text."""
    person = tie.person
    name = person.name or (person.addresses[0] if person.addresses else f"person #{person.id}")
    since = (now - person.last_contact).days if person.last_contact else 0
    body = f"{since} days since you last talked"
    if tie.cadence is not None:
        rhythm = human_cadence(tie.cadence)
        if tie.cadence_source == "inferred":
            body += f" (you usually talk every {rhythm})"
        else:
            body += f" (you wanted to talk every {rhythm})"
    return Alert(person.id, name, since, tie.due_at, name, body)


def make_digest(alerts: Sequence[Alert]) -> Notification:
    """Return one notification naming the most overdue of ``alerts`` and counting the rest."""
    lines = [f"{alert.name}: {alert.days_since} days" for alert in alerts[:DIGEST_NAMES]]
    if len(alerts) > DIGEST_NAMES:
        lines.append(f"and {len(alerts) - DIGEST_NAMES} more: run syncd due")
    return Notification("digest", f"{len(alerts)} people to get in touch with",
                        "\n".join(lines), tuple(alerts))


def human_cadence(cadence: timedelta) -> str:
    """Return a cadence in words: ``"week"``, ``"3 weeks"``, ``"2 months"``, ``"45 days"``."""
    days = round(cadence.total_seconds() / 86400)
    if days <= 1:
        return "day"
    if days == 7:
        return "week"
    if days % 7 == 0 and days <= 56:
        return f"{days // 7} weeks"
    months = days / _MONTH_DAYS
    if days >= 28 and abs(months - round(months)) * _MONTH_DAYS <= 1.5:
        count = round(months)
        return "month" if count == 1 else f"{count} months"
    return f"{days} days"
