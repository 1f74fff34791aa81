"""Which reach estimates an account's pull asks for, so that their number grows with ad sets, not
with their square, and their refreshes are spread over the days.

- Only pairs whose targeting can overlap (`policies.audience_overlap.overlap_pairs`): ad sets in
  different countries or age ranges, or one excluding the other's audience, never compete.
- Only ad sets the policy compares at all: an ad set whose spend over the policy's window is under
  `min_spend` never competes, so its pairs are not estimated (`competing_ad_sets`, from the stored
  days before the pull window and the rows just read).
- At most `max_partners_per_ad_set` partners per ad set (4 by default): those it can overlap with
  that spend the most over the window. Where targeting does not split ad sets apart (LinkedIn
  without a geo hierarchy, one market on Meta), the pairs then grow with ad sets, not their square;
  two low spenders are not compared with each other (the trade-off, measured in bench/requests.py).
- Single audiences are asked only when they belong to such a pair, and not when the platform's
  audience read already gives their size for the same location as its estimates (LinkedIn: both
  count the segment's members without a location; Meta's estimates are per country, its audience
  sizes are not).
- An estimate is keyed by its definition: a hash of what it asks (the audiences as the platform
  describes them, id and name, and the countries of the ad sets that target them). A new or
  changed definition is asked at once; identical definitions of several ad sets are one estimate.
- An unchanged estimate is reused up to `reach_max_age_days` (28 by default: audience sizes drift
  slowly) and refreshed on a day of its own: its definition's hash picks the day within that span,
  so an account's estimates, and an agency's, are refreshed a few each day, never all on one day.
  In steady state a week asks the new and changed definitions and about 7 / max age of the rest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal

from agent.storage.store import StoredReach
from connectors.records import Audience, Entity, MetricRow
from policies.audience_overlap import overlap_pairs, spends_enough
from policies.roas_evidence import window_bounds
from policies.settings import AudienceOverlapSettings


def refresh_offset(definition: str, max_age_days: int) -> int:
    """The estimate's day within its refresh span (0 .. max_age_days - 1), from its definition's
    hash: the same on every run and machine, spread evenly over the span."""
    return int(hashlib.sha256(definition.encode()).hexdigest()[:8], 16) % max_age_days


def refresh_period(definition: str, day: date, max_age_days: int) -> int:
    """Number of the estimate's refresh period `day` falls in; a period starts on the estimate's day,
    so an estimate made in one period is at most `max_age_days` old when the next one begins."""
    return (day.toordinal() - refresh_offset(definition, max_age_days)) // max_age_days


def spend_window(today: date, settings: AudienceOverlapSettings) -> tuple[date, date]:
    """The days the policy sums an ad set's spend over."""
    return window_bounds(today, settings.window_days)


def competing_ad_sets(today: date, settings: AudienceOverlapSettings, earlier: Mapping[str, Decimal],
                      pulled_from: date, rows: Iterable[MetricRow]) -> dict[str, Decimal]:
    """Ad sets whose spend over the policy's window reaches `min_spend`, with that spend: `earlier` is
    the stored spend of the window's days before `pulled_from`, `rows` the days read from `pulled_from` on."""
    start, end = spend_window(today, settings)
    spend = dict(earlier)
    first = max(start, pulled_from)
    for row in rows:
        if row.level == "ad_set" and first <= row.day <= end:
            spend[row.entity_id] = spend.get(row.entity_id, Decimal(0)) + row.spend
    return {ad_set: total for ad_set, total in spend.items() if spends_enough(total, settings)}


def stored_days_before(today: date, settings: AudienceOverlapSettings, pulled_from: date) -> tuple[date, date] | None:
    """The window's days that the pull does not read again (their spend comes from the store)."""
    start, end = spend_window(today, settings)
    last = min(end, pulled_from - timedelta(days=1))
    return (start, last) if start <= last else None


def wanted_keys(entities: Sequence[Entity], competing: Collection[str] | Mapping[str, Decimal] | None = None,
                sized: Collection[str] = (), max_partners: int = 0) -> list[frozenset[str]]:
    """The pairs that can overlap among `competing` ad sets (all when None; with their window spend,
    each paired with its `max_partners` top spenders), and each audience in one of them whose size is
    not already known from the audience read (`sized`), in a stable order."""
    pairs = overlap_pairs(entities, competing, max_partners)
    singles = sorted({a for pair in pairs for a in pair} - set(sized))
    return [frozenset((a,)) for a in singles] + sorted(pairs, key=sorted)


def definitions(keys: Sequence[frozenset[str]], entities: Sequence[Entity],
                audiences: Sequence[Audience] | None) -> dict[frozenset[str], str]:
    """A hash of what each estimate asks: its audiences' ids and names, and the countries of the
    ad sets targeting them (the location a platform's estimate is made for)."""
    names = {a.audience_id: a.name for a in audiences or ()}
    countries: dict[str, set[str]] = {}
    for entity in entities:
        if entity.level == "ad_set":  # whatever its status: pausing an ad set changes no audience
            for audience_id in entity.attributes.get("audience_ids", ()):
                countries.setdefault(str(audience_id), set()).update(
                    str(c) for c in entity.attributes.get("countries") or ())
    found = {}
    for key in keys:
        described = [[a, names.get(a, ""), sorted(countries.get(a, ()))] for a in sorted(key)]
        found[key] = hashlib.sha256(json.dumps(described).encode()).hexdigest()
    return found


def keys_to_ask(today: date, wanted: Mapping[frozenset[str], str], stored: Mapping[frozenset[str], StoredReach],
                max_age_days: int) -> list[frozenset[str]]:
    """The wanted estimates not stored, stored for another definition, or from an earlier refresh
    period of their definition. A definition the pull could not describe (audiences unread: None
    stored before definitions were kept) counts as unchanged."""
    ask = []
    for key, definition in wanted.items():
        known = stored.get(key)
        if known is None or (known.definition is not None and known.definition != definition) \
                or refresh_period(definition, known.estimated_on, max_age_days) \
                < refresh_period(definition, today, max_age_days):
            ask.append(key)
    return ask
