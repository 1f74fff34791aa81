"""Which reach estimates an account's pull asks for, so that their number grows with ad sets, not
with their square, and their refreshes are spread over the week.

- Only pairs whose targeting can overlap (`policies.audience_overlap.overlap_pairs`): ad sets in
  different countries or age ranges, or one excluding the other's audience, never compete.
- Only ad sets the policy compares at all: an ad set whose spend over the policy's window is under
  `min_spend` never competes, so its pairs are not estimated (`competing_ad_sets`, from the stored
  days before the pull window and the rows just read).
- Single audiences are asked only when they belong to such a pair, and not when the platform's
  audience read already gives their size for the same location as its estimates (LinkedIn: both
  count the segment's members without a location; Meta's estimates are per country, its audience
  sizes are not).
- An estimate is kept while what was asked is unchanged: its definition is a hash of the audiences
  as the platform describes them (id, name) and the countries of the ad sets that target them.
  A new or changed definition is asked at once.
- An unchanged estimate is refreshed once per 7-day period, on the account's own day: a fixed
  offset from a hash of its id, so an agency's accounts do not all expire on the same day.
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

REFRESH_DAYS = 7


def refresh_offset(account_id: str) -> int:
    """The account's day within the 7-day refresh window (0-6), the same on every run and machine."""
    return int(hashlib.sha256(account_id.encode()).hexdigest()[:8], 16) % REFRESH_DAYS


def refresh_period(account_id: str, day: date) -> int:
    """Number of the account's refresh period `day` falls in; a period starts on the account's day."""
    return (day.toordinal() - refresh_offset(account_id)) // REFRESH_DAYS


def spend_window(today: date, settings: AudienceOverlapSettings) -> tuple[date, date]:
    """The days the policy sums an ad set's spend over."""
    return window_bounds(today, settings.window_days)


def competing_ad_sets(today: date, settings: AudienceOverlapSettings, earlier: Mapping[str, Decimal],
                      pulled_from: date, rows: Iterable[MetricRow]) -> set[str]:
    """Ad sets whose spend over the policy's window reaches `min_spend`: `earlier` is the stored spend
    of the window's days before `pulled_from`, `rows` the days read from `pulled_from` on."""
    start, end = spend_window(today, settings)
    spend = dict(earlier)
    first = max(start, pulled_from)
    for row in rows:
        if row.level == "ad_set" and first <= row.day <= end:
            spend[row.entity_id] = spend.get(row.entity_id, Decimal(0)) + row.spend
    return {ad_set for ad_set, total in spend.items() if spends_enough(total, settings)}


def stored_days_before(today: date, settings: AudienceOverlapSettings, pulled_from: date) -> tuple[date, date] | None:
    """The window's days that the pull does not read again (their spend comes from the store)."""
    start, end = spend_window(today, settings)
    last = min(end, pulled_from - timedelta(days=1))
    return (start, last) if start <= last else None


def wanted_keys(entities: Sequence[Entity], competing: Collection[str] | None = None,
                sized: Collection[str] = ()) -> list[frozenset[str]]:
    """The pairs that can overlap among `competing` ad sets (all when None), and each audience in one
    of them whose size is not already known from the audience read (`sized`), in a stable order."""
    pairs = overlap_pairs(entities, competing)
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


def keys_to_ask(account_id: str, today: date, wanted: Mapping[frozenset[str], str],
                stored: Mapping[frozenset[str], StoredReach]) -> list[frozenset[str]]:
    """The wanted estimates not stored, stored for another definition, or from an earlier refresh
    period of the account. A definition the pull could not describe (audiences unread: None stored
    before this change) counts as unchanged."""
    period = refresh_period(account_id, today)
    ask = []
    for key, definition in wanted.items():
        known = stored.get(key)
        if known is None or refresh_period(account_id, known.estimated_on) < period \
                or (known.definition is not None and known.definition != definition):
            ask.append(key)
    return ask
