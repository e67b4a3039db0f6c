"""``syncd demo``: the real pipeline on bundled sample data, in a throw-away state directory."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from syncd.app import App
from syncd.config import load_config
from syncd.demo_data import DEMO_TIERS, SampleData, write_sample_data
from syncd.render import TIE_HEADERS, rule_summary, tie_row

Echo = Callable[[str], None]
Table = Callable[[str | None, Sequence[str], Sequence[Sequence[str]]], None]


def demo_config_text(data: SampleData, state_dir: Path) -> str:
    """Return the TOML config a user would write for the sample data."""
    def quoted(value: str) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = [
        "[general]", f"state_dir = {quoted(str(state_dir))}", 'timezone = "UTC"', "",
        "[me]", f"addresses = [{', '.join(quoted(a) for a in data.me)}]", "",
        "[sources.mail]", 'type = "maildir"', f"path = {quoted(str(data.maildir))}", "",
        "[sources.archive]", 'type = "mbox"', f"path = {quoted(str(data.mbox))}", "",
        "[tiers]", *(f"{name} = {quoted(value)}" for name, value in DEMO_TIERS.items()), "",
    ]
    for person in data.people:
        lines += ["[[people]]", f"name = {quoted(person.name)}",
                  f"addresses = [{', '.join(quoted(a) for a in person.addresses)}]"]
        if person.tier:
            lines.append(f"tier = {quoted(person.tier)}")
        if person.every:
            lines.append(f"every = {quoted(person.every)}")
        lines.append("")
    return "\n".join(lines)


def run_demo(keep: Path | None, *, echo: Echo, table: Table,
             now: datetime | None = None) -> list[str]:
    """Write sample data, sync it, print the due table and what each rule did.

    With ``keep`` everything stays in that directory (and ``syncd -c KEEP/config.toml ...``
    works on it afterwards); otherwise a temporary directory is removed at the end. Return the
    rule summary lines (for tests).
    """
    moment = now or datetime.now(UTC)
    root = keep or Path(tempfile.mkdtemp(prefix="syncd-demo-"))
    try:
        root.mkdir(parents=True, exist_ok=True)
        data = write_sample_data(root / "sample", now=moment)
        config_file = root / "config.toml"
        config_file.write_text(demo_config_text(data, root / "state"), encoding="utf-8")
        app = App.open(load_config(config_file), clock=lambda: moment)
        try:
            echo(f"sample data: a Maildir and an mbox in {root / 'sample'}")
            reports = app.sync()
            for report in reports:
                status = f"FAILED: {report.error}" if report.error else (
                    f"{report.records} messages read, {report.counted} counted, "
                    f"{report.skipped} unreadable")
                echo(f"  {report.source}: {status}")
            ties = app.due()
            echo("")
            table(f"due ({len(ties)} of {len(app.store.tracked_people())} tracked people)",
                  TIE_HEADERS, [tie_row(tie, moment) for tie in ties])
            echo("")
            echo("what the rules decided:")
            totals: dict[str, int] = {}
            for report in reports:
                for rule, count in report.rules.items():
                    totals[rule] = totals.get(rule, 0) + count
            lines = rule_summary(totals, sum(report.skipped for report in reports))
            for line in lines:
                echo(f"  {line}")
            if keep:
                echo("")
                echo(f"explore it: syncd -c {config_file} people --all")
            return lines
        finally:
            app.close()
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
