"""LinkedIn writes as request bodies: the PARTIAL_UPDATE patch of a mutation, and the inline
creative (a dark post of the company page) of a new ad."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from connectors.linkedin.reports import SEGMENT_FACET, LinkedInAccount
from connectors.linkedin.targeting_exclusions import EXCLUSION_KINDS, with_exclusion
from connectors.new_ad_copy import ad_tag, read_copy, require_paused
from connectors.records import Mutation, quantize_money

# Campaign `format`s an article ad without a thumbnail fits: none set yet (the first creative sets
# it) or a plain sponsored update. Image, video, carousel, text and message formats need other
# content ("Creative types must match their campaign's ad format", Create and Manage Creatives).
ARTICLE_FORMATS = frozenset({"", "STANDARD_UPDATE"})


def inline_creative(account: LinkedInAccount, mutation: Mutation,
                     levels: Mapping[str, tuple[str, dict[str, Any]]], ad_format: str = "") -> dict[str, Any]:
    """The `createInline` body: a PAUSED creative in the campaign (our ad set) whose content is a
    new dark post by the company page: `commentary` (the introductory text, our description) and
    an article (link and headline). ValueError, naming the setting, when something is missing or
    the campaign's ad format needs other content than an article without a thumbnail."""
    if levels.get(mutation.entity_id, ("", {}))[0] != "ad_set":
        raise ValueError("new ads (creatives) are created in a LinkedIn campaign, our ad set")
    if ad_format not in ARTICLE_FORMATS:
        raise ValueError(f"campaign {mutation.entity_id} has the ad format {ad_format}, which needs "
                         f"{'an image' if 'IMAGE' in ad_format else 'other content'}; new ads here are article "
                         "posts without a thumbnail, so add this ad in Campaign Manager")
    params = mutation.params
    require_paused(params, "LinkedIn")
    if not account.organization:
        raise ValueError("a LinkedIn ad is a post by a company page: set accounts[].new_ads.linkedin_organization")
    copy = read_copy(params, account.landing_url, "the introductory text", "an article ad")
    headline, commentary, link = copy.headline, copy.text, copy.link
    post: dict[str, Any] = {
        "author": account.organization, "commentary": commentary, "visibility": "PUBLIC",
        "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False,
        "distribution": {"feedDistribution": "NONE", "targetEntities": [], "thirdPartyDistributionChannels": []},
        "adContext": {"dscAdAccount": account.urn, "dscStatus": "ACTIVE"},
        "content": {"article": {"source": link, "title": headline}},
    }
    if params.get("call_to_action"):
        post["contentCallToActionLabel"] = str(params["call_to_action"])
        post["contentLandingPage"] = link
    tag = ad_tag(mutation.idempotency_key)
    name = f"{str(params.get('name') or headline)[:200 - len(tag) - 1]} {tag}"
    # Never created active: a person looks at new copy before it spends.
    return {"creative": {"campaign": f"urn:li:sponsoredCampaign:{mutation.entity_id}", "intendedStatus": "PAUSED",
                         "name": name, "inlineContent": {"post": post}}}



def patch(account: LinkedInAccount, mutation: Mutation, levels: Mapping[str, tuple[str, dict[str, Any]]],
           currency: str) -> tuple[str, dict[str, Any]]:
    """(path, `$set` patch) for one mutation; ValueError if LinkedIn cannot express it."""
    if mutation.entity_id not in levels:
        raise ValueError(f"entity {mutation.entity_id} not found")
    level, criteria = levels[mutation.entity_id]
    base = f"/rest/adAccounts/{account.ad_account}"
    path = {"campaign": f"{base}/adCampaignGroups/{mutation.entity_id}",
            "ad_set": f"{base}/adCampaigns/{mutation.entity_id}",
            "ad": f"{base}/creatives/{quote(f'urn:li:sponsoredCreative:{mutation.entity_id}', safe='')}"}[level]
    kind = mutation.kind
    if kind in ("pause", "enable"):
        status = "PAUSED" if kind == "pause" else "ACTIVE"
        return path, {"intendedStatus" if level == "ad" else "status": status}
    if kind == "set_budget" and level == "ad_set":
        try:
            amount = Decimal(str(mutation.params["daily_budget"]))
        except (KeyError, InvalidOperation):
            raise ValueError("set_budget needs a numeric daily_budget") from None
        if amount <= 0 or quantize_money(amount, currency) != amount:
            raise ValueError(f"daily_budget {amount} is not a valid {currency} amount")
        return path, {"dailyBudget": {"amount": str(amount), "currencyCode": currency}}
    if kind in ("exclude_audience", "remove_audience_exclusion") and level == "ad_set":
        segment = f"urn:li:adSegment:{mutation.params.get('audience_id', '')}"
        updated = {**criteria}
        exclude = {**(updated.get("exclude") or {})}
        facets = {**(exclude.get("or") or {})}
        kept = {*facets.get(SEGMENT_FACET, [])}
        facets[SEGMENT_FACET] = sorted(kept | {segment} if kind == "exclude_audience" else kept - {segment})
        if not facets[SEGMENT_FACET]:
            del facets[SEGMENT_FACET]
        if facets:
            exclude["or"] = facets
            updated["exclude"] = exclude
        else:
            updated.pop("exclude", None)
        return path, {"targetingCriteria": updated}
    if kind in EXCLUSION_KINDS and level == "ad_set":  # company size, seniority, industry, job function: a facet each
        dimension = EXCLUSION_KINDS[kind]
        if str(mutation.params.get("dimension", dimension)) != dimension:
            raise ValueError(f"{kind} excludes a {dimension}, not a {mutation.params.get('dimension')}")
        segment = str(mutation.params.get("segment", ""))
        return path, {"targetingCriteria": with_exclusion(criteria, dimension, segment,
                                                          bool(mutation.params.get("excluded", True)))}
    raise ValueError(f"{kind} on a LinkedIn {level} is not supported by this connector")
