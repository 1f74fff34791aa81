"""One account's pull: read everything the platform has for it, then store it in one transaction.

Called by the per-account turn (agent/cycle/account_turn.py) before evaluating and gating.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from concurrent.futures import Future, wait
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from agent.config import AccountConfig
from agent.cycle import reach_plan
from agent.cycle.concurrency import OneAfterAnother, ReadPool
from agent.cycle.optional_reads import OptionalReads
from agent.cycle.run_context import RunContext
from agent.cycle.segment_pull import futures, start_breakdowns, store_breakdowns
from agent.cycle.summary import CycleSummary
from agent.storage import store
from agent.storage.intraday_store import replace_intraday
from agent.storage.window_spend import ad_set_spend
from connectors.base import AccountInfoReader, Connector, SizedAudiences
from connectors.errors import ConnectorError
from connectors.records import AccountInfo, MetricRow
from policies.rules.intraday import wants_intraday


def pull_window(latest_stored: date | None, today: date, lookback_days: int, initial_days: int,
                recent_days: int | None = None) -> tuple[date, date]:
    """Days to (re-)pull: everything missing, and at least the look-back window that platforms restate,
    or only its last `recent_days` when the rest of it was already re-read today."""
    end = today - timedelta(days=1)
    if latest_stored is None:
        return today - timedelta(days=initial_days), end
    reread = lookback_days if recent_days is None else min(recent_days, lookback_days)
    return min(latest_stored + timedelta(days=1), today - timedelta(days=reread)), end


def reread_recent_only(connection: Connection, account: AccountConfig, today: date, lookback_days: int,
                       recent_days: int) -> int | None:
    """`recent_days` if the older part of the look-back window was re-read earlier in the account's local
    day (so this cycle re-reads only the recent days), else None (re-read the whole window).

    Late conversions reach a day weeks old a few at a time; a re-read of it an hour later finds next to
    nothing new, while a day-old day still changes by the hour. Each local day's first cycle re-reads
    all of the window, so a daily schedule always does."""
    if recent_days >= lookback_days:
        return None
    last = store.last_reread(connection, account.id, today - timedelta(days=lookback_days),
                             today - timedelta(days=recent_days + 1))
    midnight = datetime.combine(today, time(0), tzinfo=ZoneInfo(account.timezone))
    return recent_days if last is not None and last >= midnight else None


def start_intraday(ctx: RunContext, account: AccountConfig, connector: Connector, today: date,
                   pool: ReadPool) -> Future[list[MetricRow]] | None:
    """Today's partial rows, read only for accounts a rule reads the current day of, and only from a
    connector that reports the day as it goes (`intraday_metrics`: Google, Meta, the simulator;
    LinkedIn reports whole days). They go to their own table: the built-in policies see complete days."""
    read = getattr(connector, "intraday_metrics", None)
    if read is None or not wants_intraday(ctx.config.rules, account.id, account.platform):
        return None
    return pool.submit(lambda: list(read(account.id, today)))


def pull_account(ctx: RunContext, account: AccountConfig, today: date, summary: CycleSummary,
                 info: AccountInfo | None, reads: ReadPool | None = None) -> None:
    """Read everything from the platform first, then write it in one short transaction (SQLite
    allows one writer at a time, and a platform call must never hold a database lock). Reads that
    do not depend on each other go to `reads` together."""
    engine, config, clock, connector = ctx.engine, ctx.config, ctx.clock, ctx.connectors[account.platform]
    pool = reads or OneAfterAnother()
    overlap = config.policy_settings(account).audience_overlap
    with engine.connect() as connection:
        latest = store.latest_metric_day(connection, account.id)
        recent = reread_recent_only(connection, account, today, config.lookback_days, config.lookback_recent_days)
        start, end = pull_window(latest, today, config.lookback_days, config.initial_history_days, recent)
        known_reach = store.load_reach_estimate_records(connection, account.id)
        stored_audiences = store.load_audiences(connection, account.id)
        before = reach_plan.stored_days_before(today, overlap, start)
        earlier_spend = ad_set_spend(connection, account.id, *before) if before else {}
    if info is None and isinstance(connector, AccountInfoReader):
        info = connector.account_info(account.id)
    if info is None:
        info = next((a for a in connector.accounts() if a.account_id == account.id), None)
    if info is None:
        raise ConnectorError(f"account {account.id}: not visible to the {account.platform} connector")
    # listed in the read's own thread: a connector returning a lazy iterable reads while iterated
    entities_read = pool.submit(lambda: list(connector.entities(account.id)))
    metrics_read = pool.submit(lambda: list(connector.daily_metrics(account.id, start, end)))
    search_terms_read = pool.submit(lambda: list(connector.search_terms(account.id, start, end)))
    audiences_read = pool.submit(lambda: list(connector.audiences(account.id)))
    breakdowns = start_breakdowns(connector, account.id, account.platform, start, end, pool)
    intraday_read = start_intraday(ctx, account, connector, today, pool)
    rest: list[Future[Any]] = [metrics_read, search_terms_read, audiences_read, *futures(breakdowns),
                               *([intraday_read] if intraday_read is not None else [])]
    optional = OptionalReads(account.id, account.platform)  # enrichments: a failure is noted, the pull goes on
    try:
        entities = entities_read.result()
        audiences = optional.result("audiences", audiences_read)
        competing = reach_plan.competing_ad_sets(today, overlap, earlier_spend, start, metrics_read.result()) \
            if overlap.enabled else {}
        sized = [a.audience_id for a in audiences or () if a.estimated_size > 0] \
            if isinstance(connector, SizedAudiences) and connector.audience_size_is_reach() else []
        wanted = reach_plan.wanted_keys(entities, competing, sized, overlap.max_partners_per_ad_set)
        definitions = reach_plan.definitions(wanted, entities, stored_audiences if audiences is None else audiences)
        ask = reach_plan.keys_to_ask(today, definitions, known_reach, overlap.reach_max_age_days)
        reach = _reach_estimates(connector, account.id, ask, pool, optional)
    finally:  # nothing of this account's is left running once it has failed or finished
        wait(rest)
    metrics = metrics_read.result()
    search_terms = optional.result("search terms", search_terms_read) or []
    now = clock.now()
    with store.one_writer(engine), engine.begin() as connection:  # SQLite: pulls write one after another
        store.upsert_account(connection, info, now)
        store.upsert_entities(connection, entities, now)
        summary.ad_sets += sum(1 for e in entities if e.level == "ad_set")
        summary.metric_rows_upserted += store.upsert_metrics(connection, metrics, now)
        summary.search_term_rows_upserted += store.upsert_search_terms(connection, search_terms, now)
        store.record_conversion_revisions(connection, account.id, pulled_on=today, first_day=start)
        if audiences is not None:  # unread: the audiences stored before are kept
            store.upsert_audiences(connection, audiences, now)
        store.upsert_reach_estimates(connection, account.id, reach, today, definitions)
        store_breakdowns(connection, breakdowns, metrics, start, end, now, optional)
        if intraday_read is not None:
            partial = optional.result("today's partial rows", intraday_read)
            if partial is not None:
                replace_intraday(connection, account.id, today, partial, now)
        optional.record(connection, now, summary.cycle_id)


def _reach_estimates(connector: Connector, account_id: str, keys: Sequence[frozenset[str]], reads: ReadPool,
                     optional: OptionalReads) -> dict[frozenset[str], int]:
    """The platform's reach for each of `keys` (chosen by `agent.cycle.reach_plan`).

    No platform API returns overlap; reach(A) + reach(B) - reach(A or B) estimates it. Each estimate
    is a request against the platform's rate limits. An estimate the platform cannot give (None) or
    that fails is left out, noted in `optional`.
    """
    estimates = {key: reads.submit(functools.partial(connector.estimate_reach, account_id, sorted(key)))
                 for key in keys}
    wait(estimates.values())
    found = {key: optional.result("reach estimates", estimate) for key, estimate in estimates.items()}
    return {key: size for key, size in found.items() if size is not None}
