"""Meta writes: mutations -> Graph batch calls (<= 50 per batch), answers -> results.

New ads (`connectors/meta/new_ads.py`) take two rounds: their creatives go with the updates, the
ads follow once the creatives' ids are known.

A batch whose answer is lost (timeout, reset, 5xx) is not sent again: its calls that got no answer
are reported with an unknown outcome, and so is a call whose own answer is a transient or server
error (the agent settles them by reading Meta). A batch the write guard stops is reported not sent.

Meta allows an ad set's budget to change only 4 times an hour; past that, Meta answers code 17
and blocks the ad set's budget for an hour
(https://developers.facebook.com/docs/marketing-api/overview/rate-limiting, "Ad Set Level").
Changes past the limit are refused here, before a call is spent on them, with the time the next
change is allowed; a code 17 from Meta blocks the ad set here for the hour too (never retried).
The agent's own `budget_changes_per_hour` guardrail counts the executed changes in the database,
so the limit also holds across restarts.

An ad set under an Advantage campaign budget (the campaign holds the budget) has no budget of
its own to change: Meta rejects it, so it is refused here in words, naming the campaign.
"""

from __future__ import annotations

import copy
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from facebook_business.adobjects.ad import Ad
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.adset import AdSet
from facebook_business.adobjects.campaign import Campaign
from facebook_business.api import FacebookAdsApiBatch, FacebookResponse

from connectors.errors import PlatformError, WritesStopped
from connectors.meta.age_range import with_age_band
from connectors.meta.api import PacedApi
from connectors.meta.labels import enqueue_label
from connectors.meta.new_ads import (
    NewAd,
    NewAdSettings,
    answered_error,
    create_ads,
    enqueue_creative,
    plan_new_ad,
    record_unanswered,
)
from connectors.meta.placements import with_placement
from connectors.meta.records import money_to_minor
from connectors.meta.regions import with_region
from connectors.meta.schedules import schedule_params
from connectors.new_ad_copy import find_tags
from connectors.records import Mutation, MutationResult

BATCH_LIMIT = 50
BUDGET_LIMIT_CODE = 17  # "User request limit reached"; on a budget change: that ad set is blocked for an hour
Call = Callable[[str, Callable[[], Any]], Any]
_OBJECTS: dict[str, type[Any]] = {"campaign": Campaign, "ad_set": AdSet, "ad": Ad}


class BudgetChangeLimiter:
    """At most `limit` budget changes per ad set within `window` (thread-safe, in memory)."""

    def __init__(self, limit: int, window: timedelta) -> None:
        self.limit = limit
        self.window = window
        self._changes: dict[str, deque[datetime]] = defaultdict(deque)
        self._lock = threading.Lock()

    def next_allowed(self, entity_id: str, now: datetime) -> datetime | None:
        """None if a change is allowed now, else when the next one will be."""
        with self._lock:
            changes = self._changes[entity_id]
            while changes and changes[0] <= now - self.window:
                changes.popleft()
            return changes[0] + self.window if len(changes) >= self.limit else None

    def record(self, entity_id: str, now: datetime) -> None:
        with self._lock:
            self._changes[entity_id].append(now)

    def block(self, entity_id: str, now: datetime) -> datetime:
        """Meta said the ad set's budget is blocked (code 17): no change for a whole window from now."""
        with self._lock:
            self._changes[entity_id] = deque([now] * self.limit)
        return now + self.window


def _params(mutation: Mutation, level: str, targeting: Mapping[str, Any], currency: str) -> dict[str, Any]:
    """The Graph update for one mutation; ValueError if Meta cannot express it."""
    kind = mutation.kind
    if kind in ("pause", "enable"):
        return {"status": "PAUSED" if kind == "pause" else "ACTIVE"}
    if kind == "set_budget":
        if level not in ("campaign", "ad_set"):
            raise ValueError(f"a {level} holds no budget")
        try:
            amount = Decimal(str(mutation.params["daily_budget"]))
        except (KeyError, InvalidOperation):
            raise ValueError("set_budget needs a numeric daily_budget") from None
        if amount <= 0:
            raise ValueError(f"daily_budget must be positive, got {amount}")
        return {"daily_budget": money_to_minor(amount, currency)}
    if kind == "set_ad_schedule":
        if level != "ad_set":
            raise ValueError("Meta schedules are set on ad sets")
        return schedule_params(list(mutation.params.get("ad_schedule") or []))
    if kind == "exclude_audience":
        if level != "ad_set":
            raise ValueError("audiences are excluded on ad sets")
        audience_id = str(mutation.params.get("audience_id", ""))
        if not audience_id:
            raise ValueError("exclude_audience needs params.audience_id")
        updated = copy.deepcopy(dict(targeting))
        excluded = list(updated.get("excluded_custom_audiences") or [])
        if audience_id not in {str(a.get("id")) for a in excluded}:
            excluded.append({"id": audience_id})
        updated["excluded_custom_audiences"] = excluded
        return {"targeting": updated}
    if kind == "remove_audience_exclusion":
        if level != "ad_set":
            raise ValueError("audiences are excluded on ad sets")
        audience_id = str(mutation.params.get("audience_id", ""))
        updated = copy.deepcopy(dict(targeting))
        updated["excluded_custom_audiences"] = [a for a in updated.get("excluded_custom_audiences") or []
                                                if str(a.get("id")) != audience_id]
        return {"targeting": updated}
    if kind == "exclude_placement":
        if level != "ad_set":
            raise ValueError("placements are set on ad sets")
        segment = str(mutation.params.get("segment", ""))
        return {"targeting": with_placement(targeting, segment, bool(mutation.params.get("excluded", True)))}
    if kind == "narrow_age_range":
        if level != "ad_set":
            raise ValueError("age ranges are set on ad sets")
        params = mutation.params
        bounds = ((int(params["age_min"]), int(params["age_max"]))
                  if params.get("age_min") is not None and params.get("age_max") is not None else None)
        return {"targeting": with_age_band(targeting, str(params.get("segment", "")),
                                           bool(params.get("excluded", True)), bounds)}
    if kind == "exclude_region":
        if level != "ad_set":
            raise ValueError("regions are excluded on ad sets")
        params = mutation.params
        if not params.get("region_key"):  # the connector looks the key up by name before writing
            raise ValueError(f"region {params.get('segment')!r} was not found in Meta's targeting search")
        return {"targeting": with_region(targeting, str(params["region_key"]), str(params.get("region_name", "")),
                                         bool(params.get("excluded", True)))}
    raise ValueError(f"{kind} is not supported on Meta by this connector")


def apply_batches(api: PacedApi, ad_account: str, mutations: Sequence[Mutation],
                  targets: Mapping[str, tuple[str, dict[str, Any]]], currency: str, limiter: BudgetChangeLimiter,
                  now: Callable[[], datetime], call: Call, new_ad_settings: NewAdSettings,
                  known_ads: Mapping[str, str], read_ads: Callable[[], Mapping[str, str]],
                  campaign_budgets: Mapping[str, str] | None = None,
                  label_ids: Mapping[str, Mapping[str, str]] | None = None) -> list[MutationResult]:
    """Send every expressible mutation in batches of <= 50 calls; one result per mutation.

    Updates and the creatives of new ads go first; the new ads themselves follow in a second round
    (an ad needs its creative's id). A new ad whose tag is already in `known_ads` (id -> name, as
    last read) is reported as applied, not created again; `read_ads()` reads them afresh before a
    retried create. `campaign_budgets`: ad set id -> its campaign's id, for ad sets under an
    Advantage campaign budget. `label_ids`: entity id -> its labels' {name: id} (connectors/meta/labels.py)."""
    under_campaign_budget = campaign_budgets or {}
    results: list[MutationResult | None] = [None] * len(mutations)
    ready: list[tuple[int, Callable[[FacebookAdsApiBatch], None]]] = []
    new_ads: list[NewAd] = []
    for index, mutation in enumerate(mutations):
        target = targets.get(mutation.entity_id)
        if target is None:
            results[index] = _failed(mutation, f"entity {mutation.entity_id} not found")
            continue
        level, targeting = target
        try:
            if mutation.kind == "new_ad":
                new_ads.append(plan_new_ad(index, mutation, level, new_ad_settings))
                continue
            if mutation.kind in ("add_label", "remove_label"):
                enqueue = enqueue_label(api, index, mutation, level, (label_ids or {}).get(mutation.entity_id, {}),
                                        results, _answered(index, mutation, results))
                if enqueue is not None:
                    ready.append((index, enqueue))
                continue
            params = _params(mutation, level, targeting, currency)
        except ValueError as error:
            results[index] = _failed(mutation, f"{mutation.kind} on {mutation.entity_id}: {error}")
            continue
        if mutation.kind == "set_budget" and mutation.entity_id in under_campaign_budget:
            results[index] = _failed(mutation, f"ad set {mutation.entity_id} has no budget of its own: its campaign "
                                               f"{under_campaign_budget[mutation.entity_id]} uses an Advantage campaign "
                                               "budget, and Meta refuses ad-set budgets under it; change the "
                                               "campaign's budget instead")
            continue
        if mutation.kind == "set_budget":
            allowed_at = limiter.next_allowed(mutation.entity_id, now())
            if allowed_at is not None:
                results[index] = _failed(mutation, f"Meta allows {limiter.limit} budget changes per ad set per hour; "
                                                   f"next change to {mutation.entity_id} at {allowed_at.isoformat()}")
                continue
            limiter.record(mutation.entity_id, now())  # counted when sent: a lost answer may still have applied
        ready.append((index, _enqueue_update(api, index, mutation, level, params, results, limiter, now)))
    account = AdAccount(ad_account, api=api)
    if new_ads:
        known = find_tags(known_ads, [n.tag for n in new_ads])
        for new_ad in new_ads:
            if new_ad.tag in known:  # created by an earlier attempt whose answer was lost
                results[new_ad.index] = MutationResult(new_ad.mutation.idempotency_key, ok=True,
                                                       platform_ref=known[new_ad.tag], already_applied=True)
            else:
                ready.append((new_ad.index, enqueue_creative(account, new_ad, results)))
    for start in range(0, len(ready), BATCH_LIMIT):
        chunk = ready[start:start + BATCH_LIMIT]
        batch = api.new_batch()
        for _, enqueue in chunk:
            enqueue(batch)
        try:
            call(f"batch of {len(chunk)} call(s)", batch.execute)
        except (PlatformError, WritesStopped) as error:
            unanswered = [i for i, _ in (ready[start:] if isinstance(error, WritesStopped) else chunk)]
            record_unanswered(unanswered, [mutations[i] for i in unanswered], results, error)
            if isinstance(error, WritesStopped):
                break
    create_ads(account, new_ads, results, call, BATCH_LIMIT, api.new_batch, read_ads)
    return [r if r is not None else MutationResult(mutations[i].idempotency_key, ok=False, outcome_unknown=True,
                                                   error="no answer for this call in the batch response; "
                                                         "outcome unknown until Meta is read")
            for i, r in enumerate(results)]


def _enqueue_update(api: PacedApi, index: int, mutation: Mutation, level: str, params: dict[str, Any],
                    results: list[MutationResult | None], limiter: BudgetChangeLimiter,
                    now: Callable[[], datetime]) -> Callable[[FacebookAdsApiBatch], None]:
    def succeeded(response: FacebookResponse) -> None:
        results[index] = MutationResult(mutation.idempotency_key, ok=True, platform_ref=mutation.entity_id)

    def failed(response: FacebookResponse) -> None:
        error = response.error()
        said = f"({error.api_error_code()}/{error.api_error_subcode()}) {error.api_error_message() or error.get_message()}"
        if mutation.kind == "set_budget" and error.api_error_code() == BUDGET_LIMIT_CODE:
            # refused, not applied: Meta blocks the ad set's budget for the hour
            until = limiter.block(mutation.entity_id, now())
            said = (f"Meta blocks budget changes to ad set {mutation.entity_id} for an hour after too many changes; "
                    f"not retried before {until.isoformat()} {said}")
            results[index] = _failed(mutation, said)
            return
        results[index] = answered_error(mutation, response, said)

    def enqueue(batch: FacebookAdsApiBatch) -> None:
        _OBJECTS[level](mutation.entity_id, api=api).api_update(params=params, batch=batch, success=succeeded,
                                                                failure=failed)

    return enqueue


def _answered(index: int, mutation: Mutation,
              results: list[MutationResult | None]) -> Callable[[FacebookResponse], None]:
    def failed(response: FacebookResponse) -> None:
        error = response.error()
        said = f"({error.api_error_code()}/{error.api_error_subcode()}) {error.api_error_message() or error.get_message()}"
        results[index] = answered_error(mutation, response, said)

    return failed


def _failed(mutation: Mutation, message: str) -> MutationResult:
    return MutationResult(mutation.idempotency_key, ok=False, error=message)
