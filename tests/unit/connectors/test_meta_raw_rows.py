"""Insights, campaigns, ad sets and ads read as Graph JSON (no SDK objects) are the rows the SDK's
objects export, page for page, over the fake's wire format."""

from __future__ import annotations

from facebook_business.adobjects.ad import Ad
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.adset import AdSet
from facebook_business.adobjects.campaign import Campaign

from connectors.meta import records
from connectors.meta.raw_rows import raw_edge, raw_insights
from tests.unit.connectors.test_meta import END, START, Rig
from tests.unit.connectors.test_meta import rig as rig  # noqa: F401  (fixture)


def _pages(cursor: object, export: bool) -> list[list[dict]]:
    pages = []
    while True:
        page = [cursor[i] for i in range(len(cursor))]  # type: ignore[index, arg-type]
        pages.append([dict(row.export_all_data()) if export else row for row in page])
        if not cursor.load_next_page():  # type: ignore[attr-defined]
            return pages


def test_raw_rows_equal_the_sdk_objects_exported(rig: Rig) -> None:
    connector = rig.connector(page_size=5)
    connector.accounts()
    account = AdAccount("act_555", api=connector.api(connector._account("shop-de")))  # its paced API
    for level in ("adset", "ad"):
        params = {"level": level, "time_increment": 1, "limit": 5,
                  "time_range": {"since": START.isoformat(), "until": END.isoformat()}}
        sdk = _pages(account.get_insights(fields=records.INSIGHT_FIELDS, params=dict(params)), export=True)
        raw = _pages(raw_insights(account, records.INSIGHT_FIELDS, params), export=False)
        assert len(sdk) > 1 and raw == sdk


def test_campaigns_ad_sets_and_ads_read_raw_equal_the_sdk_objects_exported(rig: Rig) -> None:
    connector = rig.connector(page_size=2)
    connector.accounts()
    account = AdAccount("act_555", api=connector.api(connector._account("shop-de")))
    limit = {"limit": 1}
    edges = [
        (lambda pending: account.get_campaigns(fields=records.CAMPAIGN_FIELDS, params=limit, pending=pending),
         "/campaigns", Campaign),
        (lambda pending: account.get_ad_sets(fields=records.AD_SET_FIELDS, params=limit, pending=pending),
         "/adsets", AdSet),
        (lambda pending: account.get_ads(params={**limit, "fields": ",".join(records.AD_FIELDS)}, pending=pending),
         "/ads", Ad),
    ]
    for read, endpoint, target in edges:
        sdk = _pages(read(False), export=True)
        raw = _pages(raw_edge(account, read(True), endpoint, target), export=False)
        assert len(sdk) > 1 and raw == sdk, endpoint
        assert any(row.get("targeting") or row.get("creative") or row.get("objective") for page in raw for row in page)
