"""New versus existing customers: per account, the share of its conversions that came from people who
were already customers, with a 90% interval.

A conversion here is a CRM record (all stages of one CRM id) attributed to the account (last paid
touch, docs/outcomes.md) whose click day is in the report's period. It came from an existing customer
when one of its hashed identifiers or its CRM id belongs to the existing-customer segment (the first
`segments:` entry of kind `existing_customers`) and that person was a customer *before* the record's
first stage: a customer-list entry from its `customer_since` (an entry without one counts as a
customer all along), a CRM record from its first won stage. A person the ads turned into a customer
is therefore new, not existing.

Spend per CRM segment cannot be observed: the platforms report spend per ad set and per breakdown
(device, age, ...), never per person. Only the conversions' split is shown.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection

from agent.config import AgentConfig
from agent.customers.membership import reads, source_records
from agent.customers.settings import existing_customer_segment
from agent.storage.action_states import as_utc
from agent.storage.crm_segments import attributed_identities

Z_90 = 1.6448536269514722
SPEND_NOTE = ("spend per CRM segment cannot be observed (platforms report spend per ad set and breakdown, "
              "never per person): only conversions are split")


@dataclass
class _Conversion:
    first_at: datetime
    identifiers: set[tuple[str, str]] = field(default_factory=set)


@dataclass(frozen=True)
class ShareRow:
    account: str
    conversions: int
    existing: int
    share_low: float | None
    share_high: float | None

    @property
    def new(self) -> int:
        return self.conversions - self.existing

    @property
    def share(self) -> float | None:
        return self.existing / self.conversions if self.conversions else None

    def as_json(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {"account": self.account, "conversions": self.conversions, "existing": self.existing,
                "new": self.new, "existing_share": rounded(self.share),
                "existing_share_low": rounded(self.share_low), "existing_share_high": rounded(self.share_high)}


def wilson_interval(successes: int, trials: int, z: float = Z_90) -> tuple[float | None, float | None]:
    """The Wilson score interval of a proportion (90% by default); (None, None) with no trials."""
    if trials == 0:
        return None, None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def _customers_since(connection: Connection, config: AgentConfig) -> tuple[dict[object, datetime | None], str] | None:
    """Identifier or ("crm_id", id) -> when that person became a customer (None: all along), per the
    existing-customer segment's rule; None when no such segment is configured."""
    segment = existing_customer_segment(config.segments)
    if segment is None:
        return None
    since: dict[object, datetime | None] = {}
    for record in source_records(connection, config):
        if not record.customer or not reads(segment, record):
            continue
        became = record.customer_since
        for key in (*record.identifiers, ("crm_id", record.record_id)):
            if key not in since:
                since[key] = became
                continue
            current = since[key]
            if current is not None and (became is None or became < current):
                since[key] = became
    return since, segment.name


def _conversions(connection: Connection, start: date, end: date, account_ids: Collection[str] | None,
                 by: str) -> dict[str, dict[str, _Conversion]]:
    """CRM records with a click day in the period, grouped by `by` (account_id or campaign_id)."""
    conversions: dict[str, dict[str, _Conversion]] = defaultdict(dict)
    for row in attributed_identities(connection, account_ids):
        if row["click_day"] is None or not start <= row["click_day"] <= end or row[by] is None:
            continue
        at = as_utc(row["stage_at"])
        conversion = conversions[str(row[by])].setdefault(row["crm_id"], _Conversion(at))
        conversion.first_at = min(conversion.first_at, at)
        conversion.identifiers |= {(k, row[f"{k}_sha256"]) for k in ("email", "phone") if row[f"{k}_sha256"]}
        conversion.identifiers.add(("crm_id", row["crm_id"]))
    return conversions


def campaign_shares(connection: Connection, config: AgentConfig, account_id: str, start: date, end: date
                    ) -> dict[str, ShareRow]:
    """Per campaign of one account: its CRM conversions in the period and how many came from existing
    customers (empty without an existing-customer segment or attributed outcomes)."""
    found = _customers_since(connection, config)
    if found is None:
        return {}
    since = found[0]
    result = {}
    for campaign, records in _conversions(connection, start, end, [account_id], "campaign_id").items():
        existing = sum(1 for c in records.values() if _was_customer(c, since))
        low, high = wilson_interval(existing, len(records))
        result[campaign] = ShareRow(account_id, len(records), existing, low, high)
    return result


def customer_share(connection: Connection, config: AgentConfig, start: date, end: date,
                   account_ids: Collection[str] | None = None) -> dict[str, Any]:
    """The report's `customers` section: per account, conversions from existing and from new customers."""
    found = _customers_since(connection, config)
    if found is None:
        return {"segment": None, "note": "no segment of kind existing_customers configured", "rows": []}
    since, segment_name = found
    conversions = _conversions(connection, start, end, account_ids, "account_id")
    rows = []
    for account, records in sorted(conversions.items()):
        existing = sum(1 for c in records.values() if _was_customer(c, since))
        low, high = wilson_interval(existing, len(records))
        rows.append(ShareRow(account, len(records), existing, low, high).as_json())
    return {"segment": segment_name, "note": SPEND_NOTE,
            "basis": "CRM records attributed to the account (last paid touch) with a click day in the period; "
                     "existing: a customer before the record's first stage", "rows": rows}


def _was_customer(conversion: _Conversion, since: dict[object, datetime | None]) -> bool:
    for key in conversion.identifiers:
        if key in since:
            became = since[key]
            if became is None or became < conversion.first_at:
                return True
    return False


def render_text(section: dict[str, Any]) -> str:
    if section["segment"] is None:
        return ""
    out = [f"\nNew vs existing customers (segment {section['segment']}; {section['note']})"]
    if not section["rows"]:
        out.append("  no CRM records attributed to an account in the period")
    for row in section["rows"]:
        share = "–" if row["existing_share"] is None else (
            f"{row['existing_share']:.1%} ({row['existing_share_low']:.1%}-{row['existing_share_high']:.1%})")
        out.append(f"  {row['account']:<28} conversions {row['conversions']:>6}  existing {row['existing']:>6}  "
                   f"new {row['new']:>6}  existing share {share}")
    return "\n".join(out) + "\n"
