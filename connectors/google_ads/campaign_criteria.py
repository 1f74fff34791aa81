"""The campaign criteria of one account pull, read with one GAQL query and split by criterion type.

Three modules parse `campaign_criterion` rows: negative LOCATION criteria (locations.py, excluded
regions), AD_SCHEDULE criteria (schedules.py) and negative USER_LIST criteria (audience_exclusions.py).
They are read together, with one SearchStream request, and each module gets only its rows.

GAQL joins conditions with AND only (`WhereClause -> WHERE Condition (AND Condition)*`) and has `IN`
with a list of values (https://developers.google.com/google-ads/api/docs/query/grammar), so the
query selects the three types with `campaign_criterion.type IN (...)` and the union of their fields;
the fields of the resource in FROM can always be selected together
(https://developers.google.com/google-ads/api/docs/concepts/field-service). A criterion sets exactly
one member of the `criterion` union (the v26 CampaignCriterion reference): the fields selected for
the other types come back unset on its row, so rows are told apart by `campaign_criterion.type`.

Conditions shared by all three stay in WHERE: neither a removed criterion nor a criterion of a
removed campaign is in force (removed campaigns are not read either, reports.CAMPAIGNS). `negative`
cannot: locations and user lists are read as exclusions only, but an ad schedule is never negative
("Ad schedule: positive yes, negative no", https://developers.google.com/google-ads/api/docs/targeting/criteria),
so targeted locations and targeted user lists come back and are dropped here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

LOCATION, AD_SCHEDULE, USER_LIST = "LOCATION", "AD_SCHEDULE", "USER_LIST"
NEGATIVE_ONLY = frozenset({LOCATION, USER_LIST})  # read as exclusions: the targeted ones are dropped
_FIELDS = (
    "campaign.id",
    "campaign_criterion.type",
    "campaign_criterion.negative",
    "campaign_criterion.resource_name",  # locations
    "campaign_criterion.criterion_id",  # schedules and user lists
    "campaign_criterion.location.geo_target_constant",
    "campaign_criterion.ad_schedule.day_of_week",
    "campaign_criterion.ad_schedule.start_hour",
    "campaign_criterion.ad_schedule.start_minute",
    "campaign_criterion.ad_schedule.end_hour",
    "campaign_criterion.ad_schedule.end_minute",
    "campaign_criterion.bid_modifier",
    "campaign_criterion.user_list.user_list",
)
QUERY = (f"SELECT {', '.join(_FIELDS)} FROM campaign_criterion "
         f"WHERE campaign_criterion.type IN ('{LOCATION}', '{AD_SCHEDULE}', '{USER_LIST}') "
         "AND campaign_criterion.status != 'REMOVED' AND campaign.status != 'REMOVED'")
REPORT = "campaign_criterion"


@dataclass
class CampaignCriteria:
    """The query's rows by module: negative locations, ad schedules, negative user lists."""

    locations: list[Any] = field(default_factory=list)
    schedules: list[Any] = field(default_factory=list)
    user_lists: list[Any] = field(default_factory=list)


def split(rows: Iterable[Any]) -> CampaignCriteria:
    """The rows of `QUERY` by criterion type; targeted (not negative) locations and user lists left out."""
    found = CampaignCriteria()
    buckets = {LOCATION: found.locations, AD_SCHEDULE: found.schedules, USER_LIST: found.user_lists}
    for row in rows:
        kind = row.campaign_criterion.type_.name
        if kind in NEGATIVE_ONLY and not row.campaign_criterion.negative:
            continue
        bucket = buckets.get(kind)
        if bucket is not None:
            bucket.append(row)
    return found
