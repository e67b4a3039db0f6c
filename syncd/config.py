"""The configuration file: one spec for types, defaults and documentation; every problem at once.

The spec below (:data:`SECTIONS` and :data:`SOURCE_TYPES`) is the single source of truth: the
validator walks it, ``config.example.toml`` must document every option in it (a test checks),
and unknown keys are errors with a "did you mean" so a typo never silently does nothing.

Load order of the file: ``-c PATH``, else ``$SYNCD_CONFIG``, else
``$XDG_CONFIG_HOME/syncd/config.toml``.
"""

from __future__ import annotations

import contextlib
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from syncd.addresses import normalize_address
from syncd.durations import parse_duration
from syncd.errors import ConfigError, ConfigProblem
from syncd.paths import default_state_dir, expand

SOURCE_NAME = re.compile(r"^[a-z0-9_-]+$")
_CLOCK_RANGE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


class _Invalid(Exception):
    """A value that does not fit its option; the message is the user-facing reason."""


# --- value kinds -------------------------------------------------------------------------------


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"must be a string, not {_type_name(value)}")
    return value


def _nonempty_string(value: Any) -> str:
    text = _string(value)
    if not text.strip():
        raise _Invalid("must not be empty")
    return text


def _path(value: Any) -> str:
    return str(expand(_nonempty_string(value)))


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"must be true or false, not {_type_name(value)}")
    return value


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f"must be a whole number, not {_type_name(value)}")
    if value < 1:
        raise _Invalid("must be at least 1")
    return value


def _non_negative_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f"must be a whole number, not {_type_name(value)}")
    if value < 0:
        raise _Invalid("must not be negative")
    return value


def _duration(value: Any) -> timedelta:
    try:
        return parse_duration(_string(value))
    except ValueError as error:
        raise _Invalid(str(error)) from None


def _string_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        raise _Invalid(f'must be a list of strings, e.g. ["{value}"]')
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Invalid("must be a list of strings")
    return tuple(value)


def _address_list(value: Any) -> tuple[str, ...]:
    addresses = []
    for item in _string_list(value):
        normalized = normalize_address(item)
        if normalized is None:
            raise _Invalid(f"{item!r} is not an e-mail address")
        addresses.append(normalized)
    return tuple(addresses)


def _pattern_list(value: Any) -> tuple[str, ...]:
    patterns = []
    for item in _string_list(value):
        text = item.strip().lower()
        if not text or (not text.startswith("@") and "@" not in text and "*" not in text):
            raise _Invalid(f"{item!r} is not an address, an @domain or a glob like *@news.*")
        patterns.append(text)
    return tuple(patterns)


def _timezone(value: Any) -> ZoneInfo:
    name = _nonempty_string(value)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: "Europe" is a directory of the tz database, a 300-letter name too long.
        raise _Invalid(f"{name!r} is not a time zone name like Europe/Berlin") from None


def _clock_range(value: Any) -> str:
    text = _string(value).replace(" ", "")
    if not _CLOCK_RANGE.match(text):
        raise _Invalid(f"{value!r} is not a range of times like 22:00-08:00")
    return text


def _port(value: Any) -> int:
    number = _positive_int(value)
    if number > 65535:
        raise _Invalid("must be a port number from 1 to 65535")
    return number


def _url(value: Any) -> str:
    text = _nonempty_string(value).strip()
    if not re.match(r"^https?://[^/\s]+", text):
        raise _Invalid(f"{text!r} is not an http(s) URL")
    return text


def _fingerprint(value: Any) -> str:
    text = _nonempty_string(value).replace(":", "").replace(" ", "").lower()
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise _Invalid("must be a SHA-256 fingerprint: 64 hex digits (colons allowed)")
    return text


def _choice(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        text = _string(value)
        if text not in choices:
            hint = _did_you_mean(text, choices)
            raise _Invalid(f"must be one of {', '.join(choices)}, not {text!r}{hint}")
        return text

    return check


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


def _did_you_mean(word: str, candidates: Sequence[str]) -> str:
    import difflib  # only on a mistake; every command loads the config

    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --- the spec -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Option:
    """One key of the config file: how to check it, its default, and what it means."""

    check: Callable[[Any], Any]
    default: Any = None
    doc: str = ""
    required: bool = False


MAIL_EVERY = "15m"
IMAP_OAUTH_PROVIDERS = ("microsoft", "google")
CALENDAR_EVERY = "30m"

SECTIONS: Mapping[str, Mapping[str, Option]] = MappingProxyType({
    "general": {
        "state_dir": Option(_path, None,
                            "where the database lives (default $XDG_STATE_HOME/syncd)"),
        "timezone": Option(_timezone, None, "time zone for quiet hours and floating times "
                           "(default: the system's)"),
        "auto_track": Option(_non_negative_int, 0, "track this many of the strongest alive "
                             "ties by themselves, at their inferred rhythm (syncd suggest "
                             "shows them); syncd untrack keeps someone out for good"),
    },
    "me": {
        "addresses": Option(_address_list, (), "my own addresses; From addresses of mail in "
                            "Sent folders are added automatically"),
    },
    "rules": {
        "max_recipients": Option(_positive_int, 20, "mail with more counterparts than this "
                                 "(From, To, Cc and Bcc other than me) never counts"),
        "max_attendees": Option(_positive_int, 10, "meetings with more attendees than this "
                                "(other than me) never count"),
        "count_incoming": Option(_boolean, True, "whether mail sent to me counts as contact "
                                 "with its sender (only when I am in To or Cc)"),
        "ignore": Option(_pattern_list, (), "addresses, @domains or globs that never count; "
                         "beats everything"),
        "always": Option(_pattern_list, (), "addresses, @domains or globs that always count, "
                         "whatever the bulk/list heuristics say"),
    },
    "notify": {
        "backend": Option(_choice("desktop", "command", "log"), "desktop",
                          "how alerts reach you: desktop, command or log"),
        "command": Option(_nonempty_string, None, "for backend = command: the program to run"),
        "quiet_hours": Option(_clock_range, None, "no alerts between these local times, "
                              "e.g. 22:00-08:00"),
        "max_per_day": Option(_positive_int, 3, "at most this many alerts a day"),
        "renotify_after": Option(_duration, timedelta(days=7), "remind again about a quiet "
                                 "tie after this long"),
        "digest_over": Option(_positive_int, 3, "more alerts than this at once become one digest"),
        "birthdays": Option(_duration, None, "notify this long before a tracked person's "
                            "birthday, e.g. 3d (off when unset)"),
    },
    "report": {
        "path": Option(_path, None, "the daemon rewrites this HTML report after every sync, "
                       "and a notification's Open button shows it (off when unset)"),
    },
})

_COMMON_SOURCE_OPTIONS: Mapping[str, Option] = {
    "type": Option(_nonempty_string, None, "the kind of source", required=True),
    "every": Option(_duration, None, "how often the daemon syncs it (mail 15m, calendars 30m)"),
    "enabled": Option(_boolean, True, "set to false to keep a source configured but not synced"),
}

#: Every Google source (Gmail, Calendar, Contacts) takes these (connectors/google/_auth.py).
_GOOGLE_OPTIONS: Mapping[str, Option] = {
    "client_secrets": Option(_path, None, "the client_secret.json of your own \"Desktop app\" "
                             "OAuth client (see the README); syncd embeds none", required=True),
    "account": Option(_nonempty_string, None, "the Google account (e.g. me@gmail.com); sources "
                      "with the same account share one authorization"),
    "api_endpoint": Option(_url, None, "for Google-compatible test servers and proxies only: "
                           "the root URL used instead of Google's"),
}

SOURCE_TYPES: Mapping[str, Mapping[str, Option]] = MappingProxyType({
    "maildir": {
        "path": Option(_path, None, "a Maildir root (mbsync/offlineimap tree or Maildir++)",
                       required=True),
        "sent": Option(_string_list, (), "folder names that hold mail I sent, besides the "
                       "usual names (Sent, Sent Items, ...)"),
        "folders": Option(_string_list, ("*",), "globs of folders to read"),
        "exclude_folders": Option(_string_list, (), "globs of folders to skip"),
    },
    "mbox": {
        "path": Option(_path, None, "an mbox file or a directory of them", required=True),
        "sent": Option(_string_list, (), "file names that hold mail I sent, besides the usual "
                       "names; Google Takeout labels are read from X-Gmail-Labels"),
    },
    "imap": {
        "host": Option(_nonempty_string, None, "the IMAP server (required, except with "
                       "oauth_provider, which knows it)"),
        "port": Option(_port, None, "default 993 (tls = implicit) or 143"),
        "username": Option(_nonempty_string, None, "the login name", required=True),
        "tls": Option(_choice("implicit", "starttls", "none"), "implicit",
                      "implicit (port 993), starttls (required, never a plaintext fallback) or "
                      "none (only for a server on this machine)"),
        "password_command": Option(_nonempty_string, None, "a command that prints the password "
                                   "(e.g. pass show mail/work); default: the keyring, set with "
                                   "syncd auth NAME"),
        "folders": Option(_string_list, ("*",), "globs of folders to read"),
        "exclude_folders": Option(_string_list, (), "globs of folders to skip; junk, trash "
                                  "and drafts are skipped anyway"),
        "ca_file": Option(_path, None, "a PEM file of CA certificates to trust for this server"),
        "fingerprint": Option(_fingerprint, None, "the server certificate's SHA-256 "
                              "fingerprint (hex), to pin a self-signed certificate"),
        "timeout": Option(_duration, timedelta(seconds=60), "socket timeout"),
        "idle": Option(_boolean, True, "the daemon waits with IMAP IDLE (RFC 2177) on INBOX for "
                       "near-real-time updates"),
        # OAuth 2.0 (SASL XOAUTH2 / OAUTHBEARER, RFC 7628): see _imap_oauth_checks.
        "auth": Option(_choice("password", "oauth2"), None, "password (the default) or oauth2 "
                       "(the default when token_command or oauth_provider is set)"),
        "token_command": Option(_nonempty_string, None, "with auth = oauth2: a command that "
                                "prints a fresh access token (oama, mutt_oauth2.py, ...); run "
                                "for every connection"),
        "oauth_provider": Option(_choice(*IMAP_OAUTH_PROVIDERS), None, "with auth = oauth2: "
                                 "microsoft or google, whose sign-in syncd runs itself at "
                                 "syncd auth NAME"),
        "client_id": Option(_nonempty_string, None, "oauth_provider = microsoft: the "
                            "Application (client) ID of your own app registration"),
        "tenant": Option(_nonempty_string, "common", "oauth_provider = microsoft: your "
                         "directory (tenant) ID or domain; common allows work and personal "
                         "accounts"),
        "oauth_authority": Option(_url, "https://login.microsoftonline.com",
                                  "oauth_provider = microsoft: the sign-in host (national "
                                  "clouds: https://login.microsoftonline.us, ...)"),
        "client_secrets": Option(_path, None, "oauth_provider = google: the client_secret "
                                 "JSON of your own Desktop-app OAuth client"),
    },
    "caldav": {
        "url": Option(_url, None, "the CalDAV server or calendar home URL", required=True),
        "username": Option(_nonempty_string, None, "the login name", required=True),
        "password_command": Option(_nonempty_string, None, "a command that prints the password; "
                                   "default: the keyring, set with syncd auth NAME"),
        "calendars": Option(_string_list, ("*",), "calendar names or globs to read"),
        "history": Option(_duration, timedelta(days=3 * 365), "how far back meetings count"),
        "lookahead": Option(_duration, timedelta(days=30), "how far ahead upcoming meetings "
                            "are read"),
        "ca_file": Option(_path, None, "a PEM file of CA certificates to trust for this server"),
    },
    "carddav": {
        "url": Option(_url, None, "the CardDAV server or address-book home URL",
                      required=True),
        "username": Option(_nonempty_string, None, "the login name", required=True),
        "password_command": Option(_nonempty_string, None, "a command that prints the password; "
                                   "default: the keyring, set with syncd auth NAME"),
        "address_books": Option(_string_list, ("*",), "address book names or globs to read"),
        "ca_file": Option(_path, None, "a PEM file of CA certificates to trust for this server"),
    },
    "ics": {
        "path": Option(_path, None, "an .ics file, a directory of them, or a glob"),
        "url": Option(_url, None, "an https calendar subscription (fetched with ETag)"),
        "history": Option(_duration, timedelta(days=3 * 365), "how far back meetings count"),
        "lookahead": Option(_duration, timedelta(days=30), "how far ahead upcoming meetings "
                            "are read"),
    },
    "gmail": {
        **_GOOGLE_OPTIONS,
        "exclude_labels": Option(_string_list, ("CATEGORY_PROMOTIONS", "CATEGORY_SOCIAL",
                                                "CATEGORY_UPDATES", "CATEGORY_FORUMS"),
                                 "Gmail labels (ids or names) whose messages are not read "
                                 "(SPAM, TRASH and DRAFT never are); [] reads every category"),
        "quota_units_per_second": Option(_non_negative_int, 250, "client-side rate limit in "
                                         "Gmail quota units per second (a message costs 5; "
                                         "Google allows 250 per user); 0 turns it off"),
    },
    "google_calendar": {
        **_GOOGLE_OPTIONS,
        "calendars": Option(_string_list, ("primary",), "calendar ids, names or globs to read "
                            "(primary is your main calendar)"),
        "history": Option(_duration, timedelta(days=3 * 365), "how far back meetings count"),
        "lookahead": Option(_duration, timedelta(days=30), "how far ahead upcoming meetings "
                            "are read"),
    },
    "google_contacts": {
        **_GOOGLE_OPTIONS,
    },
})

_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

#: Per provider: the IMAP host, so a source needs no host, port or tls (port 993, implicit TLS
#: are the defaults anyway). Microsoft: https://learn.microsoft.com/exchange/client-developer/
#: legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth;
#: Google: https://developers.google.com/gmail/imap/imap-smtp.
IMAP_OAUTH_HOSTS: Mapping[str, str] = MappingProxyType({
    "microsoft": "outlook.office365.com",
    "google": "imap.gmail.com",
})
#: What each provider needs besides username, and the keys only it uses.
_PROVIDER_NEEDS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "microsoft": ("client_id", "the Application (client) ID of your app registration (see "
                  "the README: IMAP with OAuth 2.0)"),
    "google": ("client_secrets", "the client_secret JSON file of your Desktop-app OAuth "
               "client (see the README: IMAP with OAuth 2.0)"),
})


def _imap_oauth_checks(options: dict[str, Any]) -> list[tuple[str, str]]:
    """Fill ``auth`` and the provider's host into ``options``; return the problems found.

    ``auth`` defaults to oauth2 when ``token_command`` or ``oauth_provider`` is set, so a
    Microsoft source is four lines (type, username, oauth_provider, client_id).
    """
    problems = []
    command, provider = options.get("token_command"), options.get("oauth_provider")
    if options.get("auth") is None:
        options["auth"] = "oauth2" if command or provider else "password"
    if options["auth"] == "oauth2":
        if not command and not provider:
            problems.append(("auth", 'auth = "oauth2" needs token_command (a command that '
                             'prints an access token) or oauth_provider ("microsoft" or '
                             '"google"); set one of them'))
        if command and provider:
            problems.append(("token_command", "set token_command or oauth_provider, not both"))
        if options.get("password_command"):
            problems.append(("password_command", 'is not used with auth = "oauth2"; remove '
                             "it, or set token_command to a command that prints a token"))
    else:
        for key in ("token_command", "oauth_provider"):
            if options.get(key):
                problems.append((key, 'is used only with auth = "oauth2"; set that, or '
                                 "remove this key"))
    if provider:
        needed, what = _PROVIDER_NEEDS[provider]
        if not options.get(needed):
            problems.append((needed, f'is required with oauth_provider = "{provider}": {what}'))
        if options.get("host") is None:
            options["host"] = IMAP_OAUTH_HOSTS[provider]
    for other, (key, _what) in _PROVIDER_NEEDS.items():
        if options.get(key) and provider != other:
            problems.append((key, f'is used only with oauth_provider = "{other}"'))
    if options.get("host") is None:
        problems.append(("host", "is required"))
    return problems


def _source_cross_checks(source_type: str, options: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return (key, problem) pairs for rules that involve more than one option."""
    problems = []
    if source_type == "imap" and isinstance(options, dict):
        problems.extend(_imap_oauth_checks(options))
    if source_type == "imap" and options.get("tls") == "none":
        host = str(options.get("host") or "")
        secret = "access token" if options.get("auth") == "oauth2" else "password"
        if host not in _LOOPBACK_HOSTS and not host.startswith("127."):
            problems.append(("tls", f'tls = "none" sends your {secret} in clear text: it is '
                             "allowed only for a server on this machine; use implicit or "
                             "starttls"))
    if source_type == "ics":
        if options.get("path") is None and options.get("url") is None:
            problems.append(("path", "set path (a file, directory or glob) or url"))
        elif options.get("path") is not None and options.get("url") is not None:
            problems.append(("url", "set path or url, not both"))
    return problems

MAIL_TYPES = frozenset({"maildir", "mbox", "imap", "gmail"})

PERSON_KEYS: Mapping[str, Option] = MappingProxyType({
    "name": Option(_nonempty_string, None, "how the person is shown", required=True),
    "addresses": Option(_address_list, (), "their addresses (all count as the same person)",
                        required=True),
    "tier": Option(_nonempty_string, None, "a name from [tiers]"),
    "every": Option(_duration, None, "their own cadence, beats the tier"),
})


# --- the validated result ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """One ``[sources.NAME]`` table, checked and with defaults filled in."""

    name: str
    type: str
    every: timedelta
    enabled: bool
    options: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class PersonConfig:
    """One ``[[people]]`` entry."""

    name: str
    addresses: tuple[str, ...]
    tier: str | None = None
    every: timedelta | None = None


@dataclass(frozen=True, slots=True)
class RulesConfig:
    """``[rules]``: what counts as contact."""

    max_recipients: int = 20
    max_attendees: int = 10
    count_incoming: bool = True
    ignore: tuple[str, ...] = ()
    always: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    """``[notify]``: how and when alerts go out."""

    backend: str = "desktop"
    command: str | None = None
    quiet_hours: str | None = None
    max_per_day: int = 3
    renotify_after: timedelta = timedelta(days=7)
    digest_over: int = 3
    #: How long before a tracked person's birthday to notify (None: never).
    birthdays: timedelta | None = None


@dataclass(frozen=True, slots=True)
class ReportConfig:
    """``[report]``: the offline HTML report the daemon keeps fresh."""

    path: Path | None = None


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration."""

    state_dir: Path
    timezone: ZoneInfo
    me: tuple[str, ...] = ()
    sources: Mapping[str, SourceConfig] = field(default_factory=dict)
    rules: RulesConfig = field(default_factory=RulesConfig)
    tiers: Mapping[str, timedelta] = field(default_factory=dict)
    #: ``[tiers.map]``: address-book category (vCard CATEGORIES, Google group, "starred")
    #: -> tier name from ``[tiers]``.
    tier_map: Mapping[str, str] = field(default_factory=dict)
    people: tuple[PersonConfig, ...] = ()
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    file: Path | None = None
    auto_track: int = 0


# --- validation ----------------------------------------------------------------------------------


_SECRET_KEYS = frozenset({"password", "pass", "passwd", "secret", "token", "access_token",
                          "refresh_token"})


class _Collector:
    def __init__(self) -> None:
        self.problems: list[ConfigProblem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(ConfigProblem(path, message))

    def table(self, path: str, value: Any, spec: Mapping[str, Option]) -> dict[str, Any]:
        """Check ``value`` against ``spec``; return checked values with defaults filled in."""
        result: dict[str, Any] = {}
        is_table = isinstance(value, dict)
        if not is_table:
            self.add(path, f"must be a table, not {_type_name(value)}")
            value = {}
        for key in value:
            if key in _SECRET_KEYS and "password_command" in spec:
                # Never echo the value, and say where secrets belong instead.
                source = path.rpartition(".")[2]
                self.add(_join(path, key), "passwords never go in the config file: set "
                         f"password_command, or run: syncd auth {source}")
            elif key not in spec:
                self.add(_join(path, key), "unknown key" + _did_you_mean(key, list(spec)))
        for key, option in spec.items():
            if key in value:
                try:
                    result[key] = option.check(value[key])
                except _Invalid as reason:
                    self.add(_join(path, key), str(reason))
            elif option.required:
                if is_table:  # "must be a table" already says it all
                    self.add(_join(path, key), "is required")
            else:
                result[key] = option.default
        return result


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def system_timezone(environ: Mapping[str, str] = os.environ) -> ZoneInfo:
    """Return the machine's time zone (``$TZ``, ``/etc/timezone``, ``/etc/localtime``), else UTC."""
    candidates = [environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    try:
        target = os.readlink("/etc/localtime")
        candidates.append(target.split("zoneinfo/", 1)[-1])
    except OSError:
        pass
    for name in candidates:
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                continue
    return ZoneInfo("UTC")


def parse_config(
    data: Mapping[str, Any], *, file: Path | None = None, environ: Mapping[str, str] = os.environ
) -> Config:
    """Validate a parsed TOML document and return the :class:`Config`.

    Raise :class:`ConfigError` listing every problem, each with its key path.
    """
    found = _Collector()
    known_sections = [*SECTIONS, "sources", "tiers", "people"]
    for key in data:
        if key not in known_sections:
            found.add(key, "unknown section" + _did_you_mean(key, known_sections))
    checked = {name: found.table(name, data.get(name, {}), spec)
               for name, spec in SECTIONS.items()}

    tiers: dict[str, timedelta] = {}
    raw_tiers = data.get("tiers", {})
    raw_map: Any = {}
    if not isinstance(raw_tiers, dict):
        found.add("tiers", "must be a table of name = duration")
    else:
        for tier_name, value in raw_tiers.items():
            if tier_name == "map":
                raw_map = value
                continue
            try:
                tiers[tier_name] = _duration(value)
            except _Invalid as reason:
                found.add(f"tiers.{tier_name}", str(reason))

    tier_map = _tier_map(found, raw_map, tiers)
    sources = _sources(found, data.get("sources", {}))
    people = _people(found, data.get("people", []), tiers)

    if found.problems:
        raise ConfigError(found.problems, str(file) if file else None)
    general = checked["general"]
    return Config(
        state_dir=(Path(general["state_dir"]) if general["state_dir"]
                   else default_state_dir(environ)),
        timezone=general["timezone"] or system_timezone(environ),
        me=checked["me"]["addresses"],
        sources=MappingProxyType(sources),
        rules=RulesConfig(**checked["rules"]),
        tiers=MappingProxyType(tiers),
        tier_map=MappingProxyType(tier_map),
        people=tuple(people),
        notify=NotifyConfig(**checked["notify"]),
        report=ReportConfig(Path(checked["report"]["path"]) if checked["report"]["path"]
                            else None),
        file=file,
        auto_track=general["auto_track"],
    )


def _tier_map(found: _Collector, raw: Any, tiers: Mapping[str, timedelta]) -> dict[str, str]:
    """Check ``[tiers.map]``: category = tier name, every tier one of ``[tiers]``."""
    if not isinstance(raw, dict):
        found.add("tiers.map", 'must be a table of category = tier, e.g. "Close friends" = '
                  '"close"')
        return {}
    mapping: dict[str, str] = {}
    known = ", ".join(tiers) or "none defined"
    for category, tier in raw.items():
        path = f'tiers.map."{category}"'
        if not isinstance(tier, str):
            found.add(path, f"must be a tier name, not {_type_name(tier)}")
        elif tier not in tiers:
            found.add(path, f"no tier named {tier!r} in [tiers] ({known})"
                      + _did_you_mean(tier, list(tiers)))
        else:
            mapping[category] = tier
    return mapping


def _sources(found: _Collector, raw: Any) -> dict[str, SourceConfig]:
    sources: dict[str, SourceConfig] = {}
    if not isinstance(raw, dict):
        found.add("sources", "must be a table of [sources.NAME] tables")
        return sources
    for name, table in raw.items():
        path = f"sources.{name}"
        if not SOURCE_NAME.match(name):
            found.add(path, "a source name may hold only a-z, 0-9, _ and -")
        if not isinstance(table, dict):
            found.add(path, f"must be a table, not {_type_name(table)}")
            continue
        source_type = table.get("type")
        if not isinstance(source_type, str) or source_type not in SOURCE_TYPES:
            if source_type is None:
                found.add(f"{path}.type", f"is required: one of {', '.join(SOURCE_TYPES)}")
            else:
                found.add(f"{path}.type", f"must be one of {', '.join(SOURCE_TYPES)}, not "
                          f"{source_type!r}" + _did_you_mean(str(source_type), list(SOURCE_TYPES)))
            continue
        spec = {**_COMMON_SOURCE_OPTIONS, **SOURCE_TYPES[source_type]}
        before = len(found.problems)
        options = found.table(path, table, spec)
        for key, problem in _source_cross_checks(source_type, options):
            found.add(f"{path}.{key}", problem)
        if len(found.problems) > before:
            # A key that failed its check is missing from ``options``: building the source
            # from it would raise KeyError instead of reporting the problem already found.
            continue
        every = options.pop("every") or parse_duration(
            MAIL_EVERY if source_type in MAIL_TYPES else CALENDAR_EVERY)
        options.pop("type")
        enabled = options.pop("enabled")
        sources[name] = SourceConfig(name, source_type, every, enabled, MappingProxyType(options))
    return sources


def _people(found: _Collector, raw: Any, tiers: Mapping[str, timedelta]) -> list[PersonConfig]:
    people: list[PersonConfig] = []
    if not isinstance(raw, list):
        found.add("people", "must be an array of tables: write [[people]] for each person")
        return people
    owner: dict[str, str] = {}
    for index, table in enumerate(raw):
        path = f"people[{index}]"
        values = found.table(path, table, PERSON_KEYS)
        if values.get("tier") is not None and values["tier"] not in tiers:
            known = ", ".join(tiers) or "none defined"
            found.add(f"{path}.tier", f"no tier named {values['tier']!r} in [tiers] ({known})"
                      + _did_you_mean(values["tier"], list(tiers)))
        if values.get("tier") is not None and values.get("every") is not None:
            found.add(path, "set tier or every, not both")
        for address in values.get("addresses", ()):
            if address in owner:
                found.add(f"{path}.addresses", f"{address} already belongs to {owner[address]}")
            owner[address] = values.get("name") or path
        if "name" in values and values.get("addresses"):
            people.append(PersonConfig(values["name"], values["addresses"], values.get("tier"),
                                       values.get("every")))
    return people


def _shell_word(text: str) -> str:
    import shlex

    return shlex.quote(text)


def load_config(path: Path | None = None, *, environ: Mapping[str, str] = os.environ) -> Config:
    """Read and validate the config file at ``path`` (or the default location).

    Raise :class:`ConfigError` when the file is missing, not TOML, or invalid.
    """
    from syncd.paths import default_config_path

    file = path or default_config_path(environ)
    try:
        text = file.read_bytes().decode("utf-8")
    except FileNotFoundError:
        # The hint repeats -c: "syncd init" alone would write the default file instead.
        init = f"syncd -c {_shell_word(str(path))} init" if path else "syncd init"
        raise ConfigError([ConfigProblem("", f"no configuration file at {file}; run: {init}")],
                          str(file)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([ConfigProblem("", f"cannot read it: {error}")], str(file)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([ConfigProblem("", f"not valid TOML: {error}")], str(file)) from None
    return parse_config(data, file=file, environ=environ)


def line_of_person(file: Path | None, addresses: Sequence[str]) -> int | None:
    """Return the line of ``file`` where the ``[[people]]`` entry holding one of ``addresses``
    sets its name (or begins), or None when no entry holds them or the file cannot be read."""
    if file is None:
        return None
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    wanted = [address.lower() for address in addresses]
    block_start = name_line = None
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            block_start = number if stripped.replace(" ", "") == "[[people]]" else None
            name_line = None
            continue
        if block_start is None:
            continue
        if re.match(r"name\s*=", stripped):
            name_line = number
        if any(f'"{address}"' in line.lower() or f"'{address}'" in line.lower()
               for address in wanted):
            return name_line or block_start
    return None


def line_of_ignore_pattern(file: Path | None, pattern: str) -> int | None:
    """Return the line of ``file`` that lists ``pattern`` (for "edit it there"), or None."""
    if file is None:
        return None
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for number, line in enumerate(lines, start=1):
        if f'"{pattern}"' in line.lower() or f"'{pattern}'" in line.lower():
            return number
    return None


def path_warnings(config: Config) -> list[ConfigProblem]:
    """Return a warning for every local source whose ``path`` finds nothing on this machine.

    Not errors: a mount or a sync tool may create the path later; but ``syncd sync`` fails
    for such a source until it exists.
    """
    import glob

    warnings = []
    for source in config.sources.values():
        path = source.options.get("path")
        if source.type not in ("maildir", "mbox", "ics") or not isinstance(path, str):
            continue
        key = f"sources.{source.name}.path"
        if source.type == "ics" and any(character in path for character in "*?["):
            if not any(os.path.isfile(found) for found in glob.iglob(path, recursive=True)):
                warnings.append(ConfigProblem(key, f"{path} matches no file yet; syncd sync "
                                              "will fail for this source until it does"))
        elif not os.path.exists(path):
            warnings.append(ConfigProblem(key, f"{path} does not exist; syncd sync will fail "
                                          "for this source until it does"))
    return warnings
