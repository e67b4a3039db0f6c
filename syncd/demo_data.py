"""Bundled sample data for ``syncd demo``: one believable year of Sam Rivera's mail.

:func:`write_sample_data` writes, under a directory it is given,

- ``Maildir/``: a Maildir++ tree. INBOX is the root (``cur``, ``new``, ``tmp``); the folders
  are ``.Sent``, ``.Archive``, ``.Junk``, ``.Trash`` and ``.Drafts`` (each marked with an empty
  ``maildirfolder`` file, as Dovecot and Courier do). File names are ``<epoch>.<n>.demo:2,<flags>``
  in ``cur/`` and ``<epoch>.<n>.demo`` in ``new/``; each file's mtime is its delivery time.
- ``archive.mbox``: an mboxrd file in the style of an old Thunderbird local "Archives" folder
  (``From <addr> <asctime>`` separators, ``>From`` quoting, ``X-Mozilla-Status`` headers) with
  the non-work incoming and outgoing mail older than about 200 days. Work mail older than 90
  days sits in ``.Archive``; everything Sam sent in the Maildir era is in ``.Sent``.

Everything is derived from a fixed seed and the ``now`` passed in, so two runs with the same
``now`` write byte-identical files, and the year always ends just before ``now``. Only the
reserved ``example.org``/``example.com``/``example.net``/``*.example`` domains appear (RFC 2606).

The cast, and what the rules of DESIGN §3 should make of it:

- Six close friends and family with two-way threads (replies carry In-Reply-To/References,
  some Cc a second person): Alex weekly, Morgan every ~3 weeks, Jordan frequent until ~2 months
  ago and silent since, Priya on two addresses (home, later work), Elena (mother) and Theo
  (brother).
- Eight colleagues on Sam's work address ``sam.rivera@work.example``, which is *not* in
  ``[me]``: it appears as From only in ``.Sent``, so it must be learned from there.
- Mail that must not count: newsletters and notifications (each heuristic of §3 on its own:
  List-Unsubscribe, Precedence: bulk, Feedback-ID, noreply/no-reply/donotreply/notifications
  senders, and one with List-Id), a mailing list addressed to the list, delivery reports from
  MAILER-DAEMON, an out-of-office reply, a 40-recipient all-hands, Sam's own 24-recipient
  offsite note, Bcc blasts, spam in Junk, a deleted message in Trash and an unsent draft.
- One-way correspondents who write to Sam and never get an answer (unknown, not ties).
- Malformed files: no Date, a Date in 2099, CR-only line endings, an unknown charset in a
  display name, raw 8-bit bytes in a display name, no Message-ID, a Message-ID present in both
  INBOX and Archive, and a file with no header block at all.

:data:`DEMO_LAST_CONTACT` says, for each of :data:`DEMO_PEOPLE`, how long before ``now`` their
last *counted* contact is; an end-to-end test can assert the demo's ``due`` output from it.
"""

from __future__ import annotations

import os
import random
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.header import Header
from email.utils import format_datetime, formataddr
from pathlib import Path
from types import MappingProxyType

__all__ = [
    "DEMO_LAST_CONTACT",
    "DEMO_ME",
    "DEMO_NEVER_COUNTED",
    "DEMO_ONE_WAY",
    "DEMO_PEOPLE",
    "DEMO_TIERS",
    "DEMO_WORK_ALIAS",
    "DemoPerson",
    "SampleData",
    "write_sample_data",
]


@dataclass(frozen=True, slots=True)
class DemoPerson:
    """One ``[[people]]`` entry of the demo config: a name, addresses, and a tier or a cadence."""

    name: str
    addresses: tuple[str, ...]
    tier: str | None = None
    every: str | None = None


@dataclass(frozen=True, slots=True)
class SampleData:
    """Where :func:`write_sample_data` put things, and what the demo config should say.

    ``counts`` maps a category (``personal``, ``work``, ``bulk``, ...) to the number of message
    files and mbox entries written for it; its values sum to every message written.
    """

    maildir: Path
    mbox: Path
    me: tuple[str, ...]
    people: tuple[DemoPerson, ...]
    counts: Mapping[str, int] = field(default_factory=dict)


#: Tier cadences for the demo config's ``[tiers]`` table.
DEMO_TIERS: Mapping[str, str] = MappingProxyType({"close": "14d", "friends": "45d", "work": "30d"})

#: The addresses for the demo config's ``[me]``; the work alias is deliberately not among them.
DEMO_ME: tuple[str, ...] = ("sam@example.org",)

#: Sam's work address, seen only as the From of messages in ``.Sent``.
DEMO_WORK_ALIAS = "sam.rivera@work.example"

_ALEX = DemoPerson("Alex Chen", ("alex.chen@example.com",), tier="close")
_MORGAN = DemoPerson("Morgan Lee", ("morgan@example.net",), tier="friends")
_JORDAN = DemoPerson("Jordan Blake", ("jordan.blake@example.com",), tier="close")
_PRIYA = DemoPerson(
    "Priya Natarajan", ("priya@example.net", "priya.natarajan@acme.example"), tier="friends"
)
_ELENA = DemoPerson("Elena Rivera", ("elena.rivera@example.net",), every="10d")
_THEO = DemoPerson("Theo Rivera", ("theo@rivera.example",), tier="close")
_DANA = DemoPerson("Dana Ortiz", ("dana.ortiz@work.example",), tier="work")
_RILEY = DemoPerson("Riley Novak", ("riley.novak@work.example",), tier="work")

#: The people the demo config tracks, in the order ``[[people]]`` should list them.
DEMO_PEOPLE: tuple[DemoPerson, ...] = (
    _ALEX,
    _MORGAN,
    _JORDAN,
    _PRIYA,
    _ELENA,
    _THEO,
    _DANA,
    _RILEY,
)

# How long before `now` each tracked person's last counted contact is. The extra two hours keep
# whole-day arithmetic (overdue_days) away from a rounding edge.
_SLACK = timedelta(hours=2)
_PINNED_DAYS: Mapping[str, int] = {
    _DANA.name: 2,
    _ALEX.name: 3,
    _ELENA.name: 4,
    _MORGAN.name: 9,
    _THEO.name: 12,
    _PRIYA.name: 17,
    _RILEY.name: 50,
    _JORDAN.name: 60,
}
#: Person name -> age (relative to ``now``) of their last counted contact in the sample data.
DEMO_LAST_CONTACT: Mapping[str, timedelta] = MappingProxyType(
    {name: timedelta(days=days) + _SLACK for name, days in _PINNED_DAYS.items()}
)
_PRIYA_HOME_LAST_DAYS = 50  # Priya's home address goes quiet here; her work address carries on.

#: People who write to Sam and never hear back: counted as incoming, "unknown", never a tie.
DEMO_ONE_WAY: tuple[str, ...] = (
    "jamie.fox@talent.example",
    "pat.morales@hoa.example",
    "chris.dalton@vendor.example",
    "jose.ramirez@example.com",
    "renee.dubois@example.net",
    "devon@bikeshop.example",
)

#: Addresses that appear in the data but must never get a counted contact.
DEMO_NEVER_COUNTED: tuple[str, ...] = (
    "harper.quinn@work.example",  # only sent the 40-recipient all-hands
    "quinn.harlow@example.net",  # only in Trash
    "lou.bennett@community.example",  # only Bcc blasts
    "trailclub@lists.example.org",  # the mailing list address
    "hollis.grant@example.net",  # only posts to the mailing list
    "newsletter@weeklybyte.example",
    "digest@cityscape.example",
    "deals@shopfront.example",
    "noreply@cloud.example",
    "notifications@codehub.example",
    "no-reply@bank.example",
    "donotreply@skyway.example",
    "news@coop.example",
    "MAILER-DAEMON@mx.example.org",
)

_SEED = 0x5A3_2025
_ARCHIVE_AFTER = timedelta(days=200)  # personal mail older than this lives in the mbox
_WORK_ARCHIVE_AFTER = timedelta(days=90)  # work mail older than this lives in .Archive
_YEAR = timedelta(days=365)
_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)

_Who = tuple[str, str]  # (display name, address)

_SAM: _Who = ("Sam Rivera", DEMO_ME[0])
_SAM_WORK: _Who = ("Sam Rivera", DEMO_WORK_ALIAS)
_SAM_TZ = timezone(timedelta(hours=1))
_WORK_TZ = timezone(timedelta(hours=1))

# Maildir++ folder names (None is INBOX, the root) and the flags their files carry.
_FOLDERS: Mapping[str, tuple[str | None, str]] = {
    "inbox": (None, "S"),
    "sent": (".Sent", "S"),
    "archive": (".Archive", "S"),
    "junk": (".Junk", "S"),
    "trash": (".Trash", "ST"),
    "drafts": (".Drafts", "DS"),
}
_UNREAD_IN_NEW = 5  # the newest INBOX messages are left unread in new/


@dataclass(slots=True, kw_only=True)
class _Mail:
    """One message to write, before rendering; ``raw`` replaces rendering when set."""

    when: datetime
    category: str
    place: str
    sender: _Who = _SAM
    tz: timezone = UTC
    to: tuple[_Who, ...] = ()
    to_raw: str | None = None
    cc: tuple[_Who, ...] = ()
    subject: str = ""
    body: str = ""
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    extra: tuple[tuple[str, str], ...] = ()
    content_type: str = "text/plain; charset=utf-8"
    raw: bytes | None = None
    also_in: str | None = None  # a second folder holding the same bytes (duplicate Message-ID)


@dataclass(frozen=True, slots=True)
class _Friend:
    """A two-way personal tie: who, where they live (for Date offsets), and their rhythm."""

    who: _Who
    tz: timezone
    mean_gap_days: float
    cc_with: tuple[tuple[_Who, str], ...] = ()  # (person, name in _PINNED_DAYS) sometimes in Cc
    cc_chance: float = 0.0


_PERSONAL_SUBJECTS = (
    "dinner next week?",
    "that podcast I mentioned",
    "photos from Saturday",
    "quick question",
    "birthday plans",
    "are you around this weekend",
    "book recommendation",
    "the recipe",
    "hiking on Sunday?",
    "long time no talk",
    "concert tickets",
    "how did the interview go",
    "moving help",
    "garden update",
    "call tonight?",
    "Café on Main Street reopened",
)
_PERSONAL_BODIES = (
    "Sounds good, let me know what works for you.",
    "From what I remember it was the second one, not the first.",
    "Ha, that made my day. Talk soon!",
    "I can do Thursday evening, or Saturday morning.",
    "From the sound of it you have a busy month ahead.",
    "Sending the link now, it is worth the listen.",
    "Miss you! We should plan something properly.",
    "Yes please, count me in.",
    ">From the archives: the old photo you asked about.",
    "Thanks again for yesterday, it was lovely.",
)
_WORK_SUBJECTS = (
    "Q3 roadmap review",
    "Incident follow-up: search latency",
    "Budget numbers",
    "Design doc: billing v2",
    "Hiring loop feedback",
    "Release checklist",
    "Customer escalation",
    "1:1 notes",
    "Quarterly planning",
    "On-call handover",
    "Vendor contract renewal",
    "Metrics dashboard broken?",
    "Retro action items",
    "Conference talk proposal",
)
_WORK_BODIES = (
    "Comments inline, nothing blocking from my side.",
    "Can we take this to the sync on Thursday?",
    "Updated the doc, please have another look.",
    "Agreed. I will draft the plan and share it by Friday.",
    "Numbers attached in the shared folder.",
    "Looping in the others for visibility.",
    "Thanks, that unblocks us.",
)
_SPAM_SUBJECTS = (
    "You have WON a prize!!!",
    "Urgent: verify your account",
    "Cheap meds, no prescription",
    "Re: your invoice #88231",
    "Make $$$ from home",
    "Final notice: parcel held at depot",
)
_COLLEAGUES: tuple[_Who, ...] = (
    ("Kai Tanaka", "kai.tanaka@work.example"),
    ("Noor Haddad", "noor.haddad@work.example"),
    ("Lena Müller", "lena.mueller@work.example"),
    ("Omar Suleiman", "omar.suleiman@work.example"),
    ("Beatriz Costa", "beatriz.costa@work.example"),
    ("Finn O'Brien", "finn.obrien@work.example"),
)
_FIRST = ("Ada", "Ben", "Cleo", "Dev", "Eva", "Gus", "Hana", "Ivo")
_LAST = ("Abbott", "Brandt", "Cruz", "Dahl")
_STAFF: tuple[_Who, ...] = tuple(
    (f"{first} {last}", f"{first.lower()}.{last.lower()}@work.example")
    for last in _LAST
    for first in _FIRST
)  # 32 more people at work, for big threads and the all-hands
_LIST: _Who = ("Trail Club", "trailclub@lists.example.org")
_LIST_MEMBERS: tuple[_Who, ...] = (
    ("Hollis Grant", "hollis.grant@example.net"),
    ("Mei Ling", "mei.ling@example.com"),
    ("Rafael Souza", "rafael@souza.example"),
    ("Ines Berg", "ines.berg@example.net"),
    ("Tom Okafor", "tom.okafor@example.com"),
    ("Yuki Sato", "yuki@example.net"),
)
_LIST_SUBJECTS = (
    "Saturday route: ridge loop",
    "Carpool from the station",
    "Trail closed after the storm",
    "Gear swap next month",
    "Photos from the lake hike",
    "New members welcome thread",
    "Winter hiking safety",
)

# Newsletters and notifications: each isolates one heuristic of DESIGN §3.
# (sender, extra headers, days between issues, route, subjects)
_BULK: tuple[tuple[_Who, tuple[tuple[str, str], ...], float, str, tuple[str, ...]], ...] = (
    (
        ("The Weekly Byte", "newsletter@weeklybyte.example"),
        (
            (
                "List-Unsubscribe",
                "<mailto:unsubscribe@weeklybyte.example?subject=unsubscribe>, "
                "<https://weeklybyte.example/u/sam>",
            ),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ),
        7.0,
        "personal",
        ("This week in tech", "Five tools worth a look", "The long read"),
    ),
    (
        ("Cityscape Digest", "digest@cityscape.example"),
        (("Precedence", "bulk"),),
        7.0,
        "personal",
        ("Your city this week", "Events near you", "Weekend guide"),
    ),
    (
        ("Shopfront", "deals@shopfront.example"),
        (("Feedback-ID", "417:spring-sale:shopfront:esp.example"),),
        4.0,
        "personal",
        ("48 hours only: 30% off", "New arrivals", "Your basket misses you"),
    ),
    (
        ("Acme Cloud", "noreply@cloud.example"),
        (),
        10.0,
        "personal",
        ("Your invoice is ready", "Usage alert: 80% of quota", "Sign-in from a new device"),
    ),
    (
        ("CodeHub", "notifications@codehub.example"),
        (),
        5.0,
        "work",
        ("[billing-v2] PR #212 review requested", "[infra] Build failed on main", "Issue #88"),
    ),
    (
        ("First Example Bank", "no-reply@bank.example"),
        (),
        30.0,
        "personal",
        ("Your monthly statement",),
    ),
    (
        ("Skyway Airlines", "donotreply@skyway.example"),
        (),
        60.0,
        "personal",
        ("Your booking confirmation", "Check in now"),
    ),
    (
        ("Food Co-op News", "news@coop.example"),
        (
            ("List-Id", "Co-op members news <news.coop.example>"),
            ("List-Unsubscribe", "<https://coop.example/unsubscribe>"),
            ("Precedence", "bulk"),
        ),
        14.0,
        "personal",
        ("Seasonal produce is in", "Members meeting", "Volunteer shifts"),
    ),
)

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)


def write_sample_data(root: Path, *, now: datetime) -> SampleData:
    """Write the demo's Maildir and mbox under ``root`` and return where they are.

    ``now`` must be timezone-aware; the data covers the 365 days before it (one message is
    deliberately dated 2099). ``root`` is created if missing. Raises ValueError for a naive
    ``now`` and FileExistsError when ``root`` already holds a ``Maildir`` or ``archive.mbox``.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    now = now.astimezone(UTC).replace(microsecond=0)
    maildir = root / "Maildir"
    mbox = root / "archive.mbox"
    for path in (maildir, mbox):
        if path.exists():
            raise FileExistsError(f"{path} already exists; give write_sample_data an empty dir")
    mails = _Year(now).build()
    counts = Counter(mail.category for mail in mails)
    counts.update("duplicate" for mail in mails if mail.also_in is not None)
    _write_maildir(maildir, mails)
    _write_mbox(mbox, [mail for mail in mails if mail.place == "mbox"])
    return SampleData(
        maildir=maildir,
        mbox=mbox,
        me=DEMO_ME,
        people=DEMO_PEOPLE,
        counts=MappingProxyType(dict(sorted(counts.items()))),
    )


class _Year:
    """Builds the list of messages for the year before ``now`` from one seeded generator."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.start = now - _YEAR
        self.rng = random.Random(_SEED)
        self.seq = 0
        self.mails: list[_Mail] = []
        self.pinned = {name: now - age for name, age in DEMO_LAST_CONTACT.items()}

    def build(self) -> list[_Mail]:
        """Return every message of the year, ordered by delivery time."""
        self._friends()
        self._work()
        self._bulk()
        self._mailing_list()
        self._one_way()
        self._automatic()
        self._junk_trash_drafts()
        self._malformed()
        self.mails.sort(key=lambda mail: mail.when)
        inbox = [mail for mail in self.mails if mail.place == "inbox"]
        for mail in inbox[-_UNREAD_IN_NEW:]:
            mail.place = "new"
        return self.mails

    # ---- helpers ---------------------------------------------------------------------------

    def message_id(self, sender: _Who) -> str:
        self.seq += 1
        host = sender[1].rpartition("@")[2]
        return f"<{self.rng.getrandbits(48):012x}.{self.seq}@mail.{host}>"

    def daytime(self, when: datetime, tz: timezone) -> datetime:
        """Move ``when`` out of the small hours of ``tz`` (people rarely write at 4 am)."""
        if when.astimezone(tz).hour < 7:
            when += timedelta(hours=8)
        return when

    def route(self, kind: str, outgoing: bool, when: datetime) -> str:
        """Pick where a message lives: personal history moved to the mbox, work to .Archive."""
        if outgoing:
            return "mbox" if kind == "personal" and when < self.now - _ARCHIVE_AFTER else "sent"
        if kind == "personal":
            return "mbox" if when < self.now - _ARCHIVE_AFTER else "inbox"
        return "archive" if when < self.now - _WORK_ARCHIVE_AFTER else "inbox"

    def limit_for(self, names: Sequence[str]) -> datetime:
        """Return the time before which mail involving the named tracked people must end."""
        limit = self.now - _HOUR
        for name in names:
            if name in self.pinned:
                limit = min(limit, self.pinned[name] - _DAY)
        return limit

    def forward_times(self, start: datetime, limit: datetime) -> list[datetime]:
        count = self.rng.choices((1, 2, 3, 4), weights=(3, 5, 2, 1))[0]
        times = [start]
        while len(times) < count:
            nxt = times[-1] + timedelta(minutes=self.rng.uniform(40, 30 * 60))
            if nxt >= limit:
                break
            times.append(nxt)
        return times

    def backward_times(self, end: datetime, count: int = 0) -> list[datetime]:
        count = count or self.rng.choice((1, 2, 2, 3))
        times = [end]
        while len(times) < count:
            times.append(times[-1] - timedelta(minutes=self.rng.uniform(60, 20 * 60)))
        return times[::-1]

    def thread(
        self,
        *,
        times: Sequence[datetime],
        senders: Sequence[tuple[_Who, timezone]],
        group: Sequence[_Who],
        main: Callable[[_Who], tuple[_Who, ...]],
        subject: str,
        bodies: Sequence[str],
        kind: str,
        category: str,
    ) -> None:
        """Add one reply chain; message i is sent by ``senders[i]`` to everyone else in ``group``.

        ``main(sender)`` names the To of each message; the rest of the group goes in Cc.
        """
        previous: str | None = None
        references: list[str] = []
        for index, (when, (sender, tz)) in enumerate(zip(times, senders, strict=True)):
            to = main(sender)
            cc = tuple(who for who in group if who != sender and who not in to)
            mid = self.message_id(sender)
            outgoing = sender in (_SAM, _SAM_WORK)
            self.mails.append(
                _Mail(
                    when=when,
                    category=category,
                    place=self.route(kind, outgoing, when),
                    sender=sender,
                    tz=tz,
                    to=to,
                    cc=cc,
                    subject=subject if index == 0 else f"Re: {subject}",
                    body=self.rng.choice(bodies),
                    message_id=mid,
                    in_reply_to=previous,
                    references=tuple(references),
                )
            )
            previous = mid
            references.append(mid)

    def conversation(
        self,
        friend: _Friend,
        address: str,
        times: Sequence[datetime],
        *,
        last_from_sam: bool,
        cc: tuple[_Who, ...] = (),
    ) -> None:
        """Add a personal back-and-forth between Sam and ``friend`` at ``times``."""
        peer: _Who = (friend.who[0], address)
        alternating = [(peer, friend.tz), (_SAM, _SAM_TZ)]
        first = (len(times) % 2 == 1) == last_from_sam
        senders = [alternating[(index + int(first)) % 2] for index in range(len(times))]
        self.thread(
            times=times,
            senders=senders,
            group=(_SAM, peer, *cc),
            main=lambda sender: (_SAM,) if sender != _SAM else (peer,),
            subject=self.rng.choice(_PERSONAL_SUBJECTS),
            bodies=_PERSONAL_BODIES,
            kind="personal",
            category="personal",
        )

    def friendship(
        self,
        friend: _Friend,
        name: str,
        *,
        begin: datetime,
        pinned: datetime,
        address: Callable[[datetime], str],
        last_from_sam: bool,
    ) -> None:
        """Add conversations from ``begin`` on, the last message of the last one at ``pinned``."""
        mean = friend.mean_gap_days
        when = begin + timedelta(days=self.rng.uniform(0, mean))
        while when < pinned - 2 * _DAY:
            cc: tuple[_Who, ...] = ()
            names = [name]
            if friend.cc_with and self.rng.random() < friend.cc_chance:
                other, other_name = self.rng.choice(friend.cc_with)
                cc, names = (other,), [name, other_name]
            start = self.daytime(when, friend.tz)
            limit = min(self.limit_for(names), pinned - _DAY)
            if start < limit:
                times = self.forward_times(start, limit)
                self.conversation(
                    friend, address(start), times, last_from_sam=self.rng.random() < 0.5, cc=cc
                )
            gap = min(max(self.rng.gauss(mean, mean / 3), mean * 0.3), mean * 3)
            when += timedelta(days=gap)
        self.conversation(
            friend, address(pinned), self.backward_times(pinned), last_from_sam=last_from_sam
        )

    # ---- the cast --------------------------------------------------------------------------

    def _friends(self) -> None:
        alex_who: _Who = (_ALEX.name, _ALEX.addresses[0])
        morgan_who: _Who = (_MORGAN.name, _MORGAN.addresses[0])
        theo_who: _Who = (_THEO.name, _THEO.addresses[0])
        east = timezone(timedelta(hours=-5))
        alex = _Friend(alex_who, east, 7, ((morgan_who, _MORGAN.name),), 0.15)
        morgan = _Friend(
            morgan_who, timezone(timedelta(hours=1)), 21, ((alex_who, _ALEX.name),), 0.2
        )
        jordan = _Friend(
            (_JORDAN.name, _JORDAN.addresses[0]),
            timezone(timedelta(hours=-8)),
            7,
            ((alex_who, _ALEX.name),),
            0.1,
        )
        priya = _Friend(
            (_PRIYA.name, _PRIYA.addresses[0]), timezone(timedelta(hours=5, minutes=30)), 14
        )
        elena = _Friend(
            (_ELENA.name, _ELENA.addresses[0]),
            timezone(timedelta(hours=1)),
            7,
            ((theo_who, _THEO.name),),
            0.3,
        )
        theo = _Friend(theo_who, UTC, 12)
        for friend, person, last_from_sam in (
            (alex, _ALEX, False),
            (morgan, _MORGAN, True),
            (jordan, _JORDAN, True),
            (elena, _ELENA, False),
            (theo, _THEO, True),
        ):
            self.friendship(
                friend,
                person.name,
                begin=self.start,
                pinned=self.pinned[person.name],
                address=_always(person.addresses[0]),
                last_from_sam=last_from_sam,
            )
        # Priya: home and work address mixed, then only work after the home one goes quiet.
        home, work = _PRIYA.addresses
        home_last = self.now - timedelta(days=_PRIYA_HOME_LAST_DAYS) - _SLACK
        self.friendship(
            priya,
            _PRIYA.name,
            begin=self.start,
            pinned=home_last,
            address=lambda when: home if when >= home_last else self.rng.choice((home, work)),
            last_from_sam=False,
        )
        self.friendship(
            priya,
            _PRIYA.name,
            begin=home_last + _DAY,
            pinned=self.pinned[_PRIYA.name],
            address=lambda _when: work,
            last_from_sam=False,
        )

    def _work(self) -> None:
        dana: _Who = (_DANA.name, _DANA.addresses[0])
        riley: _Who = (_RILEY.name, _RILEY.addresses[0])
        tracked = {dana: _DANA.name, riley: _RILEY.name}
        day = self.start.replace(hour=0, minute=0, second=0) + _DAY
        while day < self.now - 2 * _DAY:
            if day.weekday() < 5 and self.rng.random() < 0.3:
                start = day + timedelta(hours=self.rng.uniform(8, 17))
                people: list[_Who] = []
                if self.rng.random() < 0.45:
                    people.append(dana)
                if self.rng.random() < 0.3:
                    people.append(riley)
                count = self.rng.choices((0, 1, 2, 3), weights=(3, 4, 2, 1))[0]
                people += self.rng.sample(_COLLEAGUES, count)
                if not people:
                    people.append(self.rng.choice(_COLLEAGUES))
                if self.rng.random() < 0.1:  # a wider thread, still under max_recipients
                    people += self.rng.sample(_STAFF, self.rng.randint(6, 10))
                limit = self.limit_for([tracked[p] for p in people if p in tracked])
                if start < limit:
                    self.work_thread(people, self.forward_times(start, limit))
            day += _DAY
        # The last mail with Dana and with Riley, at their pinned times.
        self.work_thread([dana], self.backward_times(self.pinned[_DANA.name]), last_from_sam=False)
        self.work_thread(
            [riley],
            self.backward_times(self.pinned[_RILEY.name], 3),
            last_from_sam=True,
        )

    def work_thread(
        self,
        people: Sequence[_Who],
        times: Sequence[datetime],
        *,
        last_from_sam: bool | None = None,
    ) -> None:
        """Add a work thread between Sam (work address) and ``people``; replies go to all."""
        group = (_SAM_WORK, *people)
        senders: list[tuple[_Who, timezone]] = []
        if last_from_sam is None:
            first_sam = self.rng.random() < 0.4
        else:
            first_sam = (len(times) % 2 == 1) == last_from_sam
        for index in range(len(times)):
            if (index % 2 == 0) == first_sam:
                senders.append((_SAM_WORK, _SAM_TZ))
            else:
                senders.append((self.rng.choice(people), _WORK_TZ))
        initiator = senders[0][0]

        def main(sender: _Who) -> tuple[_Who, ...]:
            if sender == initiator:
                return (people[0],) if sender == _SAM_WORK else (_SAM_WORK,)
            return (initiator,)

        self.thread(
            times=times,
            senders=senders,
            group=group,
            main=main,
            subject=self.rng.choice(_WORK_SUBJECTS),
            bodies=_WORK_BODIES,
            kind="work",
            category="work",
        )

    def _bulk(self) -> None:
        for sender, headers, gap, kind, subjects in _BULK:
            to = _SAM_WORK if kind == "work" else _SAM
            when = self.start + timedelta(days=self.rng.uniform(0, gap))
            while when < self.now - _HOUR:
                self.mails.append(
                    _Mail(
                        when=when,
                        category="bulk",
                        place=self.route(kind, False, when),
                        sender=sender,
                        to=(to,),
                        subject=self.rng.choice(subjects),
                        body="View this message in your browser.",
                        message_id=self.message_id(sender),
                        extra=headers,
                    )
                )
                when += timedelta(days=gap * self.rng.uniform(0.7, 1.3))

    def _mailing_list(self) -> None:
        """Trail Club posts: To the list, List-Id set; Jordan and Morgan post too, recently."""
        jordan: _Who = (_JORDAN.name, _JORDAN.addresses[0])
        morgan: _Who = (_MORGAN.name, _MORGAN.addresses[0])
        posts: list[tuple[datetime, _Who]] = []
        when = self.start + _DAY
        while when < self.now - 3 * _DAY:
            posts.append((self.daytime(when, _SAM_TZ), self.rng.choice(_LIST_MEMBERS)))
            when += timedelta(days=self.rng.uniform(4, 12))
        posts += [
            (self.now - timedelta(days=30, hours=5), jordan),
            (self.now - timedelta(days=25, hours=7), jordan),
            (self.now - timedelta(days=5, hours=3), morgan),
        ]
        posts.sort()
        previous: tuple[str, str] | None = None
        for when, sender in posts:
            mid = self.message_id(sender)
            if previous is not None and self.rng.random() < 0.5:
                subject, reply_to = f"Re: {previous[0].removeprefix('Re: ')}", previous[1]
            else:
                subject, reply_to = self.rng.choice(_LIST_SUBJECTS), None
            self.mails.append(
                _Mail(
                    when=when,
                    category="list",
                    place=self.route("personal", False, when),
                    sender=sender,
                    to=(_LIST,),
                    subject=subject,
                    body="See you at the trailhead at 8.",
                    message_id=mid,
                    in_reply_to=reply_to,
                    references=(reply_to,) if reply_to else (),
                    extra=(
                        ("List-Id", "Trail Club hikers <trailclub.lists.example.org>"),
                        ("List-Post", "<mailto:trailclub@lists.example.org>"),
                    ),
                )
            )
            previous = (subject, mid)

    def _one_way(self) -> None:
        """People who write to Sam directly and are never answered, plus Bcc blasts."""
        writers: tuple[tuple[_Who, _Who, int, str], ...] = (
            (("Jamie Fox", "jamie.fox@talent.example"), _SAM, 6, "An opportunity you might like"),
            (("Pat Morales", "pat.morales@hoa.example"), _SAM, 8, "HOA: notes from the meeting"),
            (("Chris Dalton", "chris.dalton@vendor.example"), _SAM_WORK, 5, "Following up"),
        )
        for sender, to, count, subject in writers:
            kind = "work" if to == _SAM_WORK else "personal"
            for index in range(count):
                when = self.daytime(self.start + timedelta(days=self.rng.uniform(5, 355)), _SAM_TZ)
                mid = (
                    None
                    if (sender[1].startswith("pat.") and index == 0)
                    else self.message_id(sender)
                )
                self.mails.append(
                    _Mail(
                        when=when,
                        category="one_way" if mid else "malformed",
                        place=self.route(kind, False, when),
                        sender=sender,
                        to=(to,),
                        subject=subject,
                        body="Happy to chat whenever suits you.",
                        message_id=mid,  # one of Pat's has no Message-ID at all
                    )
                )
        lou: _Who = ("Lou Bennett", "lou.bennett@community.example")
        for days in (300, 150, 40):
            when = self.now - timedelta(days=days, hours=4)
            self.mails.append(
                _Mail(
                    when=when,
                    category="bcc",
                    place=self.route("personal", False, when),
                    sender=lou,
                    to_raw="undisclosed-recipients:;",
                    subject="Community garden open day",
                    body="You are all invited, bring friends.",
                    message_id=self.message_id(lou),
                )
            )

    def _automatic(self) -> None:
        """The all-hands, Sam's big offsite note, Riley's out-of-office reply, and bounces."""
        colleagues = [(p.name, p.addresses[0]) for p in (_DANA, _RILEY)] + list(_COLLEAGUES)
        harper: _Who = ("Harper Quinn", "harper.quinn@work.example")
        all_hands_to = (_SAM_WORK, *colleagues, *_STAFF[:31])
        assert len(all_hands_to) == 40
        when = self.now - timedelta(days=20, hours=6)
        self.mails.append(
            _Mail(
                when=when,
                category="broadcast",
                place="inbox",
                sender=harper,
                tz=_WORK_TZ,
                to=all_hands_to,
                subject="All-hands: plans for next quarter",
                body="Slides and recording will be shared after the meeting.",
                message_id=self.message_id(harper),
            )
        )
        offsite_to = (*colleagues, *_STAFF[:16])
        assert len(offsite_to) == 24
        when = self.now - timedelta(days=12, hours=5)
        offsite_id = self.message_id(_SAM_WORK)
        self.mails.append(
            _Mail(
                when=when,
                category="broadcast",
                place="sent",
                sender=_SAM_WORK,
                tz=_SAM_TZ,
                to=offsite_to,
                subject="Team offsite plans",
                body="Please fill in the form by Friday.",
                message_id=offsite_id,
            )
        )
        riley: _Who = (_RILEY.name, _RILEY.addresses[0])
        self.mails.append(
            _Mail(
                when=when + timedelta(minutes=2),
                category="auto_reply",
                place="inbox",
                sender=riley,
                tz=_WORK_TZ,
                to=(_SAM_WORK,),
                subject="Automatic reply: Team offsite plans",
                body="I am out of the office with limited access to email.",
                message_id=self.message_id(riley),
                in_reply_to=offsite_id,
                references=(offsite_id,),
                extra=(("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All")),
            )
        )
        daemon: _Who = ("Mail Delivery System", "MAILER-DAEMON@mx.example.org")
        for days, rcpt in (
            (250, "alx.chen@example.com"),
            (110, "morgan.lee@oldmail.example"),
            (35, "jordan.blake@oldmail.example"),
        ):
            when = self.now - timedelta(days=days, hours=9)
            boundary = f"=_demo_report_{days}"
            body = (
                f"--{boundary}\n"
                "Content-Type: text/plain; charset=us-ascii\n\n"
                "Your message could not be delivered to one or more recipients.\n\n"
                f"--{boundary}\n"
                "Content-Type: message/delivery-status\n\n"
                "Reporting-MTA: dns; mx.example.org\n\n"
                f"Final-Recipient: rfc822; {rcpt}\n"
                "Action: failed\n"
                "Status: 5.1.1\n\n"
                f"--{boundary}--"
            )
            self.mails.append(
                _Mail(
                    when=when,
                    category="bounce",
                    place=self.route("personal", False, when),
                    sender=daemon,
                    to=(_SAM,),
                    subject="Undelivered Mail Returned to Sender",
                    body=body,
                    message_id=self.message_id(daemon),
                    content_type=(
                        f'multipart/report; report-type=delivery-status; boundary="{boundary}"'
                    ),
                    extra=(("Auto-Submitted", "auto-replied"),),
                )
            )

    def _junk_trash_drafts(self) -> None:
        for index in range(30):
            sender: _Who = ("Prize Center", f"winner{index}@prizes{index % 7}.example")
            when = self.start + timedelta(days=self.rng.uniform(1, 364))
            self.mails.append(
                _Mail(
                    when=when,
                    category="spam",
                    place="junk",
                    sender=sender,
                    to=(_SAM,),
                    subject=self.rng.choice(_SPAM_SUBJECTS),
                    body="Click here to claim your reward today.",
                    message_id=self.message_id(sender),
                )
            )
        quinn: _Who = ("Quinn Harlow", "quinn.harlow@example.net")
        for sender, days, subject in (
            (quinn, 30, "Hello from an old classmate"),
            (("Cityscape Digest", "digest@cityscape.example"), 70, "Your city this week"),
            (("Shopfront", "deals@shopfront.example"), 45, "Your basket misses you"),
        ):
            self.mails.append(
                _Mail(
                    when=self.now - timedelta(days=days, hours=3),
                    category="trash",
                    place="trash",
                    sender=sender,
                    to=(_SAM,),
                    subject=subject,
                    body="Deleted without reading.",
                    message_id=self.message_id(sender),
                    extra=(("Precedence", "bulk"),) if sender != quinn else (),
                )
            )
        jordan: _Who = (_JORDAN.name, _JORDAN.addresses[0])
        self.mails.append(
            _Mail(
                when=self.now - timedelta(days=5, hours=1),
                category="draft",
                place="drafts",
                sender=_SAM,
                tz=_SAM_TZ,
                to=(jordan,),
                subject="long time no talk",
                body="Hey, I keep meaning to write. How are you doing?",
                message_id=self.message_id(_SAM),
            )
        )

    def _malformed(self) -> None:
        alex: _Who = (_ALEX.name, _ALEX.addresses[0])
        morgan: _Who = (_MORGAN.name, _MORGAN.addresses[0])
        sam = formataddr(_SAM)

        def raw(lines: Sequence[str], eol: str = "\n", encoding: str = "utf-8") -> bytes:
            return "".join(line + eol for line in lines).encode(encoding)

        def mail(days: int, category: str, data: bytes, **kw: str) -> _Mail:
            return _Mail(
                when=self.now - timedelta(days=days, hours=6),
                category=category,
                place=kw.get("place", "inbox"),
                raw=data,
                also_in=kw.get("also_in"),
            )

        common = ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
        self.mails += [
            # No Date header: the connector must fall back to the delivery time (mtime).
            mail(
                20,
                "malformed",
                raw(
                    [
                        f"From: {formataddr(alex)}",
                        f"To: {sam}",
                        "Subject: photos from the weekend",
                        f"Message-ID: {self.message_id(alex)}",
                        *common,
                        "",
                        "The good ones are in the shared album.",
                    ]
                ),
            ),
            # A Date far in the future, from a one-way writer.
            mail(
                33,
                "malformed",
                raw(
                    [
                        "Date: Thu, 01 Jan 2099 09:00:00 +0000",
                        "From: Devon Park <devon@bikeshop.example>",
                        f"To: {sam}",
                        "Subject: Your bike is ready for pickup",
                        f"Message-ID: {self.message_id(('', 'devon@bikeshop.example'))}",
                        *common,
                        "",
                        "We close at six on weekdays.",
                    ]
                ),
            ),
            # Classic Mac line endings: CR only.
            mail(
                100,
                "malformed",
                raw(
                    [
                        f"Date: {format_datetime(self.now - timedelta(days=100, hours=6))}",
                        f"From: {formataddr(morgan)}",
                        f"To: {sam}",
                        "Subject: old laptop, old line endings",
                        f"Message-ID: {self.message_id(morgan)}",
                        *common,
                        "",
                        "Typed on the ancient machine, for fun.",
                    ],
                    eol="\r",
                ),
            ),
            # An encoded-word in a charset nobody knows (RFC 2047 allows any name).
            mail(
                40,
                "malformed",
                raw(
                    [
                        f"Date: {format_datetime(self.now - timedelta(days=40, hours=6))}",
                        "From: =?x-unknown-demo?Q?Jos=E9_Ram=EDrez?= <jose.ramirez@example.com>",
                        f"To: {sam}",
                        "Subject: question about the flat",
                        f"Message-ID: {self.message_id(('', 'jose.ramirez@example.com'))}",
                        *common,
                        "",
                        "Is the flat still available?",
                    ]
                ),
            ),
            # Raw Latin-1 bytes in a header, which are not valid UTF-8.
            mail(
                45,
                "malformed",
                raw(
                    [
                        f"Date: {format_datetime(self.now - timedelta(days=45, hours=6))}",
                        'From: "Renée Dubois" <renee.dubois@example.net>',
                        f"To: {sam}",
                        "Subject: choir rehearsal",
                        f"Message-ID: {self.message_id(('', 'renee.dubois@example.net'))}",
                        "MIME-Version: 1.0",
                        "Content-Type: text/plain; charset=iso-8859-1",
                        "",
                        "Rehearsal moved to Tuesday.",
                    ],
                    encoding="latin-1",
                ),
            ),
            # The same message (same Message-ID, same bytes) in INBOX and in .Archive.
            mail(
                30,
                "personal",
                raw(
                    [
                        f"Date: {format_datetime(self.now - timedelta(days=30, hours=6))}",
                        f"From: {formataddr(morgan)}",
                        f"To: {sam}",
                        "Subject: trip photos, finally",
                        f"Message-ID: {self.message_id(morgan)}",
                        *common,
                        "",
                        "Only took me a month.",
                    ]
                ),
                also_in="archive",
            ),
            # No header block at all: the first line is already body text.
            mail(70, "malformed", raw(["Hello Sam, this file lost its header block somewhere."])),
        ]


def _always(address: str) -> Callable[[datetime], str]:
    """Return an address chooser that always picks ``address``."""
    return lambda _when: address


def _address_list(people: Sequence[_Who]) -> str:
    rendered = [formataddr(who, charset="utf-8") for who in people]
    # Fold long lists (RFC 5322 §2.2.3) so no line comes near the 998-octet limit.
    return (",\n " if len(rendered) > 3 else ", ").join(rendered)


def _render(mail: _Mail) -> bytes:
    """Return the message as bytes with LF line endings (the Maildir convention)."""
    if mail.raw is not None:
        return mail.raw
    lines = [
        f"Date: {format_datetime(mail.when.astimezone(mail.tz))}",
        f"From: {formataddr(mail.sender, charset='utf-8')}",
    ]
    if mail.to_raw is not None:
        lines.append(f"To: {mail.to_raw}")
    elif mail.to:
        lines.append(f"To: {_address_list(mail.to)}")
    if mail.cc:
        lines.append(f"Cc: {_address_list(mail.cc)}")
    subject = mail.subject if mail.subject.isascii() else Header(mail.subject, "utf-8").encode()
    lines.append(f"Subject: {subject}")
    if mail.message_id is not None:
        lines.append(f"Message-ID: {mail.message_id}")
    if mail.in_reply_to is not None:
        lines.append(f"In-Reply-To: {mail.in_reply_to}")
    if mail.references:
        lines.append("References: " + "\n ".join(mail.references))
    lines += [f"{name}: {value}" for name, value in mail.extra]
    lines += ["MIME-Version: 1.0", f"Content-Type: {mail.content_type}"]
    if mail.content_type.startswith("text/"):
        lines.append("Content-Transfer-Encoding: 8bit")
    return ("\n".join(lines) + "\n\n" + mail.body + "\n").encode("utf-8")


def _write_maildir(root: Path, mails: Sequence[_Mail]) -> None:
    for folder, _flags in _FOLDERS.values():
        base = root if folder is None else root / folder
        for sub in ("cur", "new", "tmp"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        if folder is not None:
            (base / "maildirfolder").touch()
    for number, mail in enumerate(mails, start=1):
        if mail.place == "mbox":
            continue
        data = _render(mail)
        epoch = int(mail.when.timestamp())
        places = [mail.place] if mail.also_in is None else [mail.place, mail.also_in]
        for index, place in enumerate(places):
            name = f"{epoch}.{number}{'_' + str(index) if index else ''}.demo"
            if place == "new":
                path = root / "new" / name
            else:
                folder, flags = _FOLDERS[place]
                base = root if folder is None else root / folder
                path = base / "cur" / f"{name}:2,{flags}"
            path.write_bytes(data)
            os.utime(path, (epoch, epoch))


def _asctime(when: datetime) -> str:
    """``Mon Mar  3 10:00:00 2025`` in UTC, without depending on the process locale."""
    utc = when.astimezone(UTC)
    return (
        f"{_WEEKDAYS[utc.weekday()]} {_MONTHS[utc.month - 1]} {utc.day:2d} "
        f"{utc:%H:%M:%S} {utc.year}"
    )


def _write_mbox(path: Path, mails: Sequence[_Mail]) -> None:
    """Write an mboxrd file: separator lines, ``>From`` quoting, a blank line between messages."""
    chunks: list[bytes] = []
    for mail in mails:
        body = _FROM_LINE.sub(rb">\1", _render(mail))
        chunks.append(f"From {mail.sender[1]} {_asctime(mail.when)}\n".encode("ascii"))
        chunks.append(b"X-Mozilla-Status: 0001\nX-Mozilla-Status2: 00000000\n")
        chunks.append(body if body.endswith(b"\n") else body + b"\n")
        chunks.append(b"\n")
    path.write_bytes(b"".join(chunks))
    if mails:  # an archive file was last touched when its newest message arrived
        newest = int(max(mail.when for mail in mails).timestamp())
        os.utime(path, (newest, newest))
