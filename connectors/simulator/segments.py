"""Who sees the ads: each ad set's delivery split across segments with their own true rates.

Every ad set has, per dimension, a share of delivery for each segment and a true conversion-rate and
value-per-conversion multiplier (drawn once per (seed, ad set, dimension), around a platform-wide
profile: mobile converts worse than desktop, 1-10-employee companies rarely buy). A day's totals
are split by those truths, so the breakdown reports come out of the same numbers as the totals and
the segments of an ad set and day sum to it exactly (money to the micro, counts to the unit).

Meta's `age,gender` report is a joint split: age first, then gender within each age, so the age
and gender marginals are sums of the same rows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal

from connectors.records import MetricRow, SegmentRow
from connectors.simulator.random_streams import stream

MICRO = Decimal("0.000001")


@dataclass(frozen=True)
class SegmentProfile:
    segment: str
    share: float  # typical share of an ad set's delivery
    conversion_rate: float  # conversions per unit of spend, relative to the ad set's average
    value: float  # value per conversion, relative


def _profiles(*rows: tuple[str, float, float, float]) -> tuple[SegmentProfile, ...]:
    return tuple(SegmentProfile(*row) for row in rows)


PROFILES: dict[str, tuple[SegmentProfile, ...]] = {
    "device": _profiles(("mobile", 0.55, 0.6, 0.9), ("desktop", 0.35, 1.6, 1.1), ("tablet", 0.10, 0.9, 1.0)),
    "age": _profiles(("18-24", 0.18, 0.35, 0.7), ("25-34", 0.27, 1.1, 1.0), ("35-44", 0.22, 1.3, 1.1),
                     ("45-54", 0.16, 1.2, 1.15), ("55-64", 0.11, 1.0, 1.1), ("65+", 0.06, 0.7, 1.0)),
    "gender": _profiles(("female", 0.5, 1.05, 1.0), ("male", 0.46, 0.95, 1.0), ("unknown", 0.04, 0.8, 1.0)),
    "placement": _profiles(("facebook_feed", 0.38, 1.3, 1.0), ("instagram_feed", 0.24, 1.1, 1.0),
                           ("instagram_stories", 0.16, 0.7, 0.95), ("facebook_reels", 0.10, 0.6, 0.9),
                           ("audience_network_classic", 0.12, 0.2, 0.8)),
    "company_size": _profiles(("1", 0.06, 0.1, 0.5), ("2-10", 0.14, 0.3, 0.6), ("11-50", 0.18, 0.8, 0.8),
                              ("51-200", 0.2, 1.2, 1.0), ("201-500", 0.14, 1.3, 1.1), ("501-1000", 0.1, 1.3, 1.2),
                              ("1001-5000", 0.1, 1.2, 1.3), ("10001+", 0.08, 1.0, 1.5)),
    "industry": _profiles(("software-development", 0.3, 1.3, 1.1), ("it-services-and-it-consulting", 0.25, 1.1, 1.0),
                          ("financial-services", 0.25, 0.9, 1.2), ("technology-information-and-internet", 0.2, 0.7, 0.9)),
    "seniority": _profiles(("entry", 0.25, 0.3, 0.7), ("senior", 0.3, 1.0, 1.0), ("manager", 0.2, 1.3, 1.1),
                           ("director", 0.15, 1.5, 1.2), ("cxo", 0.1, 1.4, 1.4)),
    "job_function": _profiles(("engineering", 0.3, 1.0, 1.0), ("information-technology", 0.25, 1.3, 1.1),
                              ("marketing", 0.2, 1.1, 1.0), ("sales", 0.15, 0.8, 1.0), ("finance", 0.1, 0.9, 1.2)),
    # who converts: people new to the advertiser, returning customers (who convert more readily), unknown
    "customer_type": _profiles(("new", 0.6, 0.8, 0.9), ("returning", 0.3, 1.5, 1.2), ("unknown", 0.1, 0.9, 1.0)),
}
REGIONS: dict[str, tuple[str, ...]] = {
    "USD": ("california", "texas", "new-york", "florida"),
    "EUR": ("bavaria", "berlin", "hamburg", "north-rhine-westphalia"),
    "GBP": ("england", "scotland", "wales", "northern-ireland"),
    "JPY": ("tokyo", "osaka", "kanagawa", "aichi"),
}
# The dimensions each imitated platform reports (its breakdown reports' dimensions).
PLATFORM_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "google_ads": ("device", "age", "gender", "region"),
    "meta": ("age", "gender", "region", "placement", "device"),
    "linkedin": ("company_size", "industry", "seniority", "job_function"),
}


@dataclass(frozen=True)
class SegmentTruth:
    """One ad set's segments of one dimension: delivery shares and true multipliers (shares sum to 1)."""

    segments: tuple[str, ...]
    shares: tuple[float, ...]
    conversion_rates: tuple[float, ...]  # relative to the ad set's rate; spend-weighted mean is 1
    values: tuple[float, ...]  # relative value per conversion; conversion-weighted mean is 1


def profiles_for(dimension: str, currency: str) -> tuple[SegmentProfile, ...]:
    if dimension == "region":
        names = REGIONS.get(currency, ("region-a", "region-b", "region-c"))
        weights = (0.4, 0.3, 0.2, 0.1)[:len(names)]
        rates = (1.1, 1.0, 0.9, 0.8)[:len(names)]
        return tuple(SegmentProfile(n, w, r, 1.0) for n, w, r in zip(names, weights, rates, strict=True))
    return PROFILES[dimension]


@functools.lru_cache(maxsize=65_536)  # drawn once per ad set and dimension, read for every day
def segment_truth(seed: int, ad_set_id: str, dimension: str, currency: str) -> SegmentTruth:
    """The ad set's true segments of `dimension`, deterministic by (seed, ad set, dimension)."""
    profiles = profiles_for(dimension, currency)
    rng = stream(seed, ad_set_id, None, f"segments:{dimension}")
    noise = rng.lognormal(0.0, 0.3, size=(3, len(profiles)))
    shares = [p.share * noise[0][i] for i, p in enumerate(profiles)]
    total = sum(shares)
    shares = [s / total for s in shares]
    rates = [p.conversion_rate * noise[1][i] ** 0.8 for i, p in enumerate(profiles)]
    mean_rate = sum(s * r for s, r in zip(shares, rates, strict=True))
    rates = [r / mean_rate for r in rates]
    values = [p.value * noise[2][i] ** 0.4 for i, p in enumerate(profiles)]
    mean_value = sum(s * r * v for s, r, v in zip(shares, rates, values, strict=True))
    values = [v / mean_value for v in values]
    return SegmentTruth(tuple(p.segment for p in profiles), tuple(map(float, shares)), tuple(map(float, rates)),
                        tuple(map(float, values)))


def _split_int(total: int, weights: Sequence[float]) -> list[int]:
    """`total` split by `weights` into integers that sum to it (largest remainder)."""
    raw = [total * w for w in weights]
    parts = [int(x) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - parts[i], reverse=True)
    for i in order[:total - sum(parts)]:
        parts[i] += 1
    return parts


def _split_money(total: Decimal, weights: Sequence[float]) -> list[Decimal]:
    """`total` split by `weights` to the micro; the rounding left over goes to the largest part."""
    parts = [(total * Decimal(repr(float(w)))).quantize(MICRO, rounding=ROUND_FLOOR) for w in weights]
    largest = max(range(len(parts)), key=lambda i: weights[i])
    parts[largest] += total - sum(parts, Decimal(0))
    return parts


def _split_conversions(total: float, weights: Sequence[float]) -> list[float]:
    if float(total).is_integer():
        return [float(n) for n in _split_int(int(total), weights)]
    return [total * w for w in weights]


def _normalised(weights: Sequence[float]) -> list[float]:
    total = sum(weights)
    return [w / total for w in weights] if total > 0 else [1.0 / len(weights)] * len(weights)


@dataclass(frozen=True)
class Piece:
    """Part of a day's delivery: the segments it belongs to and its numbers."""

    segments: tuple[str, ...]
    spend: Decimal
    impressions: int
    clicks: int
    conversions: float
    conversion_value: Decimal


def split_piece(piece: Piece, truth: SegmentTruth) -> list[Piece]:
    """`piece` split across `truth`'s segments; the parts sum to it exactly."""
    shares = list(truth.shares)
    conversion_weights = _normalised([s * r for s, r in zip(shares, truth.conversion_rates, strict=True)])
    spends = _split_money(piece.spend, shares)
    impressions = _split_int(piece.impressions, shares)
    clicks = _split_int(piece.clicks, shares)
    conversions = _split_conversions(piece.conversions, conversion_weights)
    # value follows the conversions each segment got, at its own value per conversion
    value_weights = _normalised([c * v for c, v in zip(conversions, truth.values, strict=True)]
                                if sum(conversions) > 0 else conversion_weights)
    values = _split_money(piece.conversion_value, value_weights)
    return [Piece(piece.segments + (segment,), spends[i], impressions[i], clicks[i], conversions[i], values[i])
            for i, segment in enumerate(truth.segments)]


def restricted(truth: SegmentTruth, excluded: Collection[str]) -> SegmentTruth:
    """`truth` with the excluded segments' delivery given to the kept ones, in their proportions."""
    if not excluded:
        return truth
    shares = [0.0 if s in excluded else share for s, share in zip(truth.segments, truth.shares, strict=True)]
    total = sum(shares)
    if total <= 0:
        return truth
    return SegmentTruth(truth.segments, tuple(s / total for s in shares), truth.conversion_rates, truth.values)


# (ad set, dimension, day) -> the segments the ad set excluded that day (no delivery to them)
Exclusions = Callable[[str, str, date], Collection[str]]


def split_row(seed: int, row: MetricRow, dimensions: Sequence[str], excluded: Exclusions | None = None) -> list[Piece]:
    """An ad set's day split jointly by `dimensions` (the first splits the total, the next each part);
    `excluded` segments get nothing, their share goes to the kept ones."""
    pieces = [Piece((), row.spend, row.impressions, row.clicks, row.conversions, row.conversion_value)]
    for dimension in dimensions:
        truth = segment_truth(seed, row.entity_id, dimension, row.currency)
        if excluded is not None:
            truth = restricted(truth, excluded(row.entity_id, dimension, row.day))
        pieces = [part for piece in pieces for part in split_piece(piece, truth)]
    return pieces


def segment_rows(seed: int, rows: Sequence[MetricRow], platform: str, dimensions: Sequence[str],
                 excluded: Exclusions | None = None) -> list[SegmentRow]:
    """Each ad-set row of `rows` split by the joint `dimensions`, as one `SegmentRow` per dimension and
    segment (a joint split's marginals are summed from its pieces)."""
    result: dict[tuple[str, object, str, str], SegmentRow] = {}
    for row in rows:
        if row.level != "ad_set":
            continue
        for piece in split_row(seed, row, dimensions, excluded):
            for dimension, segment in zip(dimensions, piece.segments, strict=True):
                key = (row.entity_id, row.day, dimension, segment)
                seen = result.get(key)
                result[key] = SegmentRow(
                    platform or row.platform, row.account_id, row.entity_id, row.day, dimension, segment, row.currency,
                    piece.spend + (seen.spend if seen else 0), piece.impressions + (seen.impressions if seen else 0),
                    piece.clicks + (seen.clicks if seen else 0), piece.conversions + (seen.conversions if seen else 0),
                    piece.conversion_value + (seen.conversion_value if seen else 0))
    return list(result.values())


@dataclass(frozen=True)
class ExclusionEffect:
    """What excluding segments does to an ad set: its budget goes to the segments left, at their rates."""

    conversion_rate: float  # the ad set's conversions per unit of spend, relative to before
    value_per_conversion: float  # relative to before
    kept_share: float  # share of the former delivery the kept segments had (before reallocation)

    @property
    def roas(self) -> float:
        return self.conversion_rate * self.value_per_conversion


def exclusion_effect(truth: SegmentTruth, excluded: frozenset[str]) -> ExclusionEffect:
    """The ad set's relative conversion rate and value once `excluded` segments no longer get delivery
    (the platform spends the same budget on the rest, in their former proportions)."""
    kept = [i for i, segment in enumerate(truth.segments) if segment not in excluded]
    share = sum(truth.shares[i] for i in kept)
    if not kept or share <= 0:
        return ExclusionEffect(0.0, 0.0, 0.0)
    rate = sum(truth.shares[i] * truth.conversion_rates[i] for i in kept) / share
    value = sum(truth.shares[i] * truth.conversion_rates[i] * truth.values[i] for i in kept) / (rate * share)
    return ExclusionEffect(rate, value, share)
