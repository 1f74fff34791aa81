"""Creative fatigue: ads whose click-through rate decays as the same people see them again and again.

For each active ad the early-life CTR (its first `baseline_days` days of delivery) is compared with
its recent CTR (the last `recent_days`) by a one-sided two-proportion z-test. A refresh is proposed
when the drop is significant (p <= `max_p_value`), large (>= `min_decline`) and comes with a high
frequency, i.e. cumulative impressions per person in the audience:
- audience size from the entity's `audience_size` attribute, else the ad set's audiences' union
  reach, else inferred from daily reach: with Poisson exposure a day with I impressions reaches
  R = N (1 - exp(-I / N)) of N people, which is solved for N;
- on search (no reach, no audience) frequency is unknown and the CTR test decides alone.
The evidence also carries the slope of log-CTR against cumulative frequency (a fatigue rate).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from connectors.records import Entity, MetricRow
from policies.base import Proposal, Snapshot
from policies.protection import may_change
from policies.settings import CreativeFatigueSettings

POLICY_NAME = "creative_fatigue"


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def two_proportion_z(clicks_a: int, impressions_a: int, clicks_b: int, impressions_b: int) -> tuple[float, float]:
    """z and one-sided p-value for H1: rate a > rate b (pooled standard error)."""
    if impressions_a <= 0 or impressions_b <= 0:
        return 0.0, 1.0
    pooled = (clicks_a + clicks_b) / (impressions_a + impressions_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / impressions_a + 1 / impressions_b))
    if se <= 0:
        return 0.0, 1.0
    z = (clicks_a / impressions_a - clicks_b / impressions_b) / se
    return z, normal_sf(z)


def audience_size_from_reach(impressions: int, reach: int) -> float | None:
    """N solving reach = N (1 - exp(-impressions / N)); None when the day shows no repeat exposure."""
    if reach <= 0 or impressions <= reach:
        return None
    low, high = float(reach), float(reach) * 1e6
    for _ in range(100):
        middle = math.sqrt(low * high)
        if middle * -math.expm1(-impressions / middle) < reach:
            low = middle
        else:
            high = middle
    return math.sqrt(low * high)


@dataclass(frozen=True)
class _Period:
    impressions: int
    clicks: int
    first_day: str
    last_day: str

    @property
    def ctr(self) -> float:
        return self.clicks / self.impressions if self.impressions else 0.0


def _period(rows: Sequence[MetricRow]) -> _Period:
    return _Period(sum(r.impressions for r in rows), sum(r.clicks for r in rows),
                   rows[0].day.isoformat(), rows[-1].day.isoformat())


def _audience_size(snapshot: Snapshot, ad: Entity, rows: Sequence[MetricRow]) -> tuple[float | None, str]:
    ad_set = snapshot.entities.get(ad.parent_id or "")
    for entity in (ad, ad_set):
        if entity is not None and entity.attributes.get("audience_size"):
            return float(entity.attributes["audience_size"]), "audience_size attribute"
    audience_ids = list(ad_set.attributes.get("audience_ids", ())) if ad_set else []
    if audience_ids:
        estimate = snapshot.reach_estimates.get(frozenset(audience_ids))
        if estimate is None and len(audience_ids) == 1:
            estimate = next((a.estimated_size for a in snapshot.audiences if a.audience_id == audience_ids[0]), None)
        if estimate:
            return float(estimate), "audience reach estimate"
    sizes = sorted(
        size for size in (audience_size_from_reach(r.impressions, r.reach) for r in rows if r.reach) if size
    )
    if sizes:
        return sizes[len(sizes) // 2], "inferred from daily reach"
    return None, "unknown"


def _fatigue_slope(rows: Sequence[MetricRow], audience: float | None) -> float | None:
    """Impression-weighted least-squares slope of log CTR against cumulative frequency (or day index)."""
    points: list[tuple[float, float, float]] = []
    cumulative = 0
    for index, row in enumerate(rows):
        cumulative += row.impressions
        if row.clicks > 0 and row.impressions > 0:
            x = cumulative / audience if audience else float(index)
            points.append((x, math.log(row.clicks / row.impressions), float(row.impressions)))
    if len(points) < 4:
        return None
    weight = sum(w for _, _, w in points)
    mean_x = sum(x * w for x, _, w in points) / weight
    mean_y = sum(y * w for _, y, w in points) / weight
    sxx = sum(w * (x - mean_x) ** 2 for x, _, w in points)
    if sxx <= 0:
        return None
    return sum(w * (x - mean_x) * (y - mean_y) for x, y, w in points) / sxx


def propose_creative_refresh(snapshot: Snapshot, settings: CreativeFatigueSettings) -> list[Proposal]:
    """refresh_creative proposals (report-type) for ads whose CTR has significantly decayed."""
    if not settings.enabled:
        return []
    proposals = []
    for ad in sorted(snapshot.entities.values(), key=lambda e: e.entity_id):
        if ad.level != "ad" or not may_change(snapshot, ad.entity_id):
            continue
        ad_set = snapshot.entities.get(ad.parent_id or "")
        if ad_set is not None and ad_set.status != "ACTIVE":
            continue
        rows = [r for r in snapshot.daily.get(ad.entity_id, ()) if r.level == "ad" and r.impressions > 0
                and r.day < snapshot.today]
        if len(rows) < settings.baseline_days + settings.recent_days:
            continue
        if (snapshot.today - rows[-1].day).days > 2:  # no longer delivering
            continue
        early, recent = _period(rows[: settings.baseline_days]), _period(rows[-settings.recent_days:])
        if min(early.impressions, recent.impressions) < settings.min_impressions or early.ctr <= 0:
            continue
        decline = 1 - recent.ctr / early.ctr
        z, p_value = two_proportion_z(early.clicks, early.impressions, recent.clicks, recent.impressions)
        if decline < settings.min_decline or p_value > settings.max_p_value:
            continue
        audience, audience_source = _audience_size(snapshot, ad, rows)
        cumulative = sum(r.impressions for r in rows)
        frequency = cumulative / audience if audience else None
        if frequency is not None and frequency < settings.min_frequency:
            continue
        slope = _fatigue_slope(rows, audience)
        frequency_text = (f"each person in the audience has seen it about {frequency:.1f} times"
                          if frequency is not None else "frequency is unknown on this platform")
        proposals.append(Proposal.about(
            snapshot.account_id, ad,
            kind="refresh_creative",
            policy=POLICY_NAME,
            change={"from": {"status": "ACTIVE"}, "to": {"refresh_creative": True}},
            rationale=(
                f"CTR fell {decline:.0%}, from {early.ctr:.2%} in its first {settings.baseline_days} days "
                f"({early.first_day}..{early.last_day}) to {recent.ctr:.2%} in the last {settings.recent_days} "
                f"({recent.first_day}..{recent.last_day}); two-proportion z = {z:.2f}, one-sided p = "
                f"{p_value:.1e}. {frequency_text.capitalize()}: new copy should restore the click rate."
            ),
            evidence={
                "early": {"from": early.first_day, "to": early.last_day, "impressions": early.impressions,
                          "clicks": early.clicks, "ctr": round(early.ctr, 6)},
                "recent": {"from": recent.first_day, "to": recent.last_day, "impressions": recent.impressions,
                           "clicks": recent.clicks, "ctr": round(recent.ctr, 6)},
                "relative_decline": round(decline, 4),
                "z": round(z, 3),
                "p_value": p_value,
                "cumulative_impressions": cumulative,
                "frequency": None if frequency is None else round(frequency, 3),
                "audience_size": None if audience is None else round(audience),
                "audience_size_source": audience_source,
                "log_ctr_slope": None if slope is None else round(slope, 5),
                "slope_per": "unit of frequency" if audience else "day",
                "creative": dict(ad.attributes),
                "test": "one-sided two-proportion z-test, early life vs recent CTR",
            },
        ))
    return proposals
