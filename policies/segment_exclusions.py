"""Stop delivery to a segment that, with high probability, returns less than the target.

An ad set profitable overall can spend a third of its money on a segment that never converts. The
evidence bar is the one that pauses ad sets (policies/underperformers.py): conversions Poisson on
lag-discounted spend, value per conversion log-normal, the segment shrunk towards its own ad set,
counts widened by the account's dispersion, and a proposal only when P(true ROAS < target) reaches
the confidence. Only levers the platform offers are proposed:

- Google Ads: a device bid modifier of -100% on the ad group. Smart Bidding ignores device, age,
  gender and location modifiers except -100%, so a milder cut is never proposed
  (https://support.google.com/google-ads/answer/2732132). And an age range or gender exclusion on the
  ad group (a negative criterion: the -100% Smart Bidding honours), and a location exclusion. Google
  targets locations on the campaign, so a location cut acts on every ad group of the campaign: its
  evidence is the campaign's (its ad groups' region rows summed by the shell, `campaign_level`), its
  share is the campaign's, and the campaign gets at most one such proposal per region
  (`one_location_cut_per_campaign`). Smart Bidding honours only the exclusion, so nothing milder.
- Meta: a placement exclusion on the ad set (publisher_platforms / positions in its targeting), and
  its age range narrowed by the band at one of its ends (age_min / age_max: Meta has no age
  exclusion, so a band inside the range has no lever). Never under a special ad category (Meta
  forbids narrowing age there) nor under Advantage+ audience (the age range is only a suggestion).
  And a region exclusion (excluded_geo_locations); Meta's `region` breakdown carries no off-Meta
  conversions, so where its named regions show none the regions cannot be judged and nothing is
  proposed (the rule holds for every dimension: segments without conversions are not compared).
- LinkedIn: a company-size, seniority, industry or job-function exclusion on the campaign (its
  targetingCriteria `exclude`); LinkedIn needs an audience of at least 300 members, so a known audience left smaller
  than that is not cut.

A segment is cut only if it also returns less than the rest of its ad set: when the whole ad set
loses, shrinking towards it makes every segment look bad, and that is the underperformers' call.

Guardrail: one change may cut at most `max_delivery_share` of the ad set's spend in the window, and
an ad set gets one segment proposal per cycle across all the levers of its platform: the segment
below target with the most money. Each dimension is judged against its own split of the ad set (a
segment's share and the "rest of the ad set" are within its dimension).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from connectors.records import Entity
from policies.base import Proposal
from policies.money import money_str
from policies.roas_evidence import (
    DEFAULT_DISPERSION,
    DEFAULT_VALUE_CV,
    RoasPosterior,
    WindowEvidence,
    roas_posterior,
)

POLICY_NAME = "segment_exclusions"
UNKNOWN = "unknown"
MIN_LINKEDIN_AUDIENCE = 300
META_AGE_MIN, META_AGE_MAX = 18, 65  # Meta's age range when the targeting sets none; 65 is "65 and over"
# platform -> its levers: (dimension it acts on, action kind, what the lever is called)
LEVERS: Mapping[str, tuple[tuple[str, str, str], ...]] = {
    "google_ads": (("device", "set_device_bid_modifier", "device bid modifier -100%"),
                   ("age", "exclude_age_range", "age range exclusion"),
                   ("gender", "exclude_gender", "gender exclusion"),
                   ("region", "exclude_location", "location exclusion on the campaign")),
    "meta": (("placement", "exclude_placement", "placement exclusion"),
             ("age", "narrow_age_range", "age range narrowed at its edge"),
             ("region", "exclude_region", "region exclusion")),
    "linkedin": (("company_size", "exclude_company_size", "company-size exclusion"),
                 ("seniority", "exclude_seniority", "seniority exclusion"),
                 ("industry", "exclude_industry", "industry exclusion"),
                 ("job_function", "exclude_job_function", "job-function exclusion")),
}
# platform -> the dimensions its levers act on for the whole campaign (Google's location criteria)
CAMPAIGN_LEVEL: Mapping[str, frozenset[str]] = {"google_ads": frozenset({"region"})}


@dataclass(frozen=True)
class SegmentExclusionSettings:
    target_roas: float = 2.0
    confidence: float = 0.975
    min_spend: Decimal = Decimal("100")  # in the segment, in the window
    min_days: int = 7  # days with delivery in the segment
    max_delivery_share: float = 0.35  # of the ad set's spend one change may cut
    prior_conversions: float = 5.0  # weight of the ad set's own ROAS in a segment's posterior
    value_cv: float = DEFAULT_VALUE_CV
    dispersion: float = DEFAULT_DISPERSION


@dataclass(frozen=True)
class SegmentWindow:
    """One segment of one ad set over the window (exposure: spend weighted by lag completeness)."""

    dimension: str
    segment: str
    evidence: WindowEvidence


class _Candidate(NamedTuple):
    spend: Decimal
    segment: SegmentWindow
    posterior: RoasPosterior
    probability: float
    share: float  # of its dimension's spend in the ad set
    total_spend: Decimal  # the ad set's, in the window
    prior: WindowEvidence  # the ad set's own evidence, the segment's prior


def lever_for(platform: str, dimension: str) -> tuple[str, str] | None:
    """(action kind, lever name) for acting on `dimension` on `platform`, or None where there is no lever."""
    return next(((kind, name) for lever_dimension, kind, name in LEVERS.get(platform, ())
                 if lever_dimension == dimension), None)


def lever_dimensions(platform: str) -> list[str]:
    """The dimensions the platform's levers act on (the breakdowns the policy reads)."""
    return [dimension for dimension, _, _ in LEVERS.get(platform, ())]


def campaign_level(platform: str, dimension: str) -> bool:
    """Whether the platform's lever on `dimension` acts on the ad set's whole campaign: its windows
    must then be the campaign's (every ad set's rows of that dimension summed)."""
    return dimension in CAMPAIGN_LEVEL.get(platform, frozenset())


def one_location_cut_per_campaign(proposals: Sequence[Proposal], campaign_of: Mapping[str, str | None]
                                  ) -> list[Proposal]:
    """The proposals with at most one campaign-level cut per (campaign, dimension, segment): its ad sets
    all see the same campaign evidence, and one change cuts the region for all of them (the first ad
    set by id keeps it)."""
    kept: list[Proposal] = []
    seen: set[tuple[str, str, str]] = set()
    for proposal in sorted(proposals, key=lambda p: p.entity_id):
        to = proposal.change.get("to", {})
        if proposal.evidence.get("scope") == "campaign":
            key = (str(campaign_of.get(proposal.entity_id)), str(to.get("dimension")), str(to.get("segment")))
            if key in seen:
                continue
            seen.add(key)
        kept.append(proposal)
    return kept


def _blocked(platform: str, ad_set: Entity, segment: SegmentWindow, share: float) -> str | None:
    """Why the platform would not take this cut, or None."""
    excluded = {str(s) for s in ad_set.attributes.get("excluded_segments", {}).get(segment.dimension, [])}
    if segment.segment in excluded:
        return "already excluded"
    if platform == "meta" and segment.dimension == "age":
        return _age_blocked(ad_set, segment.segment)
    if platform == "linkedin":
        size = ad_set.attributes.get("audience_size")
        if size is not None and int(size) * (1 - share) < MIN_LINKEDIN_AUDIENCE:
            return f"LinkedIn needs at least {MIN_LINKEDIN_AUDIENCE} members"
    return None


def _age_band(segment: str) -> tuple[int, int] | None:
    """(first, last) age of one of our age segments ("18-24"; "65+" is 65, Meta's top)."""
    first, _, last = segment.partition("-")
    if segment.endswith("+") and segment[:-1].isdigit():
        return int(segment[:-1]), int(segment[:-1])
    return (int(first), int(last)) if first.isdigit() and last.isdigit() else None


def _age_range(ad_set: Entity) -> tuple[int, int]:
    low, high = ad_set.attributes.get("age_min"), ad_set.attributes.get("age_max")
    return (int(low) if low is not None else META_AGE_MIN, int(high) if high is not None else META_AGE_MAX)


def _narrowed(ad_set: Entity, segment: str) -> tuple[int, int] | None:
    """The ad set's age range without `segment`, or None when the band is not at one of its ends."""
    band, (low, high) = _age_band(segment), _age_range(ad_set)
    if band is None:
        return None
    first, last = band
    if first <= low <= last and last < high:
        return last + 1, high
    if first <= high <= last and first > low:
        return low, first - 1
    return None


def _age_blocked(ad_set: Entity, segment: str) -> str | None:
    if ad_set.attributes.get("special_ad_categories"):
        return "a special ad category: Meta forbids narrowing the age range"
    if ad_set.attributes.get("advantage_audience"):
        return "Advantage+ audience: the age range is only a suggestion"
    if _narrowed(ad_set, segment) is None:
        return "not at an end of the age range (Meta narrows a range only at its ends)"
    return None


def propose(platform: str, account_id: str, ad_set: Entity, segments: Sequence[SegmentWindow],
            settings: SegmentExclusionSettings, today: date) -> list[Proposal]:
    """At most one proposal for `ad_set`: its segment below target with the most money, across the
    levers its platform offers."""
    if ad_set.level != "ad_set" or ad_set.status != "ACTIVE":
        return []
    candidates: list[_Candidate] = []
    for dimension in lever_dimensions(platform):
        candidates += _candidates(platform, ad_set, [s for s in segments if s.dimension == dimension], settings)
    if not candidates:
        return []
    spend, segment, posterior, probability, share, total_spend, prior = max(
        candidates, key=lambda c: (c.spend, c.segment.dimension, c.segment.segment))
    kind, lever = lever_for(platform, segment.dimension) or ("", "")
    low, high = posterior.quantiles(0.05, 0.95)
    ev = segment.evidence
    to: dict[str, object] = {"dimension": segment.dimension, "segment": segment.segment, "excluded": True}
    before: dict[str, object] = {"dimension": segment.dimension, "segment": segment.segment, "excluded": False}
    if kind == "set_device_bid_modifier":
        to["bid_modifier"] = -1.0
        # the modifier in place now (None: none), so an undo restores it and a drift check sees a change
        before["bid_modifier"] = ad_set.attributes.get("device_bid_modifiers", {}).get(segment.segment)
    scope = "campaign" if campaign_level(platform, segment.dimension) else "ad set"
    narrowed = _narrowed(ad_set, segment.segment) if kind == "narrow_age_range" else None
    if narrowed is not None:  # the range as it is and as it will be: an undo restores it exactly
        before["age_min"], before["age_max"] = _age_range(ad_set)
        to["age_min"], to["age_max"] = narrowed
    return [Proposal.about(
        account_id, ad_set, kind=kind, policy=POLICY_NAME,
        change={"from": before, "to": to},
        rationale=(f"{segment.dimension} {segment.segment} took {share:.0%} of the {scope}'s spend "
                   f"({money_str(spend, ad_set.currency)}) at ROAS {ev.lag_corrected_roas or 0:.2f} "
                   f"(90% {low:.2f}-{high:.2f}, lag-corrected) against a target of {settings.target_roas:.2f}: "
                   f"P(below target) = {probability:.3f}. Proposed lever: {lever}."),
        evidence={"window": {"start": ev.start.isoformat(), "end": ev.end.isoformat(), "as_of": today.isoformat()},
                  "segment_spend": str(spend), f"{scope.replace(' ', '_')}_spend": str(total_spend),
                  "scope": scope.replace(" ", "_"), "spend_share": round(share, 4),
                  "conversions": ev.conversions, "conversion_value": str(ev.conversion_value),
                  "completeness": round(ev.completeness, 3), "roas_lag_corrected": ev.lag_corrected_roas,
                  "roas_low": round(low, 3), "roas_high": round(high, 3), "probability_below_target":
                  round(probability, 4), "target_roas": settings.target_roas, "confidence": settings.confidence,
                  f"{scope.replace(' ', '_')}_roas": prior.lag_corrected_roas, "lever": lever,
                  "max_delivery_share": settings.max_delivery_share},
    )]


def conversions_by_segment(windows: Sequence[SegmentWindow]) -> bool:
    """Whether a dimension's named segments carry conversions. Where they carry none (Meta's region, a
    "Type 1" breakdown, puts every off-Meta conversion in `unknown`) no segment can be judged on them."""
    return any(w.evidence.conversions > 0 for w in windows if w.segment != UNKNOWN)


def _candidates(platform: str, ad_set: Entity, mine: Sequence[SegmentWindow],
                settings: SegmentExclusionSettings) -> list[_Candidate]:
    """The segments of one dimension that may be cut, with their evidence."""
    total_spend = sum((s.evidence.spend for s in mine), Decimal(0))
    if not mine or total_spend <= 0:
        return []
    if not conversions_by_segment(mine):
        return []
    prior = _total(mine)
    candidates = []
    for segment in mine:
        ev = segment.evidence
        share = float(ev.spend / total_spend)
        if segment.segment == UNKNOWN or ev.spend < settings.min_spend or ev.days_with_spend < settings.min_days:
            continue
        if share > settings.max_delivery_share or _blocked(platform, ad_set, segment, share):
            continue
        if not _worse_than_the_rest(ev, prior):
            continue  # a losing ad set makes every segment look bad: cutting its best part helps nothing
        posterior = roas_posterior(ev, prior, settings.prior_conversions, settings.value_cv, settings.dispersion)
        probability = posterior.probability_below(settings.target_roas)
        if probability >= settings.confidence:
            candidates.append(_Candidate(ev.spend, segment, posterior, probability, share, total_spend, prior))
    return candidates


def _worse_than_the_rest(segment: WindowEvidence, total: WindowEvidence) -> bool:
    """Whether the segment returns less per lag-weighted unit of spend than the rest of its ad set."""
    rest_exposure = total.lag_exposure - segment.lag_exposure
    if rest_exposure <= 0:
        return False
    rest_roas = float(total.conversion_value - segment.conversion_value) / rest_exposure
    return (segment.lag_corrected_roas or 0.0) < rest_roas


def _total(segments: Sequence[SegmentWindow]) -> WindowEvidence:
    first = segments[0].evidence
    return WindowEvidence(
        first.start, first.end, sum((s.evidence.spend for s in segments), Decimal(0)),
        sum(s.evidence.exposure for s in segments), sum(s.evidence.conversions for s in segments),
        sum((s.evidence.conversion_value for s in segments), Decimal(0)), sum(s.evidence.clicks for s in segments),
        sum(s.evidence.impressions for s in segments), max(s.evidence.days_with_spend for s in segments),
        sum(s.evidence.lag_exposure for s in segments))
