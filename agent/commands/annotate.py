"""`annotate`: a person's note on an account's days (a promotion, a site outage), which the anomaly
detector reads as a known change: shifts on those days are explained, not alarms."""

from __future__ import annotations

import getpass
import os
from datetime import datetime
from pathlib import Path

import click
from rich.table import Table

from agent.commands.common import config_option, console_for, fail, session_for
from agent.storage.annotation_store import add_annotation, list_annotations


def os_user() -> str:
    """The operating-system user, for the audit trail when `--by` is not given."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (some containers)
        return f"uid-{os.getuid()}"


@click.command("annotate")
@click.argument("account_id", required=False)
@click.argument("note", required=False)
@click.option("--from", "start", type=click.DateTime(formats=["%Y-%m-%d"]), help="First day (account time zone).")
@click.option("--to", "end", type=click.DateTime(formats=["%Y-%m-%d"]), help="Last day (default: the first).")
@click.option("--list", "list_them", is_flag=True, help="List the annotations (of ACCOUNT_ID, if given).")
@click.option("--by", "author", default=None, help="Who (audit trail). Default: the operating-system user.")
@config_option
def annotate(account_id: str | None, note: str | None, start: datetime | None, end: datetime | None,
             list_them: bool, author: str | None, config_path: Path) -> None:
    """Note what happened on an account's days: `annotate ACCOUNT --from 2026-11-27 --to 2026-11-30 "promo"`."""
    if list_them:
        _list(config_path, account_id)
        return
    if not account_id or not note or not note.strip():
        fail('annotate needs an account, --from DATE and a note: annotate ACCOUNT --from DATE [--to DATE] "promo"')
    if start is None:
        fail("annotate needs --from DATE (the first day the note covers)")
    assert account_id is not None and note is not None and start is not None
    first, last = start.date(), (end or start).date()
    if last < first:
        fail(f"--to {last} is before --from {first}")
    with session_for(config_path) as session:
        if account_id not in {a.id for a in session.config.accounts}:
            fail(f"no account {account_id!r} in {config_path} (accounts: "
                 f"{', '.join(a.id for a in session.config.accounts)})")
        with session.engine.begin() as connection:
            annotation_id = add_annotation(connection, account_id, first, last, note.strip(),
                                           by=f"cli:{author or os_user()}", now=session.clock.now())
    console_for().print(f"annotation {annotation_id} on {account_id}: {first}..{last}: {note.strip()}", markup=False)


def _list(config_path: Path, account_id: str | None) -> None:
    with session_for(config_path, create=False) as session, session.engine.connect() as connection:
        rows = list_annotations(connection, account_id)
    table = Table(title="annotations")
    for column in ("id", "account", "from", "to", "note", "by"):
        table.add_column(column)
    for row in rows:
        table.add_row(str(row["id"]), row["account_id"], str(row["start_day"]), str(row["end_day"]), row["note"],
                      row["created_by"])
    console_for().print(table)
