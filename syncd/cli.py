"""The command line: the only place that prints or turns errors into exit codes.

Exit codes (DESIGN §6): 0 ok, 1 runtime failure, 2 usage, 78 configuration.
"""

from __future__ import annotations

import json
import logging
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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

    from syncd.paths import default_config_path

    path = context.config_path or default_config_path()
    if path.exists():
        raise click.ClickException(f"{path} already exists; edit it, or pass -c for another file")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(files("syncd").joinpath("starter_config.toml").read_text("utf-8"),
                    encoding="utf-8")
    path.chmod(0o600)
    click.echo(f"wrote {path}; edit it, then run: syncd config check && syncd sync")


@cli.group(name="config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command(name="check")
@pass_context
def config_check(context: Context) -> None:
    """Validate the config; list every problem with its key path."""
    config = context.config()
    sources = ", ".join(f"{s.name} ({s.type})" for s in config.sources.values()) or "none"
    click.echo(f"{config.file}: ok; sources: {sources}; {len(config.people)} people tracked")


@cli.command()
@click.argument("source")
@pass_context
def auth(context: Context, source: str) -> None:
    """Store the password of SOURCE in the keyring (asks once, checks it by logging in), or
    run the OAuth sign-in of an IMAP source with auth = "oauth2"."""
    from syncd.app import App
    from syncd.credentials import store_password

    config = context.config()
    [chosen] = App.selected_sources_of(config, [source])
    app = context.app()
    connector = app.connector(chosen)
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


# --- syncing --------------------------------------------------------------------------------------


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str], Callable[[int], None] | None] | None]:
    if not enabled:
        yield None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"),
                  TextColumn("{task.completed} items"), TimeElapsedColumn(),
                  transient=True) as bar:
        def for_source(name: str) -> Callable[[int], None]:
            task = bar.add_task(f"syncing {name}", total=None)
            return lambda count: bar.advance(task, count)

        yield for_source


@cli.command()
@click.argument("sources", nargs=-1)
@click.option("--full", is_flag=True, help="Ignore saved cursors and read everything again.")
@pass_context
def sync(context: Context, sources: tuple[str, ...], full: bool) -> None:
    """One pass over every source (or the ones named), then exit."""
    app = context.app()
    with _progress(sys.stderr.isatty()) as progress:
        reports = app.sync(sources, full=full, progress=progress)
    failed = 0
    for report in reports:
        if report.error:
            failed += 1
            click.echo(f"{report.source}: FAILED: {report.error}", err=True)
        else:
            click.echo(f"{report.source}: {report.records} read, {report.counted} counted, "
                       f"{report.new_contacts} new contacts, {report.skipped} skipped")
    if failed:
        sys.exit(1)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def status(context: Context, as_json: bool) -> None:
    """Per source: last success, last error, counts, skipped items with reasons."""
    from syncd.render import iso, source_json

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
                     "paused": rows[name].error_kind == "auth" if name in rows else False}
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
                   f"{iso(row.last_success) or 'never'}{note}")
        if row.last_error:
            click.echo(f"  last error: {row.last_error}")
        if row.error_kind == "auth":
            click.echo(f"  paused until you run: syncd auth {name}")
        for reason, count in sorted(row.skipped.items(), key=lambda item: -item[1]):
            click.echo(f"  skipped {count}: {reason}")


# --- people ---------------------------------------------------------------------------------------


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--all", "everyone", is_flag=True,
              help="Everyone with a counted contact, one-way correspondents included.")
@pass_context
def people(context: Context, as_json: bool, everyone: bool) -> None:
    """Tracked people (or everyone with --all)."""
    from syncd.render import TIE_HEADERS, tie_json, tie_row

    app = context.app()
    ties = app.people(everyone)
    if as_json:
        _echo_json([tie_json(tie) for tie in ties])
        return
    now = app.clock()
    _print_table("people", TIE_HEADERS, [tie_row(tie, now) for tie in ties])


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def due(context: Context, as_json: bool) -> None:
    """Tracked ties that are quiet or due soon, most overdue first."""
    from syncd.render import TIE_HEADERS, due_rows, iso, tie_json

    app = context.app()
    ties = app.due()
    now = app.clock()
    # A quiet tie with a meeting ahead is marked, not alerted on: the meeting is the contact.
    upcoming = app.store.next_meetings([tie.person.id for tie in ties], now)
    if as_json:
        _echo_json([{**tie_json(tie), "upcoming_meeting": iso(upcoming.get(tie.person.id))}
                    for tie in ties])
        return
    if not ties and not _is_tty():
        return
    _print_table("due", TIE_HEADERS, due_rows(ties, upcoming, now, app.config.timezone))


@cli.command()
@click.argument("person")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--why", is_flag=True, help="The last decisions about them, with reasons.")
@pass_context
def show(context: Context, person: str, as_json: bool, why: bool) -> None:
    """Addresses, tier, cadence, contact dates and timeline of one person."""
    from syncd.render import ago, iso, status_text, tie_json, timeline_json

    app = context.app()
    row = app.find_person(person)
    tie = app.tie(row)
    timeline = app.store.timeline(row.id, limit=10 if why else 20, counted_only=not why)
    now = app.clock()
    meetings = app.store.upcoming_for(row.id, now)
    if as_json:
        _echo_json({**tie_json(tie), "upcoming_meeting": iso(meetings[0][0]) if meetings else None,
                    "upcoming": [{"start": iso(start), "reason": reason}
                                 for start, reason in meetings],
                    "timeline": [timeline_json(e) for e in timeline]})
        return
    click.echo(f"{row.name or row.addresses[0]} (#{row.id})")
    click.echo(f"  addresses: {', '.join(row.addresses)}")
    click.echo(f"  tracked: {'yes' if row.tracked else 'no'}"
               + (f", tier {row.tier}" if row.tier else ""))
    if tie.cadence:
        from syncd.durations import format_duration

        click.echo(f"  cadence: {format_duration(tie.cadence)} ({tie.cadence_source})")
    click.echo(f"  last contact: {ago(row.last_contact, now)}"
               f" (out {ago(row.last_outgoing, now)}, in {ago(row.last_incoming, now)}, "
               f"meeting {ago(row.last_meeting, now)}, logged {ago(row.last_manual, now)})")
    click.echo(f"  interactions: {row.interactions}; status: {status_text(tie, now)}"
               + (f"; due {iso(tie.due_at)}" if tie.due_at else ""))
    if meetings:
        click.echo("  upcoming:")
    for start, reason in meetings:
        click.echo(f"    {iso(start)}  {reason}")
    if timeline:
        click.echo("  decisions:" if why else "  timeline:")
    for entry in timeline:
        mark = "counted" if entry.counts else "not counted"
        extra = f" - {entry.note}" if entry.note else ""
        text = f"{mark}: {entry.reason}" if why else f"{entry.direction}: {entry.reason}"
        click.echo(f"    {iso(entry.at) or '?'}  {text}{extra}")


def _duration_days(text: str) -> float:
    from syncd.durations import parse_duration

    try:
        return parse_duration(text).total_seconds() / 86400
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@cli.command()
@click.argument("person")
@click.option("--tier", help="A tier from [tiers].")
@click.option("--every", help="Their own cadence, e.g. 3w.")
@pass_context
def track(context: Context, person: str, tier: str | None, every: str | None) -> None:
    """Start tracking a person."""
    app = context.app()
    if tier and tier not in app.config.tiers:
        raise click.BadParameter(f"no tier {tier!r}; defined: {', '.join(app.config.tiers)}",
                                 param_hint="--tier")
    row = app.find_person(person)
    app.store.set_tracking(row.id, True, tier, _duration_days(every) if every else None)
    click.echo(f"tracking {row.name or row.addresses[0]}")


@cli.command()
@click.argument("person")
@pass_context
def untrack(context: Context, person: str) -> None:
    """Stop tracking a person."""
    app = context.app()
    row = app.find_person(person)
    app.store.set_tracking(row.id, False)
    click.echo(f"no longer tracking {row.name or row.addresses[0]}")


@cli.command()
@click.argument("person")
@click.argument("duration")
@pass_context
def snooze(context: Context, person: str, duration: str) -> None:
    """Silence a person for DURATION, like 1w or 10d."""
    app = context.app()
    row = app.find_person(person)
    until = app.clock() + timedelta(days=_duration_days(duration))
    app.store.snooze(row.id, until)
    click.echo(f"snoozed {row.name or row.addresses[0]} until {until:%Y-%m-%d %H:%M} UTC")


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


@cli.command()
@click.argument("person")
@click.option("--note", help="What it was, e.g. 'coffee'.")
@click.option("--at", "at_text", help="When (default: now), e.g. 2026-03-01.")
@pass_context
def done(context: Context, person: str, note: str | None, at_text: str | None) -> None:
    """Log a contact the machine cannot see (a call, a visit)."""
    app = context.app()
    row = app.find_person(person)
    at = _parse_at(at_text, app.clock(), app.config.timezone)
    app.store.log_manual(row.id, at, note)
    click.echo(f"logged contact with {row.name or row.addresses[0]} at {at:%Y-%m-%d %H:%M} UTC")


@cli.command()
@click.argument("pattern")
@pass_context
def ignore(context: Context, pattern: str) -> None:
    """Never count PATTERN again (an address, @domain or glob)."""
    from syncd.rules import AddressPatterns

    text = pattern.strip().lower()
    if not text or ("@" not in text and "*" not in text):
        raise click.BadParameter(f"{pattern!r} is not an address, an @domain or a glob")
    app = context.app()
    app.store.add_ignore_pattern(text)
    hidden = app.store.mark_ignored(AddressPatterns([text]).matches)
    click.echo(f"ignoring {text}; {hidden} known people hidden")


@cli.group(name="import")
def import_group() -> None:
    """Import people from elsewhere."""


@import_group.command(name="vcard")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def import_vcard(context: Context, file: Path) -> None:
    """Import names and addresses from a vCard file; CATEGORIES naming a tier track them."""
    from syncd.vcard import import_cards

    app = context.app()
    result = import_cards(app.store, file.read_bytes(), set(app.config.tiers))
    click.echo(f"imported {result.people} people ({result.addresses} addresses), "
               f"{result.tracked} tracked by category; {result.skipped} cards without e-mail")


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
            click.echo(f"could not reach the systemd user manager ({reason}); run: {todo}",
                       err=True)
            return
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
    from syncd.daemon import daemon_pid
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
