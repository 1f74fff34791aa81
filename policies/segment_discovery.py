"""Segment discovery from the breakdowns: the few groups of segments whose return differs from the
rest of their dimension with evidence, each with its size, ROAS interval and the treatment it would get.

Per account and dimension (device, age, placement, company size ...), the segments are pooled over
the account's ad sets and ordered by their shrunk ROAS. The worse group is the run of lowest
segments, the better group the run of highest, that best trades size against difference
(spend share x |log(ROAS / the rest's ROAS)|) while the evidence holds: the group's ROAS posterior
(policies/roas_evidence.py: lag-corrected, shrunk towards its dimension, widened by the account's
dispersion), against the rest's posterior, puts at least `evidence` on lying on that side of the
rest (both read as log-normal through their 90% intervals). So a dimension gives
at most two suggestions, thin segments join a neighbour instead of standing alone, and the account
keeps the `max_suggestions` largest differences: three to five segments that behave differently,
not fifteen thin ones. Segments of different dimensions may hold the same people (the platforms'
breakdowns are stored one dimension at a time); the output says so.

Treatment, from the 90% interval against the target:
- worse, whole interval under the target: exclude;
- worse, otherwise: bid down;
- better, whole interval over the target: own budget;
- better, otherwise: own copy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from statistics import NormalDist
from typing import Any, Literal

from policies.money import money_str
from policies.roas_evidence import DEFAULT_DISPERSION, DEFAULT_VALUE_CV, WindowEvidence, roas_posterior
from policies.segment_exclusions import UNKNOWN, SegmentWindow, conversions_by_segment

Direction = Literal["worse", "better"]
Z90 = NormalDist().inv_cdf(0.95)
Treatment = Literal["exclude", "bid down", "own budget", "own copy"]


@dataclass(frozen=True)
class DiscoverySettings:
    target_roas: float = 2.0
    evidence: float = 0.95  # P(the group lies on its side of the rest's ROAS)
    min_spend_share: float = 0.05  # of its dimension's spend, for a group to be suggested
    max_suggestions: int = 5
    prior_conversions: float = 5.0
    value_cv: float = DEFAULT_VALUE_CV
    dispersion: float = DEFAULT_DISPERSION


@dataclass(frozen=True)
class BreakdownSuggestion:
    """A group of segments of one dimension that returns differently from the rest of it."""

    account_id: str
    platform: str
    currency: str
    dimension: str
    segments: tuple[str, ...]
    direction: Direction
    spend: Decimal
    spend_share: float
    conversions: float
    roas: float  # lag-corrected
    roas_low: float  # 90% interval of the shrunk posterior
    roas_high: float
    rest_roas: float
    probability: float  # P(true ROAS on this side of the rest's)
    treatment: Treatment
    target_roas: float

    @property
    def score(self) -> float:
        return self.spend_share * abs(math.log(max(self.roas, 1e-6) / max(self.rest_roas, 1e-6)))

    @property
    def name(self) -> str:
        return f"{self.platform}-{self.dimension}-{'+'.join(self.segments)}".replace("_", "-")

    @property
    def headline(self) -> str:
        """`device mobile, meta: ROAS 0.90 (90% 0.62-1.21) against 2.60 for the rest`."""
        return (f"{self.dimension} {', '.join(self.segments)}, {self.platform}: ROAS {self.roas:.2f} "
                f"(90% {self.roas_low:.2f}-{self.roas_high:.2f}) against {self.rest_roas:.2f} for the rest")

    @property
    def reason(self) -> str:
        side = "under" if self.direction == "worse" else "over"
        whole = {"exclude": f"its whole 90% interval is under the target {self.target_roas:.2f}",
                 "bid down": f"it returns less than the rest, but the target {self.target_roas:.2f} is within reach",
                 "own budget": f"its whole 90% interval is over the target {self.target_roas:.2f}",
                 "own copy": f"it returns more than the rest, not surely over the target {self.target_roas:.2f}"}
        return (f"P(ROAS {side} the rest's) = {self.probability:.3f}; {self.treatment}: {whole[self.treatment]}; "
                f"{self.spend_share:.0%} of the {self.dimension} spend ({self.currency} {money_str(self.spend, self.currency)}), "
                f"{self.conversions:.0f} conversions")

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "account": self.account_id, "platform": self.platform,
                "dimension": self.dimension, "segments": list(self.segments), "direction": self.direction,
                "currency": self.currency, "spend": str(self.spend), "spend_share": round(self.spend_share, 4),
                "conversions": round(self.conversions, 2), "roas": round(self.roas, 3),
                "roas_low": round(self.roas_low, 3), "roas_high": round(self.roas_high, 3),
                "rest_roas": round(self.rest_roas, 3), "probability": round(self.probability, 4),
                "treatment": self.treatment, "reason": self.reason, "summary": self.headline}


def pooled(windows: Sequence[WindowEvidence]) -> WindowEvidence:
    """The sum of several windows of the same period."""
    first = windows[0]
    return WindowEvidence(
        first.start, first.end, sum((w.spend for w in windows), Decimal(0)), sum(w.exposure for w in windows),
        sum(w.conversions for w in windows), sum((w.conversion_value for w in windows), Decimal(0)),
        sum(w.clicks for w in windows), sum(w.impressions for w in windows),
        max(w.days_with_spend for w in windows), sum(w.lag_exposure for w in windows),
        min((w.first_day for w in windows if w.first_day), default=None))


def _minus(total: WindowEvidence, part: WindowEvidence) -> WindowEvidence:
    return WindowEvidence(total.start, total.end, total.spend - part.spend, total.exposure - part.exposure,
                          max(total.conversions - part.conversions, 0.0), total.conversion_value - part.conversion_value,
                          total.clicks - part.clicks, total.impressions - part.impressions, total.days_with_spend,
                          total.lag_exposure - part.lag_exposure, total.first_day)


def _probability_below(low: float, high: float, rest_low: float, rest_high: float) -> float:
    """P(the group's true ROAS < the rest's), both posteriors taken as log-normal through their 90%
    intervals: the rest has its own uncertainty (with two segments, the rest is one small segment)."""
    if low <= 0 or rest_low <= 0:
        return 1.0 if high < rest_low else (0.0 if low > rest_high else 0.5)
    centre, rest_centre = (math.log(low) + math.log(high)) / 2, (math.log(rest_low) + math.log(rest_high)) / 2
    spread = math.hypot(math.log(high / low), math.log(rest_high / rest_low)) / (2 * Z90)
    return NormalDist().cdf((rest_centre - centre) / spread) if spread > 0 else float(centre < rest_centre)


def _roas(value: Decimal, exposure: float) -> float:
    return float(value) / exposure if exposure > 0 else 0.0


def _treatment(direction: Direction, low: float, high: float, target: float) -> Treatment:
    if direction == "worse":
        return "exclude" if high < target else "bid down"
    return "own budget" if low > target else "own copy"


def _group(account_id: str, platform: str, currency: str, dimension: str, members: Sequence[SegmentWindow],
           total: WindowEvidence, direction: Direction, settings: DiscoverySettings) -> BreakdownSuggestion | None:
    group = pooled([m.evidence for m in members])
    if total.spend <= 0 or group.spend <= 0:
        return None
    rest_exposure = total.lag_exposure - group.lag_exposure
    if rest_exposure <= 0:
        return None
    rest = _minus(total, group)
    rest_roas = _roas(rest.conversion_value, rest_exposure)
    posterior = roas_posterior(group, total, settings.prior_conversions, settings.value_cv, settings.dispersion)
    rest_posterior = roas_posterior(rest, total, settings.prior_conversions, settings.value_cv, settings.dispersion)
    if posterior.mean <= 0 and rest_posterior.mean <= 0:
        return None
    low, high = posterior.quantiles(0.05, 0.95)
    rest_low, rest_high = rest_posterior.quantiles(0.05, 0.95)
    below = _probability_below(low, high, rest_low, rest_high)
    probability = below if direction == "worse" else 1.0 - below
    if probability < settings.evidence:
        return None
    return BreakdownSuggestion(
        account_id, platform, currency, dimension, tuple(sorted(m.segment for m in members)), direction,
        group.spend, float(group.spend / total.spend), group.conversions, group.lag_corrected_roas or 0.0,
        low, high, rest_roas, probability, _treatment(direction, low, high, settings.target_roas),
        settings.target_roas)


def _dimension_suggestions(account_id: str, platform: str, currency: str, dimension: str,
                           windows: Sequence[SegmentWindow], settings: DiscoverySettings) -> list[BreakdownSuggestion]:
    total = pooled([w.evidence for w in windows])
    known = [w for w in windows if w.segment != UNKNOWN and w.evidence.spend > 0]
    if len(known) < 2 or total.lag_exposure <= 0 or not conversions_by_segment(windows):
        return []
    overall = _roas(total.conversion_value, total.lag_exposure)
    ordered = sorted(known, key=lambda w: (roas_posterior(w.evidence, total, settings.prior_conversions,
                                                          settings.value_cv, settings.dispersion).mean, w.segment))
    found = []
    for direction, runs in (("worse", [ordered[:k] for k in range(1, len(ordered))]),
                            ("better", [ordered[-k:] for k in range(1, len(ordered))])):
        best: BreakdownSuggestion | None = None
        for members in runs:
            roas_of = [_roas(m.evidence.conversion_value, m.evidence.lag_exposure) for m in members]
            if any((r >= overall) if direction == "worse" else (r <= overall) for r in roas_of):
                break  # a run stops at the first segment on the other side of the dimension's ROAS
            suggestion = _group(account_id, platform, currency, dimension, members, total,
                                direction, settings)  # type: ignore[arg-type]
            if suggestion and suggestion.spend_share >= settings.min_spend_share and (
                    best is None or suggestion.score > best.score):
                best = suggestion
        if best is not None:
            found.append(best)
    if len(found) == 2 and set(found[0].segments) | set(found[1].segments) == {w.segment for w in known}:
        return [min(found, key=lambda s: (s.spend_share, s.name))]  # one split: the smaller side is the segment
    return found


def suggest_from_breakdowns(account_id: str, platform: str, currency: str, windows: Sequence[SegmentWindow],
                            settings: DiscoverySettings) -> list[BreakdownSuggestion]:
    """At most `max_suggestions` groups of segments, largest difference first. `windows`: the
    account's delivery per (dimension, segment) over the window, pooled over its ad sets."""
    found: list[BreakdownSuggestion] = []
    for dimension in sorted({w.dimension for w in windows}):
        mine = [w for w in windows if w.dimension == dimension]
        found += _dimension_suggestions(account_id, platform, currency, dimension, mine, settings)
    found.sort(key=lambda s: (-s.score, s.name))
    return found[: settings.max_suggestions]
