"""`connectors check`: can we reach each account, and what do we see there?"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from agent.bootstrap import build_connectors
from agent.clock import local_today
from agent.commands.common import (
    clock_for,
    config_option,
    console_for,
    engine_for,
    fail,
    load_or_exit,
    today_option,
)
from connectors.registry import available_platforms


@click.group("connectors")
def connectors_group() -> None:
    """Platform connectors."""


@connectors_group.command("check")
@click.option("--account", "account_ids", multiple=True, help="Only this account (repeatable).")
@config_option
@today_option
def connectors_check(account_ids: tuple[str, ...], config_path: Path, today: Any) -> None:
    """Verify credentials and access for each configured account and print what it can see."""
    config = load_or_exit(config_path)
    known = [a.id for a in config.accounts]
    unknown = [a for a in account_ids if a not in known]
    if unknown:
        fail(f"unknown account {', '.join(map(repr, unknown))} (configured: {', '.join(known)})")
    clock = clock_for(today)
    console = console_for()
    console.print(f"installed connectors: {', '.join(available_platforms())}", markup=False)
    failures = 0
    with engine_for(config) as engine:
        connectors = build_connectors(config, clock, engine)
        for account in config.accounts:
            if account_ids and account.id not in account_ids:
                continue
            connector = connectors[account.platform]
            try:
                visible = {a.account_id: a for a in connector.accounts()}
                info = visible.get(account.id)
                if info is None:
                    raise LookupError("the credentials do not give access to this account")
                levels = Counter(e.level for e in connector.entities(account.id))
                yesterday = local_today(clock, account.timezone) - timedelta(days=1)
                rows = sum(1 for _ in connector.daily_metrics(account.id, yesterday - timedelta(days=6), yesterday))
            except Exception as error:  # report every account, then fail
                failures += 1
                console.print(f"FAIL {account.id} ({account.platform}): {type(error).__name__}: {error}", markup=False)
                continue
            seen = ", ".join(f"{count} {level}s" for level, count in sorted(levels.items())) or "no entities"
            console.print(f"OK   {account.id} ({account.platform}, {info.name}, {info.currency}, {info.timezone}): "
                          f"{seen}; {rows} metric rows in the last 7 days", markup=False)
    if failures:
        raise SystemExit(1)
