"""Meta new ads: an `AdCreative` (a link post published as the account's Facebook Page), then a
PAUSED `Ad` in the ad set that uses it.

Graph has no idempotency key for creates, so the mutation's key is written into the names as a
tag (`[pma:<16 hex>]`): an ad whose name carries the tag is this mutation's ad. A create that is
about to be sent again (a retried batch whose first answer was lost) first looks the tags up, and
an ad already there is reported as applied instead of created twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.api import FacebookAdsApiBatch, FacebookResponse

from connectors.errors import PlatformError, WriteOutcomeUnknown, WritesStopped
from connectors.new_ad_copy import ad_tag, find_tags, read_copy, require_paused
from connectors.records import Mutation, MutationResult

NAME_LIMIT = 200  # keep names readable in Ads Manager; the tag always survives the cut


@dataclass(frozen=True)
class NewAdSettings:
    """An account's `new_ads` settings as far as Meta needs them."""

    page_id: str | None = None
    landing_url: str | None = None

    @classmethod
    def of(cls, account: Mapping[str, Any]) -> NewAdSettings:
        raw = account.get("new_ads") or {}
        return cls(page_id=str(raw["meta_page_id"]) if raw.get("meta_page_id") else None,
                   landing_url=str(raw["landing_url"]) if raw.get("landing_url") else None)


@dataclass
class NewAd:
    """One `new_ad` mutation on its way: the creative to create, then the ad."""

    index: int
    mutation: Mutation
    ad_set_id: str
    name: str
    creative: dict[str, Any]
    creative_id: str | None = None

    @property
    def tag(self) -> str:
        return ad_tag(self.mutation.idempotency_key)


def plan_new_ad(index: int, mutation: Mutation, level: str, settings: NewAdSettings) -> NewAd:
    """The creative and ad for one mutation; ValueError (naming what to set) if Meta cannot make it.

    Params are the copywriter's: `headline(s)` (Meta's headline, `link_data.name`), `description(s)`
    (the primary text, `link_data.message`), optional `link_description`, `call_to_action`, `name`,
    and a link in `link` / `final_url` / `final_urls`, else the account's `new_ads.landing_url`."""
    if level != "ad_set":
        raise ValueError("new ads are created in an ad set")
    params = mutation.params
    require_paused(params, "Meta")
    if not settings.page_id:
        raise ValueError("Meta publishes an ad as a Facebook Page: set accounts[].new_ads.meta_page_id")
    copy = read_copy(params, settings.landing_url, "the primary text", "a link ad")
    headline, primary_text, link = copy.headline, copy.text, copy.link
    link_data: dict[str, Any] = {"link": link, "message": primary_text, "name": headline}
    if params.get("link_description"):
        link_data["description"] = str(params["link_description"])
    if params.get("call_to_action"):
        link_data["call_to_action"] = {"type": str(params["call_to_action"]), "value": {"link": link}}
    tag = ad_tag(mutation.idempotency_key)
    name = f"{str(params.get('name') or headline)[:NAME_LIMIT - len(tag) - 1]} {tag}"
    return NewAd(index, mutation, mutation.entity_id, name,
                 {"name": name, "object_story_spec": {"page_id": settings.page_id, "link_data": link_data}})


Call = Callable[[str, Callable[[], Any]], Any]
Results = list[MutationResult | None]


def _error(response: FacebookResponse) -> str:
    error = response.error()
    return f"({error.api_error_code()}/{error.api_error_subcode()}) {error.api_error_message() or error.get_message()}"


def enqueue_creative(account: AdAccount, new_ad: NewAd, results: Results) -> Callable[[FacebookAdsApiBatch], None]:
    """Adds `POST act_X/adcreatives` for `new_ad` to a batch; its answer fills `creative_id` or the result."""
    def succeeded(response: FacebookResponse) -> None:
        new_ad.creative_id = str(response.json()["id"])

    def failed(response: FacebookResponse) -> None:
        results[new_ad.index] = answered_error(new_ad.mutation, response,
                                                f"new_ad in {new_ad.ad_set_id}: creative: {_error(response)}")

    def enqueue(batch: FacebookAdsApiBatch) -> None:
        account.create_ad_creative(params=new_ad.creative, batch=batch, success=succeeded, failure=failed)

    return enqueue


def create_ads(account: AdAccount, new_ads: Sequence[NewAd], results: Results, call: Call, batch_limit: int,
               new_batch: Callable[[], FacebookAdsApiBatch], existing: Callable[[], Mapping[str, str]]) -> None:
    """`POST act_X/ads` (status PAUSED) for every new ad whose creative exists, in batches. A batch
    sent again after a lost answer first reads `existing()` (ad id -> name) for ads already there."""
    ready = [n for n in new_ads if n.creative_id is not None and results[n.index] is None]
    for start in range(0, len(ready), batch_limit):
        chunk = ready[start:start + batch_limit]
        attempts = 0

        def send(chunk: Sequence[NewAd] = chunk) -> None:
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                found = find_tags(existing(), [n.tag for n in chunk])
                for new_ad in chunk:
                    if new_ad.tag in found and results[new_ad.index] is None:
                        results[new_ad.index] = MutationResult(new_ad.mutation.idempotency_key, ok=True,
                                                               platform_ref=found[new_ad.tag], already_applied=True)
            todo = [n for n in chunk if results[n.index] is None]
            if not todo:
                return
            batch = new_batch()
            for new_ad in todo:
                _enqueue_ad(account, new_ad, results, batch)
            batch.execute()

        try:
            call(f"batch of {len(chunk)} new ad(s)", send)
        except (PlatformError, WritesStopped) as error:
            record_unanswered([n.index for n in chunk], [n.mutation for n in chunk], results, error)


def answered_error(mutation: Mutation, response: FacebookResponse, message: str) -> MutationResult:
    """A call's own error answer in a batch: a transient or server error may still have been applied."""
    error = response.error()
    unknown = bool(error.api_transient_error()) or (response.status() or 0) >= 500 or error.api_error_code() in (1, 2)
    return MutationResult(mutation.idempotency_key, ok=False, error=message, outcome_unknown=unknown)


def record_unanswered(indices: Sequence[int], mutations: Sequence[Mutation], results: Results,
                      error: Exception) -> None:
    """Results for the calls of a batch that failed as a whole: unknown if it may have been applied
    (`WriteOutcomeUnknown`), not sent if the write guard stopped it, else not applied."""
    for index, mutation in zip(indices, mutations, strict=True):
        if results[index] is None:
            results[index] = MutationResult(mutation.idempotency_key, ok=False, error=str(error),
                                            outcome_unknown=isinstance(error, WriteOutcomeUnknown),
                                            not_sent=isinstance(error, WritesStopped))


def _enqueue_ad(account: AdAccount, new_ad: NewAd, results: Results, batch: FacebookAdsApiBatch) -> None:
    key = new_ad.mutation.idempotency_key

    def succeeded(response: FacebookResponse) -> None:
        results[new_ad.index] = MutationResult(key, ok=True, platform_ref=str(response.json()["id"]))

    def failed(response: FacebookResponse) -> None:
        results[new_ad.index] = answered_error(new_ad.mutation, response,
                                                f"new_ad in {new_ad.ad_set_id}: {_error(response)}")

    # Never created active: a person looks at new copy before it spends.
    account.create_ad(params={"name": new_ad.name, "adset_id": new_ad.ad_set_id,
                              "creative": {"creative_id": new_ad.creative_id}, "status": "PAUSED"},
                      batch=batch, success=succeeded, failure=failed)
