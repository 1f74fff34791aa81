"""`segments suggest`: segments worth treating apart, from the stored breakdowns and CRM outcomes
(the imperative shell of policies/segment_discovery.py and policies/customer_segments.py).

Breakdowns: per account, its ad sets' segment rows over the window are pooled per (dimension,
segment) with the account's lag curve, dispersion and ROAS target (the underperformers' settings).
CRM: every stored outcome, one person per hashed email (else hashed phone, else CRM record id), the
channel from the click ids (else utm_source). Each suggestion comes with a config snippet a person
can paste under the account: a copy segment (docs/copy.md, "Copy per segment"), valid as printed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import yaml
from sqlalchemy import Engine

from agent.clock import Clock
from agent.config import AccountConfig, AgentConfig
from agent.decisions.snapshots import load_snapshot
from agent.outcomes.store import all_outcomes
from agent.storage.segment_store import load_segment_rows
from connectors.segments import DELIVERY_DIMENSIONS
from policies.conversion_lag import lag_curve
from policies.customer_segments import (
    CustomerSuggestion,
    StageRecord,
    cluster_segments,
    customers_from,
    rfm_segments,
)
from policies.roas_evidence import estimate_dispersion, window_bounds
from policies.segment_discovery import BreakdownSuggestion, DiscoverySettings, suggest_from_breakdowns
from policies.segment_windows import segment_windows

DEFAULT_WINDOW_DAYS = 28
CHANNEL_OF_CLICK_ID = (("gclid", "google_ads"), ("gbraid", "google_ads"), ("wbraid", "google_ads"),
                       ("fbclid", "meta"), ("fbc", "meta"), ("li_fat_id", "linkedin"))


@dataclass
class AccountSuggestions:
    account_id: str
    platform: str
    start: date
    end: date
    suggestions: list[BreakdownSuggestion]


@dataclass
class CrmSuggestions:
    customers: int = 0
    currency: str | None = None
    rfm: list[CustomerSuggestion] = field(default_factory=list)
    clusters: list[CustomerSuggestion] = field(default_factory=list)
    left_out: dict[str, int] = field(default_factory=dict)
    other_currency_amounts: int = 0


def slug(name: str) -> str:
    """A copy segment's name from a suggestion's: letters, digits and dashes (`+` between segments)."""
    text = re.sub(r"[^A-Za-z0-9+]+", "-", name).strip("-").lower()
    return text[:64].rstrip("-") or "segment"


def breakdown_snippet(suggestion: BreakdownSuggestion) -> dict[str, Any]:
    """The copy segment a person pastes under the account's `copywriter:` to give it its own copy."""
    segment: str | list[str] = suggestion.segments[0] if len(suggestion.segments) == 1 else list(suggestion.segments)
    return {"copywriter": {"segments": [{
        "name": slug(suggestion.name),
        "description": f"People reached through {suggestion.dimension} {', '.join(suggestion.segments)} on "
                       f"{suggestion.platform} (replace with who they are and what they care about)",
        "dimension": suggestion.dimension, "segment": segment}]}}


def customer_snippet(suggestion: CustomerSuggestion) -> dict[str, Any]:
    return {"copywriter": {"segments": [{"name": slug(suggestion.name), "description": suggestion.description}]}}



def account_suggestions(engine: Engine, config: AgentConfig, account: AccountConfig, today: date, clock: Clock,
                        window_days: int = DEFAULT_WINDOW_DAYS) -> AccountSuggestions:
    snapshot = load_snapshot(engine, account, today, clock)
    start, end = window_bounds(today, window_days)
    curve = lag_curve(snapshot)
    policy = config.policy_settings(account).underperformers
    settings = DiscoverySettings(target_roas=policy.target_roas,
                                 dispersion=estimate_dispersion(snapshot, start, end, curve))
    with engine.connect() as connection:
        rows = load_segment_rows(connection, account.id, start, end, DELIVERY_DIMENSIONS)
    completeness = {day: curve.for_day(day, today) for day in {r.day for r in rows}}
    windows = segment_windows(rows, start, end, completeness.__getitem__)
    return AccountSuggestions(account.id, snapshot.platform, start, end,
                              suggest_from_breakdowns(account.id, snapshot.platform, snapshot.currency, windows,
                                                      settings))


def crm_suggestions(engine: Engine, today: date) -> CrmSuggestions:
    with engine.connect() as connection:
        outcomes = all_outcomes(connection)
    currencies = Counter(row["currency"] for row in outcomes if row["stage"] == "won" and row["amount"] is not None)
    currency = currencies.most_common(1)[0][0] if currencies else None
    records, other_currency = [], 0
    for row in outcomes:
        amount = row["amount"]
        if amount is not None and row["currency"] != currency:
            amount, other_currency = None, other_currency + (row["stage"] == "won")
        person = row["email_sha256"] or row["phone_sha256"] or f"crm:{row['crm_id']}"
        channel = next((name for column, name in CHANNEL_OF_CLICK_ID if row[column]), None)
        records.append(StageRecord(person, row["stage"], row["stage_at"].date(),
                                   float(amount) if amount is not None else None,
                                   channel or (row["utm_source"] or "unknown").lower()))
    customers = customers_from(records)
    result = CrmSuggestions(len(customers), currency, other_currency_amounts=other_currency)
    result.rfm, result.left_out["rfm"] = rfm_segments(customers, today)
    result.clusters, result.left_out["clusters"] = cluster_segments(customers, today)
    return result


def as_json(accounts: Sequence[AccountSuggestions], crm: CrmSuggestions) -> dict[str, Any]:
    return {
        "accounts": [{"account": a.account_id, "platform": a.platform, "period": {
            "start": a.start.isoformat(), "end": a.end.isoformat()},
            "suggestions": [{**s.as_json(), "config": breakdown_snippet(s)} for s in a.suggestions]}
            for a in accounts],
        "crm": {"customers": crm.customers, "currency": crm.currency, "left_out": crm.left_out,
                "amounts_in_other_currencies": crm.other_currency_amounts,
                "rfm": [{**s.as_json(crm.currency), "config": customer_snippet(s)} for s in crm.rfm],
                "clusters": [{**s.as_json(crm.currency), "config": customer_snippet(s)} for s in crm.clusters]},
    }


def _yaml(snippet: dict[str, Any], indent: str) -> list[str]:
    text = yaml.safe_dump(snippet, sort_keys=False, allow_unicode=True, default_flow_style=False, width=110)
    return [indent + line for line in text.splitlines()]


def render_text(accounts: Sequence[AccountSuggestions], crm: CrmSuggestions) -> str:
    out: list[str] = []
    for account in accounts:
        out.append(f"Account {account.account_id} ({account.platform}), {account.start}..{account.end}: "
                   "breakdowns, ROAS lag-corrected with a 90% interval (recent days still miss late conversions)")
        if not account.suggestions:
            out.append("  no group of segments returns differently from the rest with evidence "
                       "(or no breakdown is stored yet)")
        for number, suggestion in enumerate(account.suggestions, start=1):
            out.append(f"  {number}. {suggestion.headline}")
            out.append(f"     treatment: {suggestion.treatment}. {suggestion.reason}")
            out.append("     to give it its own copy, paste under the account:")
            out += _yaml(breakdown_snippet(suggestion), "       ")
        if len(account.suggestions) > 1:
            out.append("  segments of different dimensions may hold the same people (breakdowns are one dimension each)")
    out.append(f"CRM, all accounts: {crm.customers} customers (people with a won stage), value in {crm.currency or '-'}")
    if crm.other_currency_amounts:
        out.append(f"  {crm.other_currency_amounts} won amounts in other currencies are not counted as value")
    for title, found, key in (("RFM (recency, frequency, value)", crm.rfm, "rfm"),
                              ("Clusters on CRM fields", crm.clusters, "clusters")):
        out.append(f"  {title}:")
        if not found:
            out.append("    none: at least 30 customers are needed")
        for number, group in enumerate(found, start=1):
            out.append(f"    {number}. {group.name}: {group.customers} customers ({group.share:.0%}), "
                       f"value {group.value:,.2f} ({group.value_share:.0%}), mean {group.mean_value:,.2f} "
                       f"(90% {group.mean_low:,.2f}-{group.mean_high:,.2f})")
            out.append(f"       {group.description}. Treatment: {group.treatment}: {group.why}.")
            out += _yaml(customer_snippet(group), "       ")
        if crm.left_out.get(key):
            out.append(f"    {crm.left_out[key]} customers in groups under 5% of customers are left out")
    return "\n".join(out) + "\n"
