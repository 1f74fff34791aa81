"""What a `new_ad` mutation asks for, read the same way by every connector that creates ads.

The copywriter's params carry `headline(s)`, `description(s)` and optionally a link (`link`,
`final_url` or `final_urls[0]`); where they name no link, the account's `new_ads.landing_url` is
used. New ads are created PAUSED: a person looks at new copy before it spends.

Meta and LinkedIn have no idempotency key for creates, so the mutation's key is written into the
new object's name as a tag (`[pma:<first 16 characters of the key>]`): an object whose name carries
the tag is that mutation's, and a create about to be repeated looks for it first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NewAdCopy:
    """The copy and landing page of one new ad."""

    headline: str
    text: str
    link: str


def _first(params: Mapping[str, Any], single: str, plural: str) -> str:
    values = params.get(plural) or [params.get(single, "")]
    return next((str(v).strip() for v in values if str(v).strip()), "")


def require_paused(params: Mapping[str, Any], platform: str) -> None:
    """ValueError unless the ad is to be created PAUSED (the default)."""
    status = str(params.get("status", "PAUSED")).upper()
    if status != "PAUSED":
        raise ValueError(f"new ads are created PAUSED on {platform} (asked {status!r}); enable the ad after review")


def read_copy(params: Mapping[str, Any], landing_url: str | None, text_role: str, ad_kind: str) -> NewAdCopy:
    """Headline, text and link of a new ad; ValueError naming what is missing.

    `text_role` names the description on the platform ("the primary text"); `ad_kind` the ad that
    needs a link ("a link ad")."""
    headline, text = _first(params, "headline", "headlines"), _first(params, "description", "descriptions")
    if not headline or not text:
        raise ValueError(f"a new ad needs a headline and a description ({text_role})")
    final_urls = params.get("final_urls") or ()
    link = str(params.get("link") or params.get("final_url") or (final_urls[0] if final_urls else "")
               or landing_url or "")
    if not link:
        raise ValueError(f"{ad_kind} needs a link: give params.link or set accounts[].new_ads.landing_url")
    return NewAdCopy(headline, text, link)


def tag_id(idempotency_key: str) -> str:
    """The part of a mutation's key a created object carries (in its name, or a field of its own)."""
    return idempotency_key[:16]


def ad_tag(idempotency_key: str) -> str:
    """The marker a created ad (or creative) carries in its name."""
    return f"[pma:{tag_id(idempotency_key)}]"


def find_tags(names: Mapping[str, str], tags: Iterable[str]) -> dict[str, str]:
    """`{tag: object id}` for the `tags` found in `names` (object id -> name)."""
    wanted = list(tags)
    return {tag: object_id for object_id, name in names.items() for tag in wanted if tag in (name or "")}


def tagged_keys(names: Mapping[str, str], idempotency_keys: Iterable[str]) -> set[str]:
    """The keys whose created object is among `names` (object id -> name): for reconciliation."""
    keys = list(idempotency_keys)
    found = find_tags(names, {ad_tag(key) for key in keys})
    return {key for key in keys if ad_tag(key) in found}
