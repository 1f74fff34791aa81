"""Audience overlap: two active ad sets bidding for the same people raise each other's prices.

For audiences a (targeted by ad set S) and b (targeted by ad set W), the overlap is
reach(a) + reach(b) - reach(a u b), from the platform's reach estimates (singles from the estimates
or the audience's size). It competes when overlap / min(reach(a), reach(b)) >= `overlap_threshold`.
The stronger ad set (higher lag-corrected posterior ROAS, by at least `min_roas_gap`) keeps the
people; the weaker one excludes the stronger's audience. Estimated wasted spend = the weaker ad
set's window spend x the share of its audience inside the overlap (what it pays to compete with
its own account), and the value it could gain = that spend x (ROAS of the stronger - its own).
An audience that both ad sets target is never excluded (it would empty the weaker ad set), nor is an
audience the weaker ad set already excludes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from connectors.records import Entity, quantize_money
from policies.base import Proposal, Snapshot
from policies.conversion_lag import lag_curve
from policies.money import money_str
from policies.protection import is_protected
from policies.roas_evidence import (
    WindowEvidence,
    ad_set_ids,
    collect_window,
    estimate_value_cv,
    roas_posterior,
    window_bounds,
)
from policies.settings import AudienceOverlapSettings

POLICY_NAME = "audience_overlap"


@dataclass(frozen=True)
class _AdSet:
    entity: Entity
    audience_ids: tuple[str, ...]
    excluded: frozenset[str]
    window: WindowEvidence
    roas: float


def _audiences(entity: Entity, key: str) -> frozenset[str]:
    return frozenset(str(a) for a in entity.attributes.get(key, ()))


def _disjoint(first: Entity, second: Entity, key: str) -> bool:
    """Both ad sets name their countries (or other values under `key`) and share none."""
    ours, theirs = first.attributes.get(key) or (), second.attributes.get(key) or ()
    return bool(ours) and bool(theirs) and not {str(v) for v in ours} & {str(v) for v in theirs}


def _one_value_disjoint(first: Entity, second: Entity) -> bool:
    """Both ad sets restrict a dimension on which a person has exactly one value (`one_value_targeting`:
    Meta's gender, LinkedIn's age range and gender) to values they do not share."""
    ours, theirs = first.attributes.get("one_value_targeting") or {}, second.attributes.get("one_value_targeting") or {}
    return any(ours[key] and theirs[key] and not {str(v) for v in ours[key]} & {str(v) for v in theirs[key]}
               for key in set(ours) & set(theirs))


def targeting_can_overlap(first: Entity, second: Entity) -> bool:
    """False when no person can be reached by both ad sets: disjoint countries, age ranges, or values
    of a dimension a person has one value of (gender, LinkedIn's age range). Targeting the platform
    did not report (no `countries`, no ages) can overlap."""
    if _disjoint(first, second, "countries") or _one_value_disjoint(first, second):
        return False
    ages = [entity.attributes.get(key) for entity in (first, second) for key in ("age_min", "age_max")]
    if all(age is not None for age in ages):
        low_a, high_a, low_b, high_b = (int(str(age)) for age in ages)
        return low_a <= high_b and low_b <= high_a
    return True


def pair_can_matter(first: Entity, second: Entity, own: str, other: str) -> bool:
    """Whether the overlap of `own` (targeted by `first`) and `other` (by `second`) can lead to an
    exclusion. Not when either ad set already excludes the other's audience (their people are apart),
    nor when each ad set targets both audiences (neither would ever exclude one)."""
    if own == other or other in _audiences(first, "excluded_audience_ids") \
            or own in _audiences(second, "excluded_audience_ids"):
        return False
    return own not in _audiences(second, "audience_ids") or other not in _audiences(first, "audience_ids")


def overlap_pairs(entities: Iterable[Entity], competing: Collection[str] | Mapping[str, Decimal] | None = None,
                  max_partners: int = 0) -> set[frozenset[str]]:
    """The audience pairs whose reach estimate the policy can use: audiences of two different active
    ad sets (in active campaigns) whose targeting can overlap. Linear in ad sets when targeting is
    split by market or age; at worst every pair, as before. `competing`, when given, are the ad sets
    the policy compares at all (window spend at least `min_spend`): the others are left out. With
    `max_partners` and `competing` as each ad set's window spend, an ad set is paired only with the
    `max_partners` ad sets it can overlap with that spend the most (and with those that chose it):
    linear in ad sets whatever the targeting. The cap applies only where the pairs that can overlap
    are more than `max_partners` per ad set."""
    by_id = {e.entity_id: e for e in entities}
    ad_sets = sorted((e for e in by_id.values() if e.level == "ad_set" and e.status == "ACTIVE"
                      and e.attributes.get("audience_ids")
                      and (competing is None or e.entity_id in competing)
                      and (e.parent_id not in by_id or by_id[str(e.parent_id)].status == "ACTIVE")),
                     key=lambda e: e.entity_id)
    candidates: dict[tuple[str, str], set[frozenset[str]]] = {}
    for i, first in enumerate(ad_sets):
        for second in ad_sets[i + 1:]:
            if not targeting_can_overlap(first, second):
                continue
            found = {frozenset((own, other))
                     for own in _audiences(first, "audience_ids") for other in _audiences(second, "audience_ids")
                     if pair_can_matter(first, second, own, other)}
            if found:
                candidates[(first.entity_id, second.entity_id)] = found
    # the cap keeps the requests linear in ad sets; pairs already within that budget are all kept (a
    # small account loses no finding to it)
    if max_partners > 0 and isinstance(competing, Mapping) and len(candidates) > max_partners * len(ad_sets):
        spend = competing
        partners: dict[str, list[str]] = {}
        for first_id, second_id in candidates:
            partners.setdefault(first_id, []).append(second_id)
            partners.setdefault(second_id, []).append(first_id)
        chosen = {frozenset((ad_set, other)) for ad_set, others in partners.items()
                  for other in sorted(others, key=lambda o: (-spend.get(o, Decimal(0)), o))[:max_partners]}
        candidates = {key: found for key, found in candidates.items() if frozenset(key) in chosen}
    return {pair for found in candidates.values() for pair in found}


def spends_enough(window_spend: Decimal, settings: AudienceOverlapSettings) -> bool:
    """Whether an ad set's spend over the policy's window lets it compete at all."""
    return window_spend > 0 and window_spend >= settings.min_spend


def _reach(snapshot: Snapshot, ids: frozenset[str]) -> int | None:
    if ids in snapshot.reach_estimates:
        return snapshot.reach_estimates[ids]
    if len(ids) == 1:
        (only,) = tuple(ids)
        return next((a.estimated_size for a in snapshot.audiences if a.audience_id == only), None)
    return None


def overlap(snapshot: Snapshot, first: str, second: str) -> tuple[int, float] | None:
    """People in both audiences and their share of the smaller one (None without estimates)."""
    reach_a, reach_b = _reach(snapshot, frozenset({first})), _reach(snapshot, frozenset({second}))
    union = _reach(snapshot, frozenset({first, second}))
    if reach_a is None or reach_b is None or union is None or min(reach_a, reach_b) <= 0:
        return None
    people = max(reach_a + reach_b - union, 0)
    return people, people / min(reach_a, reach_b)


def _ad_sets(snapshot: Snapshot, settings: AudienceOverlapSettings) -> list[_AdSet]:
    curve = lag_curve(snapshot)
    start, end = window_bounds(snapshot.today, settings.window_days)
    account = collect_window(snapshot, ad_set_ids(snapshot), start, end, curve)
    value_cv = estimate_value_cv(snapshot, start, end)
    result = []
    for entity in sorted(snapshot.entities.values(), key=lambda e: e.entity_id):
        audiences = tuple(str(a) for a in entity.attributes.get("audience_ids", ()))
        if entity.level != "ad_set" or entity.status != "ACTIVE" or not audiences:
            continue
        parent = snapshot.entities.get(entity.parent_id or "")
        if parent is not None and parent.status != "ACTIVE":
            continue
        window = collect_window(snapshot, [entity.entity_id], start, end, curve)
        if not spends_enough(window.spend, settings):
            continue
        roas = roas_posterior(window, account, 1.0, value_cv).mean
        excluded = frozenset(str(a) for a in entity.attributes.get("excluded_audience_ids", ()))
        result.append(_AdSet(entity, audiences, excluded, window, roas))
    return result


def _audience_reach(snapshot: Snapshot, ad_set: _AdSet) -> int | None:
    return _reach(snapshot, frozenset(ad_set.audience_ids))


def propose_audience_exclusions(snapshot: Snapshot, settings: AudienceOverlapSettings) -> list[Proposal]:
    """exclude_audience proposals: the weaker of two competing ad sets excludes the stronger's audience."""
    if not settings.enabled or not snapshot.audiences:
        return []
    ad_sets = _ad_sets(snapshot, settings)
    currency = snapshot.currency
    proposals: dict[tuple[str, str], Proposal] = {}
    for i, first in enumerate(ad_sets):
        for second in ad_sets[i + 1:]:
            if not targeting_can_overlap(first.entity, second.entity):
                continue  # no person can be in both: nothing to compete for
            if abs(first.roas - second.roas) < settings.min_roas_gap * max(first.roas, second.roas):
                continue  # too close to call: excluding either would be a coin toss
            strong, weak = (first, second) if first.roas > second.roas else (second, first)
            if is_protected(snapshot, weak.entity.entity_id):
                continue
            for audience in strong.audience_ids:
                if audience in weak.audience_ids or audience in weak.excluded:
                    continue
                best: tuple[int, float, str] | None = None
                for own in weak.audience_ids:
                    measured = overlap(snapshot, audience, own)
                    if measured and (best is None or measured[1] > best[1]):
                        best = (measured[0], measured[1], own)
                if best is None or best[1] < settings.overlap_threshold:
                    continue
                people, share, own = best
                weak_reach = _audience_reach(snapshot, weak) or _reach(snapshot, frozenset({own})) or 1
                share_of_weak = min(people / weak_reach, 1.0)
                wasted = quantize_money(weak.window.spend * Decimal(str(share_of_weak)), currency)
                gain = quantize_money(wasted * Decimal(str(max(strong.roas - weak.roas, 0.0))), currency)
                key = (weak.entity.entity_id, audience)
                if key in proposals:
                    continue
                proposals[key] = Proposal.about(
                    snapshot.account_id, weak.entity,
                    kind="exclude_audience",
                    policy=POLICY_NAME,
                    change={"from": {"excluded_audience_ids": sorted(weak.excluded)},
                            "to": {"excluded_audience_id": audience}},
                    rationale=(
                        f"{weak.entity.name} and {strong.entity.name} compete for {people:,} people "
                        f"({share:.0%} of the smaller audience, threshold {settings.overlap_threshold:.0%}). "
                        f"{strong.entity.name} returns more (ROAS {strong.roas:.2f} vs {weak.roas:.2f} over "
                        f"{weak.window.start}..{weak.window.end}), so {weak.entity.name} should exclude audience "
                        f"{audience}: about {money_str(wasted, currency)} {currency} of its "
                        f"{money_str(weak.window.spend, currency)} {currency} went to people both ad sets bid on."
                    ),
                    evidence={
                        "window": [weak.window.start.isoformat(), weak.window.end.isoformat()],
                        "stronger_ad_set": strong.entity.entity_id,
                        "excluded_audience_id": audience,
                        "overlapping_audience_id": own,
                        "overlap_people": people,
                        "overlap_share_of_smaller": round(share, 4),
                        "overlap_share_of_weaker_reach": round(share_of_weak, 4),
                        "roas_stronger": round(strong.roas, 4),
                        "roas_weaker": round(weak.roas, 4),
                        "weaker_spend": money_str(weak.window.spend, currency),
                        "estimated_wasted_spend": money_str(wasted, currency),
                        "estimated_value_gain": money_str(gain, currency),
                        "test": "reach(A)+reach(B)-reach(A u B) over the smaller reach vs threshold",
                    },
                )
    return sorted(proposals.values(), key=lambda p: (p.entity_id, p.change["to"]["excluded_audience_id"]))
