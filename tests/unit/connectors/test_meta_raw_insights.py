"""Insights read as Graph JSON (no AdsInsights objects) are the rows the SDK's objects export,
page for page, over the fake's wire format."""

from __future__ import annotations

from facebook_business.adobjects.adaccount import AdAccount

from connectors.meta import records
from connectors.meta.raw_insights import raw_insights
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
