"""`sim crm-export`: the simulated world's leads and their CRM stages as a plain-mapping CSV."""

from __future__ import annotations

import csv
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
    ensure_schema,
    fail,
    load_or_exit,
    today_option,
)
from connectors.simulator.crm import COLUMNS, AdSetDay, crm_export_rows


@click.command("crm-export")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="CSV file to write.")
@click.option("--days", type=click.IntRange(1, 365), default=None,
              help="Leads from clicks on this many days before today (default: initial_history_days, the "
                   "days of spend the first cycle stores).")
@config_option
@today_option
def crm_export(out: Path, days: int | None, config_path: Path, today: Any) -> None:
    """Write a CRM export of the simulated leads (plain mapping), a few bad rows included."""
    config = load_or_exit(config_path)
    clock = clock_for(today)
    days = days or config.initial_history_days
    simulated = [account for account in config.accounts if account.platform == "simulator"]
    if not simulated:
        fail(f"{config_path} has no simulated accounts (platform: simulator)")
    with engine_for(config) as engine:
        ensure_schema(engine)
        simulator = build_connectors(config, clock, engine)["simulator"]
        rows: list[AdSetDay] = []
        for account in simulated:
            end = local_today(clock, account.timezone) - timedelta(days=1)
            parents = {e.entity_id: e.parent_id for e in simulator.entities(account.id) if e.level == "ad_set"}
            for metric in simulator.daily_metrics(account.id, end - timedelta(days=days - 1), end):
                if metric.level == "ad_set" and metric.conversions >= 1:
                    rows.append(AdSetDay(account.id, account.simulate or "google_ads", account.currency,
                                         parents.get(metric.entity_id) or "", metric.entity_id, metric.day,
                                         metric.spend, int(metric.conversions)))
    lines = crm_export_rows(rows, config.simulator.seed, clock.now().date())
    try:
        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(lines)
    except OSError as error:
        fail(f"cannot write {out}: {error.strerror or type(error).__name__}")
    leads = len({line["crm_id"] for line in lines})
    console_for().print(f"CRM export written to {out}: {len(lines)} rows, {leads} records", markup=False)
