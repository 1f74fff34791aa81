"""Pause ad sets whose return on ad spend stays below target once they have spent enough.

First, deliberately simple version: ROAS over a trailing window against a target, gated by a
minimum spend and a minimum time live, never on a protected, learning or already paused ad set.
"""

from __future__ import annotations

from datetime import timedelta

from policies.settings import UnderperformersSettings
from policies.base import Proposal, Snapshot, Totals

POLICY_NAME = "underperformers"


def propose_pauses(snapshot: Snapshot, settings: UnderperformersSettings) -> list[Proposal]:
    """Proposals to pause the account's ad sets that earn too little per unit of spend."""
    if not settings.enabled:
        return []
    end = snapshot.today - timedelta(days=1)
    start = end - timedelta(days=settings.window_days - 1)
    proposals: list[Proposal] = []
    for entity in snapshot.entities.values():
        if entity.level != "ad_set" or entity.status != "ACTIVE":
            continue
        if entity.entity_id in snapshot.protected_entities or entity.learning:
            continue
        all_rows = snapshot.daily.get(entity.entity_id, ())
        live_days = sum(1 for row in all_rows if row.spend > 0)
        if live_days < settings.min_days_live:
            continue
        totals = Totals.of(snapshot.rows(entity.entity_id, start, end))
        roas = totals.roas
        if totals.spend < settings.min_spend or roas is None or roas >= settings.target_roas:
            continue
        proposals.append(
            Proposal(
                kind="pause",
                policy=POLICY_NAME,
                account_id=snapshot.account_id,
                entity_id=entity.entity_id,
                entity_level=entity.level,
                entity_name=entity.name,
                change={"from": {"status": "ACTIVE"}, "to": {"status": "PAUSED"}},
                rationale=(
                    f"ROAS {roas:.2f} over {start}..{end} is below the target {settings.target_roas:.2f} "
                    f"on {totals.spend:.2f} {snapshot.currency} of spend "
                    f"({totals.conversion_value:.2f} {snapshot.currency} of conversion value)."
                ),
                evidence={
                    "window": [start.isoformat(), end.isoformat()],
                    "spend": str(totals.spend),
                    "conversion_value": str(totals.conversion_value),
                    "conversions": totals.conversions,
                    "clicks": totals.clicks,
                    "impressions": totals.impressions,
                    "roas": round(roas, 4),
                    "target_roas": settings.target_roas,
                    "min_spend": str(settings.min_spend),
                    "test": "trailing-window ROAS below target with minimum spend",
                },
            )
        )
    return proposals
