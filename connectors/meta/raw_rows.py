"""Insights rows and the account's objects as Graph API JSON, without the SDK's object layer.

`AdAccount.get_insights` wraps every row in an `AdsInsights` object: each field value goes through
the SDK's `TypeChecker` (and `actions` entries become `AdsActionStats` objects), and the connector
then exports them back to dicts. On a steady hourly cycle that round trip was the largest single
cost of a Meta account's pull. The SDK lets a `Cursor` take its own `object_parser`, so the rows
stay the dicts Graph sent; the request itself (parameters checked against the SDK's declared types,
paging by `after` cursors, the paced `FacebookAdsApi.call`) is the SDK's own.
(Insights edge: https://developers.facebook.com/docs/marketing-api/reference/ad-account/insights)
The campaigns, ad sets and ads an entity read pages through (every cycle) are read the same way:
their objects' exported data is the JSON they were built from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from facebook_business.adobjects.abstractobject import AbstractObject
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.adsinsights import AdsInsights
from facebook_business.api import Cursor, FacebookRequest


class RawRows:
    """An `ObjectParser` stand-in that keeps each element of a page's `data` as the JSON dict."""

    def parse_single(self, response: Mapping[str, Any]) -> Mapping[str, Any]:
        return response

    def parse_multiple(self, response: Mapping[str, Any]) -> list[dict[str, Any]]:
        data = response.get("data")
        if isinstance(data, list):
            return [row for row in data if isinstance(row, dict)]
        return [dict(response)] if response else []


def raw_insights(ad_account: AdAccount, fields: Sequence[str], params: Mapping[str, Any]) -> Cursor:
    """The first page of the account's insights as a `Cursor` of dicts (`load_next_page` for more)."""
    request = ad_account.get_insights(fields=list(fields), params=dict(params), pending=True)  # checks params
    return raw_edge(ad_account, request, "/insights", AdsInsights, include_summary=False)


def raw_edge(ad_account: AdAccount, request: FacebookRequest, endpoint: str, target: type[AbstractObject], *,
             include_summary: bool = True) -> Cursor:
    """The first page of an edge of the account as a `Cursor` of dicts. `request`: the SDK's own pending
    request for the edge (`get_campaigns(..., pending=True)`), which checked the parameters; the pages
    are asked as its `execute` would (the summary included unless told not to)."""
    cursor = Cursor(target_objects_class=target, params=request.get_params(), fields=request.get_fields(),
                    include_summary=include_summary, api=ad_account.get_api_assured(),
                    node_id=ad_account.get_id_assured(), endpoint=endpoint, object_parser=RawRows())
    cursor.load_next_page()
    return cursor
