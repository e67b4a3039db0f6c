"""The command line: the only place that prints or turns errors into exit codes.

Exit codes (DESIGN §6): 0 ok, 1 runtime failure, 2 usage, 78 configuration.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any, NoReturn

import click

from syncd import __version__
from syncd.errors import SyncdError

log = logging.getLogger("syncd")


class Context:
    """What every command shares: where the config is, how loud to be, and the open app."""

    def __init__(self, config_path: Path | None, verbose: int) -> None:
        self.config_path = config_path
        self.verbose = verbose
        self._app: Any = None

    def config(self) -> Any:
        from syncd.config import load_config

        return load_config(self.config_path)

    def app(self) -> Any:
        if self._app is None:
            from syncd.app import App

            self._app = App.open(self.config())
        return self._app

    def close(self) -> None:
        if self._app is not None:
            self._app.close()


pass_context = click.make_pass_decorator(Context)

PERSON_HELP = ("PERSON is an address, a name, the start of exactly one person's name or "
               "address (a first name will do), or #ID (the id that syncd show prints).")


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def _is_tty() -> bool:
    return sys.stdout.isatty()


def _print_table(title: str | None, headers: Sequence[str],
                 rows: Sequence[Sequence[str]]) -> None:
    """Print a rich table on a terminal, tab-separated lines in a pipe."""
    if _is_tty():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title)
        for header in headers:
            table.add_column(header)
        for row in rows:
            table.add_row(*row)
        Console().print(table)
    else:
        from syncd.render import plain_table

        click.echo(plain_table(headers, rows))


#: Colours of the style names syncd.strip uses: named ANSI colours, which every terminal
#: palette (light or dark, 16 colours or more) shows legibly; the glyphs carry the levels.
_PICTURE_STYLES = {
    "shade0": "dim", "shade1": "green", "shade2": "green", "shade3": "bright_green",
    "shade4": "bold bright_green", "caption": "bold", "dim": "dim", "mark": "cyan",
    "met": "magenta",
    "bar": "blue", "over": "bold red", "within": "green",
}


def _print_picture(picture: Any) -> None:
    """Print a :class:`syncd.strip.Picture`: coloured on a terminal, plain in a pipe or with
    ``NO_COLOR`` set (https://no-color.org: any non-empty value)."""
    if not _is_tty() or os.environ.get("NO_COLOR"):
        click.echo(picture.plain())
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False)
    for line in picture.lines:
        text = Text(no_wrap=True, overflow="crop")
        for part, style in line:
            text.append(part, style=_PICTURE_STYLES.get(style or "", ""))
        console.print(text)


class _Group(click.Group):
    """A command group whose ``--help`` wraps each command's summary instead of cutting it
    off at the terminal width ("asks once, checks...")."""

    group_class = type  # subgroups (config, service, ...) list their commands the same way

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=1_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=PERSON_HELP)
@click.option("-c", "--config", "config_path", type=click.Path(path_type=Path),
              help="Config file (default: $SYNCD_CONFIG, else "
                   "$XDG_CONFIG_HOME/syncd/config.toml).")
@click.option("-v", "--verbose", count=True, help="More detail; -v shows tracebacks.")
@click.version_option(__version__, prog_name="syncd")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: int) -> None:
    """syncd: tells you when a tie that matters goes quiet. Nothing leaves the machine."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    context = Context(config_path, verbose)
    ctx.obj = context
    ctx.call_on_close(context.close)


# --- config ---------------------------------------------------------------------------------------


@cli.command()
@pass_context
def init(context: Context) -> None:
    """Write a commented starter config (never overwrites)."""
    from importlib.resources import files

    from syncd.paths import default_config_path, write_private_file

    path = context.config_path or default_config_path()
    if path.exists():
        raise click.ClickException(f"{path} already exists; edit it, or pass -c for another file")
    write_private_file(path, files("syncd").joinpath("starter_config.toml").read_text("utf-8"))
    click.echo(f"wrote {path}; edit it, then run: syncd config check && syncd sync")


@cli.group(name="config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command(name="check")
@pass_context
def config_check(context: Context) -> None:
    """Validate the config; list every problem with its key path."""
    from syncd.config import path_warnings
    from syncd.render import plural

    config = context.config()
    for warning in path_warnings(config):
        click.echo(f"warning: {warning}", err=True)
    sources = ", ".join(f"{s.name} ({s.type})" for s in config.sources.values()) or "none"
    # Only [[people]] is in the file: people tracked with syncd track live in the state
    # directory, so this names what it counts (syncd people lists them all).
    click.echo(f"{config.file}: ok; sources: {sources}; "
               f"{plural(len(config.people), 'person', 'people')} in [[people]]")


@config_group.command(name="example")
def config_example() -> None:
    """Print the example config, which documents every option."""
    from importlib.resources import files

    click.echo(files("syncd").joinpath("config.example.toml").read_text("utf-8"), nl=False)


@config_group.command(name="paths")
@pass_context
def config_paths(context: Context) -> None:
    """Print where syncd keeps things: config, state, journal, log, unit file."""
    from syncd.choices import JOURNAL_NAME
    from syncd.config import load_config
    from syncd.errors import ConfigError
    from syncd.paths import default_config_path, default_state_dir
    from syncd.service import UNIT_NAME, user_unit_dir
    from syncd.store import DATABASE_NAME

    config_file = (context.config_path or default_config_path()).absolute()
    try:
        state_dir = load_config(context.config_path).state_dir
        note = ""
    except ConfigError:
        state_dir, note = default_state_dir(), " (the default: the config cannot be read)"
    unit = user_unit_dir() / UNIT_NAME
    rows = [
        ("config file", f"{config_file}{'' if config_file.exists() else ' (missing)'}"),
        ("state database", f"{state_dir / DATABASE_NAME}{note}"),
        ("choices journal", str(state_dir / JOURNAL_NAME)),
        ("log", "the daemon logs to stderr: journalctl --user -u syncd under systemd"),
        ("unit file", f"{unit}{'' if unit.exists() else ' (not installed)'}"),
    ]
    for label, value in rows:
        click.echo(f"{label + ':':17}{value}")


@cli.command()
@click.argument("source")
@click.option("--no-browser", is_flag=True,
              help="Google sources: print the authorization URL instead of opening a browser.")
@pass_context
def auth(context: Context, source: str, no_browser: bool) -> None:
    """Store the password of SOURCE in the keyring (asks once, checks it by logging in), or
    run the OAuth sign-in of a Google source or an IMAP source with auth = "oauth2"."""
    from syncd.app import App
    from syncd.credentials import store_password

    config = context.config()
    [chosen] = App.selected_sources_of(config, [source])
    app = context.app()
    connector = app.connector(chosen)
    if getattr(connector, "token_key", None) is not None:
        # Google sources: the installed-app flow, one consent for the account.
        _oauth(app, connector, no_browser)
        return
    authorize = getattr(connector, "authorize", None)
    if authorize is not None:
        # OAuth sources (IMAP with auth = "oauth2"): the provider's sign-in, or a check that
        # token_command works; None means this source logs in with a password after all.
        signed_in = authorize(lambda text: click.echo(text, err=True))
        if signed_in is not None:
            app.store.clear_pause(source)
            click.echo(signed_in)
            return
    check = getattr(connector, "check_password", None)
    if check is None:
        raise click.ClickException(f"source {source!r} ({chosen.type}) needs no password")
    if chosen.options.get("password_command"):
        click.echo(f"note: source {source!r} has password_command set, which wins over the "
                   "keyring", err=True)
    password = click.prompt(f"password for {chosen.options.get('username', source)}",
                            hide_input=True, err=True)
    check(password)
    store_password(source, password)
    app.store.clear_pause(source)
    click.echo(f"password of {source} checked and stored in the keyring")


def _oauth(app: Any, connector: Any, no_browser: bool) -> None:
    """Run the OAuth flow of ``connector`` for every source that shares its token."""
    sharing = app.sources_sharing_token(connector)
    scopes = sorted({other.scope for other in sharing})

    def show_url(url: str) -> None:
        click.echo("Open this address in a browser (on any machine) and allow access:\n\n"
                   f"  {url}\n", err=True)
        click.echo("Waiting for Google to send the browser back to this machine. If the browser "
                   "runs elsewhere, paste here the address it ended on (it starts with "
                   "http://localhost) and press Enter.", err=True)

    def pasted() -> str | None:
        line = sys.stdin.readline()
        return line or None

    authorized = connector.authorize(scopes, show_url=show_url, open_browser=not no_browser,
                                     pasted=pasted)
    for other in sharing:
        app.store.clear_pause(other.name)
    names = ", ".join(other.name for other in sharing)
    where = ("the OS keyring" if authorized.saved.in_keyring
             else f"{authorized.saved.where} (a file only you can read: no keyring here)")
    click.echo(f"authorized {names}; the refresh token is in {where}")
    click.echo(f"scopes: {', '.join(authorized.scopes)}")
    if not authorized.saved.in_keyring:
        click.echo(f"for a system service, pass that file as a systemd credential: "
                   f"LoadCredential={authorized.name}:{authorized.saved.where}")


# --- syncing --------------------------------------------------------------------------------------


class _NotSourceFailures(logging.Filter):
    """Drops the log line of a failed source: `syncd sync` prints its report's error once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "source_failure", False)


class _ConsoleHandler(logging.Handler):
    """Prints log lines through the progress display, above the spinner, never into it."""

    def __init__(self, console: Any) -> None:
        super().__init__()
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.console.print(self.format(record), markup=False, highlight=False,
                               soft_wrap=True)
        except Exception:
            self.handleError(record)


@contextmanager
def _sync_logging(console: Any) -> Iterator[None]:
    """While `syncd sync` runs: no log line repeats a failure the report prints, and with a
    progress display (``console``) every log line goes through it."""
    root = logging.getLogger()
    saved = list(root.handlers)
    quiet = _NotSourceFailures()
    if console is not None:
        through_console = _ConsoleHandler(console)
        through_console.setFormatter(saved[0].formatter if saved else logging.Formatter(
            "%(levelname)s %(name)s: %(message)s"))
        root.handlers = [through_console]
    for handler in root.handlers:
        handler.addFilter(quiet)
    try:
        yield
    finally:
        for handler in root.handlers:
            handler.removeFilter(quiet)
        root.handlers = saved


@contextmanager
def _progress(enabled: bool, describe: Callable[[str], str | None] | None = None
              ) -> Iterator[Callable[[str], Callable[[int], None] | None] | None]:
    """Yield a progress-callback maker for a TTY; ``describe(name)`` may add where a long first
    sync stands (Gmail: "41,200 of 180,000 read, about 45 min left at Google's rate limit")."""
    if not enabled:
        with _sync_logging(None):
            yield None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"),
                  TextColumn("{task.completed} items"), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar, \
            _sync_logging(bar.console):
        def for_source(name: str) -> Callable[[int], None]:
            task = bar.add_task(f"syncing {name}", total=None)

            def advance(count: int) -> None:
                bar.advance(task, count)
                text = describe(name) if describe is not None else None
                if text:
                    bar.update(task, description=f"syncing {name}: {text}")

            return advance

        yield for_source


@cli.command()
@click.argument("sources", nargs=-1)
@click.option("--full", is_flag=True, help="Ignore saved cursors and read everything again.")
@pass_context
def sync(context: Context, sources: tuple[str, ...], full: bool) -> None:
    """One pass over every source (or the ones named), then exit."""
    app = context.app()
    with _progress(sys.stderr.isatty(), app.first_sync_progress) as progress:
        reports = app.sync(sources, full=full, progress=progress)
    failed = 0
    for report in reports:
        if report.error:
            failed += 1
            click.echo(f"{report.source}: FAILED: {report.error}", err=True)
        else:
            click.echo(f"{report.source}: {report.records} read, {report.counted} counted, "
                       f"{report.new_contacts} new contacts, {report.skipped} skipped")
    if any(report.records for report in reports) and app.store.tracked_count() == 0:
        click.echo("")
        _first_run(app)
    if failed:
        sys.exit(1)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def status(context: Context, as_json: bool) -> None:
    """Per source: last success, last error, counts, skipped items with reasons."""
    from syncd.render import local_time, source_json

    app = context.app()
    rows = {row.name: row for row in app.store.sources()}
    configured = list(app.config.sources)
    names = configured + sorted(set(rows) - set(configured))
    if as_json:
        _echo_json([{**(source_json(rows[name]) if name in rows else
                        {"name": name, "last_attempt": None, "last_success": None,
                         "last_error": None, "error_kind": None, "observations": 0,
                         "skipped": {}}),
                     "configured": name in app.config.sources,
                     "paused": rows[name].error_kind == "auth" if name in rows else False,
                     "first_sync": app.first_sync_progress(name) if name in rows else None}
                    for name in names])
        return
    if not names:
        click.echo("no sources configured; add a [sources.NAME] table, see config.example.toml")
    for name in names:
        row = rows.get(name)
        if row is None:
            click.echo(f"{name}: never synced; run: syncd sync {name}")
            continue
        note = "" if name in app.config.sources else " (no longer in the config)"
        click.echo(f"{name}: {row.observations} items; last success "
                   f"{local_time(row.last_success, app.config.timezone)}{note}")
        first_sync = app.first_sync_progress(name)
        if first_sync:
            click.echo(f"  {first_sync}")
        if row.last_error:
            click.echo(f"  last error: {row.last_error}")
        if row.error_kind == "auth":
            click.echo(f"  paused until you run: syncd auth {name}")
        for reason, count in sorted(row.skipped.items(), key=lambda item: -item[1]):
            click.echo(f"  skipped {count}: {reason}")


# --- people ---------------------------------------------------------------------------------------


FIRST_RUN_SHOWN = 5


def _first_run(app: Any) -> bool:
    """With nobody tracked, print what to do and the strongest ties; return True if it did.

    An empty table says nothing to a new user; their own history already says who matters.
    """
    if app.store.tracked_count():
        return False
    from syncd.render import SUGGESTION_HEADERS, suggestion_row

    found = app.suggest(FIRST_RUN_SHOWN)[:FIRST_RUN_SHOWN]
    if not found:
        click.echo("Nobody is tracked yet, and no tie in your history is strong enough to "
                   "suggest: run syncd sync, or track someone with: syncd track PERSON")
        return True
    click.echo("Nobody is tracked yet: track the people who matter with syncd track #ID (or "
               "set [general] auto_track = N); the strongest ties in your history:")
    _print_table(None, SUGGESTION_HEADERS, [suggestion_row(item) for item in found])
    return True


@cli.command()
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True,
              help="At most this many per group.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def suggest(context: Context, limit: int, as_json: bool) -> None:
    """Untracked ties worth keeping, strongest first: "track" (alive) and "reconnect"
    (strong, gone quiet)."""
    from syncd.render import SUGGESTION_HEADERS, suggestion_json, suggestion_row

    app = context.app()
    found = app.suggest(limit)
    if as_json:
        _echo_json([suggestion_json(item) for item in found])
        return
    if not found:
        click.echo("no suggestions: no untracked two-way tie is strong enough yet (run: "
                   "syncd sync; see everyone with: syncd people --all)")
        return
    for group, title in (("track", "worth tracking (alive)"),
                         ("reconnect", "worth reconnecting (strong ties gone quiet)")):
        rows = [suggestion_row(item) for item in found if item.strength.group == group]
        if rows:
            click.echo(f"{title}:")
            _print_table(None, SUGGESTION_HEADERS, rows)
    click.echo("track one with: syncd track #ID")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--all", "everyone", is_flag=True,
              help="Everyone with a counted contact, one-way correspondents included.")
@click.option("--duplicates", "duplicates", is_flag=True,
              help="Who may be one person at several addresses (merge with syncd merge).")
@pass_context
def people(context: Context, as_json: bool, everyone: bool, duplicates: bool) -> None:
    """Tracked people (or everyone with --all, or merge suggestions with --duplicates)."""
    from syncd.render import TIE_HEADERS, tie_json, tie_row

    app = context.app()
    if duplicates:
        _print_duplicates(app, as_json)
        return
    ties = app.people(everyone)
    if as_json:
        _echo_json([tie_json(tie) for tie in ties])
        return
    if not everyone and _first_run(app):
        return
    now = app.clock()
    _print_table("people", TIE_HEADERS, [tie_row(tie, now, app.config.timezone)
                                         for tie in ties])


def _print_duplicates(app: Any, as_json: bool) -> None:
    found = app.duplicates()
    if as_json:
        _echo_json([{"people": list(found_one.people), "addresses": list(found_one.addresses),
                     "reason": found_one.reason} for found_one in found])
        return
    if not found:
        click.echo("no likely duplicates: no two people share a name, a local part at related "
                   "domains, or a name and a local part")
        return
    _print_table("possible duplicates (merge with: syncd merge #ID #ID)",
                 ["people", "addresses", "reason"],
                 [[" ".join(f"#{person_id}" for person_id in found_one.people),
                   ", ".join(found_one.addresses), found_one.reason] for found_one in found])


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def due(context: Context, as_json: bool) -> None:
    """Tracked ties that are quiet or due soon, most overdue first."""
    from syncd.render import TIE_HEADERS, due_rows, iso, tie_json

    app = context.app()
    ties = app.due()
    now = app.clock()
    # Birthdays of tracked people ahead (two weeks, or [notify] birthdays if longer): a
    # natural moment to get in touch, listed even when the tie is not due otherwise.
    birthdays = {tie.person.id: (tie, on, age) for tie, on, age in app.birthdays_ahead()}
    listed = {tie.person.id for tie in ties}
    # A quiet tie with a meeting ahead is marked, not alerted on: the meeting is the contact.
    upcoming = app.store.next_meetings([tie.person.id for tie in ties], now)
    if as_json:
        rows = [*ties, *(tie for tie, _, _ in birthdays.values() if tie.person.id not in listed)]
        _echo_json([{**tie_json(tie), "upcoming_meeting": iso(upcoming.get(tie.person.id)),
                     "upcoming_birthday": (birthdays[tie.person.id][1].isoformat()
                                           if tie.person.id in birthdays else None)}
                    for tie in rows])
        return
    if not ties and not birthdays and _first_run(app):
        return
    if not ties and not birthdays and not _is_tty():
        return
    if ties or not birthdays:
        _print_table("due", TIE_HEADERS, due_rows(ties, upcoming, now, app.config.timezone))
    today = now.astimezone(app.config.timezone).date()
    for tie, on, age in birthdays.values():
        days = (on - today).days
        when = "today" if days == 0 else "tomorrow" if days == 1 else f"in {days} days"
        turns = f" (turns {age})" if age is not None else ""
        click.echo(f"birthday: {tie.person.name or tie.person.addresses[0]} on "
                   f"{on:%a %-d %b}, {when}{turns}")


@cli.command(epilog=PERSON_HELP)
@click.argument("person")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--why", is_flag=True, help="The last decisions about them, with reasons.")
@pass_context
def show(context: Context, person: str, as_json: bool, why: bool) -> None:
    """Addresses, tier, cadence, contact dates and timeline of one person."""
    from syncd.render import ago, iso, local_time, status_text, tie_json, timeline_json, why_text
    from syncd.strip import contact_strip, gap_picture

    app = context.app()
    row = app.find_person(person)
    tie = app.tie(row)
    timeline = app.store.timeline(row.id, limit=10 if why else 20, counted_only=not why)
    now = app.clock()
    meetings = app.store.upcoming_for(row.id, now)
    monthly = app.monthly([row.id])[row.id]
    if as_json:
        _echo_json({**tie_json(tie), "upcoming_meeting": iso(meetings[0][0]) if meetings else None,
                    "monthly": [month.as_json() for month in monthly],
                    "upcoming": [{"start": iso(start), "reason": reason}
                                 for start, reason in meetings],
                    "timeline": [timeline_json(e, row.addresses) for e in timeline]})
        return
    zone = app.config.timezone
    click.echo(f"{_name(row)} (#{row.id})")
    click.echo(f"  addresses: {', '.join(row.shown)}")
    tracked_by = app.store.tracked_by(row.id)
    click.echo(f"  tracked: {'yes' if row.tracked else 'no'}"
               + (f", tier {row.tier}" if row.tier else "")
               + (" (set in the config file)" if row.tracked and tracked_by == "config" else ""))
    for pattern, where in app.ignored_by(row):
        undo = ("remove it from [rules].ignore" if where == "[rules].ignore"
                else f"syncd unignore {pattern}")
        click.echo(f"  ignored: matches {pattern} ({where}); their mail does not count"
                   + ("" if row.tracked else " and they are hidden") + f"; undo: {undo}")
    if why and row.tracked:
        tracked_by, reason = app.store.track_reason(row.id)
        origin = {"config": "listed in [[people]] of the config", "cli": "syncd track",
                  "vcard": "an address-book category naming a tier ([tiers.map])",
                  "auto": "[general] auto_track"}
        click.echo(f"  tracked because: {reason or origin.get(tracked_by or '', 'unknown')}")
    elif why and app.store.kept_out_of_auto_track(row.id):
        click.echo("  untracked by you: never suggested or auto-tracked again "
                   "(syncd track brings them back)")
    if tie.cadence:
        from syncd.durations import format_duration

        click.echo(f"  cadence: {format_duration(tie.cadence)} ({tie.cadence_source})")
    click.echo(f"  last contact: {ago(row.last_contact, now)}"
               f" (out {ago(row.last_outgoing, now)}, in {ago(row.last_incoming, now)}, "
               f"meeting {ago(row.last_meeting, now)}, logged {ago(row.last_manual, now)})")
    standing = status_text(tie, now, zone) if row.tracked else "not tracked"
    click.echo(f"  interactions: {row.interactions}; status: {standing}"
               + (f"; due {local_time(tie.due_at, zone)}" if tie.due_at else ""))
    _print_picture(contact_strip(monthly))
    _print_picture(gap_picture(
        timedelta(days=row.inferred_days) if row.inferred_days else None,
        tie.cadence if tie.cadence_source in ("person", "tier") else None,
        now - row.last_contact if row.last_contact else None))
    if meetings:
        click.echo("  upcoming:")
    for start, reason in meetings:
        click.echo(f"    {local_time(start, zone)}  {reason}")
    if timeline:
        click.echo("  decisions:" if why else "  timeline:")
    for entry in timeline:
        extra = f" - {entry.note}" if entry.note else ""
        text = (why_text(entry, row.addresses) if why
                else f"{entry.direction}: {entry.reason}")
        click.echo(f"    {local_time(entry.at, zone) if entry.at else '?'}  {text}{extra}")


def _duration(text: str, hint: str) -> timedelta:
    from syncd.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=hint) from None


def _name(row: Any) -> str:
    """Return how a person is named in messages: their name, else their first address."""
    return str(row.name or (row.shown[0] if row.addresses else f"#{row.id}"))


def _local(moment: datetime | None, app: Any) -> str:
    """Return a time for people: in [general].timezone, with the zone's abbreviation."""
    from syncd.render import local_time

    return local_time(moment, app.config.timezone)


@cli.command(epilog=PERSON_HELP)
@click.argument("person")
@click.option("--tier", help="A tier from [tiers].")
@click.option("--every", help="Their own cadence, e.g. 3w.")
@pass_context
def track(context: Context, person: str, tier: str | None, every: str | None) -> None:
    """Start tracking a person (keeps their tier or cadence unless one is given)."""
    app = context.app()
    if tier and every:
        raise click.UsageError("give --tier or --every, not both (--every beats a tier)")
    if tier and tier not in app.config.tiers:
        raise click.BadParameter(f"no tier {tier!r}; defined: "
                                 f"{', '.join(app.config.tiers) or 'none'}", param_hint="--tier")
    cadence = _duration(every, "--every") if every else None
    row = app.find_person(person)
    if not tier and not every and app.store.tracked_by(row.id) == "config":
        click.echo(f"{_name(row)} is already tracked: the config file lists them")
        return
    app.track(row, tier, cadence)
    tie = app.tie(app.store.person(row.id) or row)
    from syncd.durations import format_duration

    how = (f" every {format_duration(tie.cadence)} ({tie.cadence_source})"
           if tie.cadence else "")
    click.echo(f"tracking {_name(row)}{how}")


@cli.command(epilog=PERSON_HELP)
@click.argument("person")
@pass_context
def untrack(context: Context, person: str) -> None:
    """Stop tracking a person."""
    app = context.app()
    row = app.find_person(person)
    app.untrack(row)
    click.echo(f"no longer tracking {_name(row)}")


def _identity_person(app: Any, query: str) -> Any:
    """Return the person ``query`` names for merge/split; an unknown or ambiguous one is a
    refusal (exit 2) like the other bad merges and splits: nothing has changed yet."""
    from syncd.errors import AmbiguousPerson, PersonNotFound, UsageError

    try:
        return app.find_person(query)
    except (PersonNotFound, AmbiguousPerson) as error:
        raise UsageError(f"{error}; nothing was changed") from None


@cli.command(epilog=PERSON_HELP)
@click.argument("people", nargs=-1, required=True)
@pass_context
def merge(context: Context, people: tuple[str, ...]) -> None:
    """Make several people one (the first keeps its id); all history follows."""
    app = context.app()
    rows = [_identity_person(app, person) for person in people]
    merged = app.merge(rows)
    click.echo(f"merged {len(rows)} people into {_name(merged)} (#{merged.id}): "
               f"{', '.join(merged.shown)}")


@cli.command(epilog=PERSON_HELP)
@click.argument("person")
@click.argument("address")
@pass_context
def split(context: Context, person: str, address: str) -> None:
    """Give one address of a person its own person again, with its own history."""
    app = context.app()
    row = _identity_person(app, person)
    new = app.split(row, address)
    click.echo(f"split {new.shown[0]} off {_name(row)}: now {_name(new)} (#{new.id})")


@cli.command(epilog=PERSON_HELP)
@click.argument("person")
@click.argument("duration", required=False)
@click.option("--clear", is_flag=True, help="End a snooze now.")
@pass_context
def snooze(context: Context, person: str, duration: str | None, clear: bool) -> None:
    """Silence a person for DURATION, like 1w or 10d (--clear ends it)."""
    if clear == (duration is not None):
        raise click.UsageError("give a DURATION like 1w, or --clear")
    app = context.app()
    row = app.find_person(person)
    if clear:
        app.snooze(row, None)
        click.echo(f"{_name(row)} is no longer snoozed")
        return
    assert duration is not None
    until = app.clock() + _duration(duration, "DURATION")
    app.snooze(row, until)
    click.echo(f"snoozed {_name(row)} until {_local(until, app)}")


def _parse_at(text: str | None, now: datetime, timezone: Any) -> datetime:
    if text is None:
        return now
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date like 2026-03-01 or "
                                 "2026-03-01T18:30", param_hint="--at") from None
    if moment.tzinfo is None:
        if len(text) <= 10:
            moment = datetime.combine(moment.date(), time(12, 0))
        moment = moment.replace(tzinfo=timezone)
    if moment.astimezone(UTC) > now + timedelta(minutes=5):
        raise click.BadParameter("a contact cannot be in the future", param_hint="--at")
    return moment.astimezone(UTC)


@cli.command(epilog=PERSON_HELP)
@click.argument("person")
@click.option("--note", help="What it was, e.g. 'coffee'.")
@click.option("--at", "at_text", help="When (default: now), e.g. 2026-03-01.")
@pass_context
def done(context: Context, person: str, note: str | None, at_text: str | None) -> None:
    """Log a contact the machine cannot see (a call, a visit)."""
    app = context.app()
    row = app.find_person(person)
    at = _parse_at(at_text, app.clock(), app.config.timezone)
    app.log_contact(row, at, note)
    click.echo(f"logged contact with {_name(row)} at {_local(at, app)}")


def _pattern(pattern: str) -> str:
    text = pattern.strip().lower()
    if not text or ("@" not in text and "*" not in text):
        raise click.BadParameter(f"{pattern!r} is not an address, an @domain or a glob")
    return text


def _names(rows: Sequence[Any], limit: int = 10) -> str:
    names = [_name(row) for row in rows[:limit]]
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return ", ".join(names) + more


@cli.command()
@click.argument("pattern")
@pass_context
def ignore(context: Context, pattern: str) -> None:
    """Never count PATTERN again (an address, @domain or glob); undo with unignore."""
    from syncd.render import plural

    app = context.app()
    result = app.ignore(_pattern(pattern))
    for address in result.mine:
        click.echo(f"warning: {result.pattern} matches my own address {address}; mail to and "
                   "from it is judged by the other side only", err=True)
    for row in result.tracked:
        stop = ("remove them from [[people]]" if app.store.tracked_by(row.id) == "config"
                else f"syncd untrack {row.addresses[0] if row.addresses else f'#{row.id}'}")
        click.echo(f"warning: {result.pattern} matches {_name(row)}, whom you track: they stay "
                   f"listed, but their mail no longer counts, so they will turn quiet; to stop "
                   f"tracking them: {stop}", err=True)
    hidden = (f"{plural(len(result.hidden), 'person', 'people')} hidden: "
              f"{_names(result.hidden)}" if result.hidden else "nobody known is hidden")
    click.echo(f"ignoring {result.pattern}; {hidden}; undo: syncd unignore {result.pattern}")


@cli.command()
@click.argument("pattern")
@pass_context
def unignore(context: Context, pattern: str) -> None:
    """Count PATTERN again (one given to syncd ignore)."""
    from syncd.render import plural

    app = context.app()
    result = app.unignore(_pattern(pattern))
    shown = (f"{plural(len(result.shown), 'person', 'people')} shown again: "
             f"{_names(result.shown)}" if result.shown else "nobody was hidden by it alone")
    click.echo(f"no longer ignoring {result.pattern}; {shown}; mail it kept from counting "
               "counts after: syncd sync --full")


@cli.group(name="import")
def import_group() -> None:
    """Import people from elsewhere."""


@import_group.command(name="vcard")
@click.argument("path", metavar="FILE|DIR",
                type=click.Path(exists=True, path_type=Path))
@pass_context
def import_vcard(context: Context, path: Path) -> None:
    """Import names, addresses and birthdays from a vCard file (or the .vcf files of a
    directory); CATEGORIES naming a tier, or mapped by [tiers.map], track them."""
    from syncd.render import plural
    from syncd.vcard import import_cards, vcard_files

    app = context.app()
    files = vcard_files(path)
    try:
        contents = [(str(file), file.read_bytes()) for file in files]
    except OSError as error:
        raise click.ClickException(f"cannot read {error.filename}: {error.strerror}; check "
                                   "the path and its permissions") from None
    result = import_cards(app.store, contents, app.tier_map())
    if result.cards_found == 0:
        raise click.ClickException(f"{path} holds no vCard (no BEGIN:VCARD ... END:VCARD); "
                                   "export the address book as a .vcf file and import that")
    for skip in result.skipped:
        click.echo(skip.reason, err=True)
    click.echo(f"imported {plural(result.people, 'person', 'people')} "
               f"({plural(result.addresses, 'address', 'addresses')}), "
               f"{result.tracked} tracked by category; "
               f"{plural(result.without_email, 'card', 'cards')} without e-mail"
               + (f"; {plural(len(result.skipped), 'broken card', 'broken cards')} skipped"
                  if result.skipped else ""))


@cli.command()
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write it (default: [report] path, else STATE_DIR/report.html).")
@click.option("--open", "open_it", is_flag=True,
              help="Open it in the desktop's default browser.")
@pass_context
def report(context: Context, out: Path | None, open_it: bool) -> None:
    """Write one self-contained offline HTML page: heat map, who is quiet, source health."""
    from syncd.report import default_report_path, open_in_browser, write_report

    app = context.app()
    target = out or app.config.report.path or default_report_path(app.config.state_dir)
    written = write_report(app, target)
    click.echo(f"wrote {written}")
    if open_it and not open_in_browser(written):
        click.echo(f"could not start a browser; open {written.as_uri()} yourself", err=True)
        sys.exit(1)


@cli.command()
@click.option("--format", "output_format", type=click.Choice(["json", "csv", "vcard"]),
              default="json", show_default=True, help="What to write.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to FILE (made 0600) instead of standard output.")
@pass_context
def export(context: Context, output_format: str, out: Path | None) -> None:
    """People, addresses, tiers, cadences, dates and your choices (see the README)."""
    from syncd.export import to_csv, to_json, to_vcard

    app = context.app()
    people = app.exported_people()
    if output_format == "json":
        text = to_json(people, tiers=app.config.tiers,
                       ignore_patterns=app.store.ignore_patterns(), now=app.clock())
    elif output_format == "csv":
        text = to_csv(people)
    else:
        text = to_vcard(people)
    if out is None:
        click.echo(text, nl=False)
        return
    # Who one knows and when one last wrote to them is private: never readable by others.
    out.touch(mode=0o600, exist_ok=True)
    out.chmod(0o600)
    out.write_text(text, encoding="utf-8", newline="")
    click.echo(f"exported {len(people)} people to {out} ({output_format})", err=True)


# --- daemon, service, notifications ---------------------------------------------------------------


@cli.command()
@pass_context
def run(context: Context) -> None:
    """The daemon, in the foreground (systemd runs this; see: syncd service install)."""
    from syncd.daemon import Daemon, configure_logging

    configure_logging(context.verbose)
    sys.exit(Daemon(context.config).run())


@cli.group(name="service")
def service_group() -> None:
    """Install, remove or inspect the systemd user service."""


def _exec_command(context: Context) -> list[str]:
    from syncd.service import executable_command

    command = executable_command()
    if context.config_path is not None:
        command += ["-c", str(context.config_path.absolute())]
    return command


@service_group.command(name="install")
@click.option("--no-start", is_flag=True, help="Only write the unit file.")
@pass_context
def service_install(context: Context, no_start: bool) -> None:
    """Write the user unit (with this syncd's absolute path) and enable it."""
    from syncd.service import UNIT_NAME, USER_UNIT, render_unit, systemctl, user_unit_dir

    context.config()  # refuse to install a service that would exit 78 at once
    path = user_unit_dir() / UNIT_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_unit(USER_UNIT, _exec_command(context)), encoding="utf-8")
    click.echo(f"wrote {path}")
    steps = [["daemon-reload"]] + ([] if no_start else [["enable", "--now", UNIT_NAME]])
    for step in steps:
        result = systemctl(step)
        if result is None or not result.ok:
            reason = "systemctl is not installed" if result is None else (
                result.output.splitlines()[-1] if result.output else "systemctl failed")
            todo = " && ".join(f"systemctl --user {' '.join(s)}" for s in steps)
            click.echo(f"could not reach the systemd user manager ({reason}); the unit file "
                       f"is written, but not {'loaded' if no_start else 'enabled'}; run by "
                       f"hand: {todo}", err=True)
            sys.exit(1)
    if not no_start:
        click.echo(f"enabled and started {UNIT_NAME}; logs: journalctl --user -u syncd")


@service_group.command(name="uninstall")
def service_uninstall() -> None:
    """Stop and disable the user service, and remove its unit file."""
    from syncd.service import UNIT_NAME, systemctl, user_unit_dir

    path = user_unit_dir() / UNIT_NAME
    result = systemctl(["disable", "--now", UNIT_NAME])
    if result is None or not result.ok:
        click.echo(f"could not stop the service through systemctl; if it runs, run: "
                   f"systemctl --user disable --now {UNIT_NAME}", err=True)
    if path.exists():
        path.unlink()
        click.echo(f"removed {path}")
    else:
        click.echo(f"no unit file at {path}")
    systemctl(["daemon-reload"])


@service_group.command(name="status")
@pass_context
def service_status(context: Context) -> None:
    """Is the unit installed, what does it run, is a daemon running for this state dir?"""
    from syncd.daemon_lock import daemon_pid  # not the daemon itself: the lock is enough
    from syncd.service import UNIT_NAME, systemctl, user_unit_dir

    path = user_unit_dir() / UNIT_NAME
    if path.exists():
        exec_line = next((line for line in path.read_text(encoding="utf-8").splitlines()
                          if line.startswith("ExecStart=")), "ExecStart=?")
        click.echo(f"unit: {path} ({exec_line})")
    else:
        click.echo("unit: not installed (run: syncd service install)")
    result = systemctl(["is-active", UNIT_NAME])
    if result is not None and result.output:
        click.echo(f"systemd: {result.output.splitlines()[-1]}")
    pid = daemon_pid(context.config().state_dir)
    click.echo(f"daemon: running (pid {pid})" if pid else "daemon: not running")


@cli.group(name="notify")
def notify_group() -> None:
    """Notifications."""


@notify_group.command(name="test")
@pass_context
def notify_test(context: Context) -> None:
    """Send one notification through the configured backend."""
    from syncd.alerts import Notification
    from syncd.notify import build_notifier

    config = context.config()
    logging.getLogger("syncd.notify").setLevel(logging.INFO)
    notifier = build_notifier(config.notify)
    try:
        notifier.send(Notification("test", "syncd", "Test notification: this is how alerts "
                                   "will reach you.", ()))
    finally:
        notifier.close()
    active = getattr(notifier, "active", notifier.name)
    if active != config.notify.backend:
        click.echo(f"no {config.notify.backend} notifications here; logged instead", err=True)
        sys.exit(1)
    click.echo(f"sent a test notification via {active}")


# --- demo -----------------------------------------------------------------------------------------


@cli.command()
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path),
              help="Write the sample data and state here instead of a temporary directory.")
def demo(keep: Path | None) -> None:
    """The whole pipeline on bundled sample data, in a temporary directory."""
    from syncd.demo import run_demo

    run_demo(keep, echo=click.echo, table=_print_table)


# --- entry point --------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Run the CLI; map syncd errors to one sentence on stderr and their exit code."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="syncd",
                 standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as error:
        error.show()
        sys.exit(2 if isinstance(error, click.UsageError) else 1)
    except SyncdError as error:
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            log.debug("traceback", exc_info=True)
        click.echo(f"syncd: {error}", err=True)
        sys.exit(error.exit_code)
    sys.exit(0)
