"""Which ad sets get new copy: those with a fatigued ad (a `refresh_creative` proposal) and those
whose click-through rate lags the account's other ad sets."""

from __future__ import annotations

import statistics
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from policies.base import Proposal, Snapshot, Totals
from policies.protection import may_change

NEW_AD_GRACE_DAYS = 14  # an ad set whose newest ad is younger is still testing it: no more copy yet


@dataclass(frozen=True)
class Trigger:
    """Why an ad set is getting new copy, in words and numbers."""

    ad_set_id: str
    reason: str
    kind: str  # "creative_fatigue" | "low_ctr"
    evidence: dict[str, Any]
    priority: float  # lower first


def _newest_ad_age(snapshot: Snapshot, ad_set_id: str) -> int | None:
    """Days since the ad set's newest ad was created (or first delivered), None without ads."""
    ages = []
    for ad in snapshot.entities.values():
        if ad.level != "ad" or ad.parent_id != ad_set_id or ad.status == "REMOVED":
            continue
        created = ad.attributes.get("created")
        if created:
            ages.append((snapshot.today - date.fromisoformat(str(created)[:10])).days)
            continue
        first = next((r.day for r in snapshot.daily.get(ad.entity_id, ()) if r.level == "ad" and r.impressions), None)
        ages.append((snapshot.today - first).days if first else 0)
    return min(ages) if ages else None


def find_triggers(snapshot: Snapshot, refresh_proposals: Sequence[Proposal], low_ctr_ratio: float,
                  window_days: int, min_impressions: int, skip_ad_sets: Collection[str] = ()) -> list[Trigger]:
    """Ad sets to draft for, fatigue first, then the lowest CTR relative to the account's median."""
    triggers: dict[str, Trigger] = {}
    for proposal in refresh_proposals:
        if proposal.kind != "refresh_creative":
            continue
        ad = snapshot.entities.get(proposal.entity_id)
        ad_set_id = ad.parent_id if ad is not None and ad.level == "ad" else proposal.entity_id
        if ad_set_id is None or ad_set_id in triggers:
            continue
        decline = proposal.evidence.get("relative_decline")
        triggers[ad_set_id] = Trigger(
            ad_set_id,
            f"creative fatigue on ad {proposal.entity_name!r}"
            + (f" (CTR down {decline:.0%})" if isinstance(decline, int | float) else ""),
            "creative_fatigue",
            {"source": proposal.policy, "ad_id": proposal.entity_id, "relative_decline": decline,
             "frequency": proposal.evidence.get("frequency")},
            -float(decline or 0),
        )
    start, end = snapshot.today - timedelta(days=window_days), snapshot.today - timedelta(days=1)
    rates: dict[str, Totals] = {}
    for entity in snapshot.entities.values():
        if entity.level == "ad_set" and entity.status == "ACTIVE":
            totals = Totals.of([r for r in snapshot.rows(entity.entity_id, start, end) if r.level == "ad_set"])
            if totals.impressions >= min_impressions and totals.ctr is not None:
                rates[entity.entity_id] = totals
    if len(rates) >= 3:
        median = statistics.median(t.ctr or 0.0 for t in rates.values())
        for ad_set_id, totals in sorted(rates.items()):
            ratio = (totals.ctr or 0.0) / median if median else 1.0
            if ratio < low_ctr_ratio and ad_set_id not in triggers:
                triggers[ad_set_id] = Trigger(
                    ad_set_id, f"CTR {totals.ctr:.2%} is {ratio:.0%} of the account's median ad set ({median:.2%})",
                    "low_ctr", {"ctr": round(totals.ctr or 0.0, 6), "account_median_ctr": round(median, 6),
                                "ratio": round(ratio, 4), "window_days": window_days,
                                "impressions": totals.impressions}, ratio)
    eligible = []
    for trigger in triggers.values():
        ad_set = snapshot.entities.get(trigger.ad_set_id)
        if ad_set is None or ad_set.level != "ad_set" or ad_set.status != "ACTIVE":
            continue
        if trigger.ad_set_id in skip_ad_sets or not may_change(snapshot, trigger.ad_set_id):
            continue
        age = _newest_ad_age(snapshot, trigger.ad_set_id)
        if age is not None and age < NEW_AD_GRACE_DAYS:
            continue
        eligible.append(trigger)
    return sorted(eligible, key=lambda t: (t.kind != "creative_fatigue", t.priority, t.ad_set_id))
