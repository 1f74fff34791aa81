"""GAQL checked the way the Google Ads API checks it, with the library's own v26 protos.

`check_query` parses `SELECT ... FROM ... [WHERE ...] [ORDER BY ...] [LIMIT n]` and returns the
`GoogleAdsFailure` the API would answer with (or None). Field names are looked up in the
`GoogleAdsRow` message descriptor, whose fields are the selectable resources plus `metrics` and
`segments` (https://developers.google.com/google-ads/api/docs/query/grammar and
https://developers.google.com/google-ads/api/docs/query/structure). Compatibility between fields
lives in `GoogleAdsFieldService` metadata, which the library does not ship, so only rules we are
sure of are enforced (each cited below); anything else is accepted.
"""

from __future__ import annotations

import re
from typing import Any

from google.ads.googleads.v26.errors.types.errors import ErrorCode, GoogleAdsError, GoogleAdsFailure
from google.ads.googleads.v26.services.types.google_ads_service import GoogleAdsRow
from google.protobuf.descriptor import FieldDescriptor

ROW = GoogleAdsRow.pb().DESCRIPTOR
_QUERY = re.compile(r"^\s*SELECT\s+(?P<select>.+?)\s+FROM\s+(?P<resource>\w+)"
                    r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+ORDER\s+BY\s+(?P<order>.+?))?"
                    r"(?:\s+LIMIT\s+(?P<limit>\d+))?(?:\s+PARAMETERS\s+.+?)?\s*$", re.IGNORECASE | re.DOTALL)
_FIELD = re.compile(r"\b[a-z_]+(?:\.[a-z_0-9]+)+\b")
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
# A date segment in SELECT needs a finite date range on segments.date in WHERE (BETWEEN, DURING a
# predefined range, or comparison operators), https://developers.google.com/google-ads/api/docs/query/date-ranges;
# else QueryError.EXPECTED_FILTERS_ON_DATE_RANGE.
DATE_SEGMENTS = frozenset({"segments.date", "segments.week", "segments.month", "segments.quarter", "segments.year"})
# The account tree: a resource can only bring in fields of the resources above it (its
# "attributed resources", https://developers.google.com/google-ads/api/docs/query/structure),
# never of those below; FROM campaign cannot select ad_group.id (PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE).
# Conversion-action segments split conversions only: with delivery metrics the API answers
# PROHIBITED_SEGMENT_WITH_METRIC_IN_SELECT_OR_WHERE_CLAUSE ("segment by conversion_action and retrieve
# conversion metrics", https://developers.google.com/google-ads/api/docs/conversions/reporting).
# segments.new_versus_returning_customers splits conversions too ("for segmenting conversions by whether
# the user is a new customer or a returning customer", the v26 Segments field reference).
CONVERSION_SEGMENTS = frozenset({"segments.conversion_action", "segments.conversion_action_name",
                                 "segments.conversion_action_category", "segments.new_versus_returning_customers"})
DELIVERY_METRICS = frozenset({"metrics.impressions", "metrics.clicks", "metrics.cost_micros", "metrics.ctr",
                              "metrics.average_cpc", "metrics.average_cpm"})
DEPTH = {"customer": 0, "campaign": 1, "ad_group": 2, "ad_group_ad": 3, "ad_group_criterion": 3}


def _error(value: str, message: str) -> GoogleAdsFailure:
    return GoogleAdsFailure(errors=[GoogleAdsError(message=message, error_code=ErrorCode(query_error=value))])


def field_exists(name: str) -> bool:
    """Whether `resource.field.subfield` names a field of a `GoogleAdsRow` (proto names, as GAQL uses)."""
    descriptor: Any = ROW
    for part in name.split("."):
        if descriptor is None:
            return False
        fields = {f.name.removesuffix("_") if f.name.endswith("_") else f.name: f for f in descriptor.fields}
        found = fields.get(part)
        if found is None:
            return False
        descriptor = found.message_type if found.type == FieldDescriptor.TYPE_MESSAGE else None
    return True


def check_query(query: str) -> GoogleAdsFailure | None:
    """The failure the API answers `query` with, or None if it would run."""
    match = _QUERY.match(query)
    if not match:
        value = "EXPECTED_SELECT" if not re.match(r"\s*SELECT\b", query, re.IGNORECASE) else "EXPECTED_FROM"
        return _error(value, f"Error in query: {value.replace('_', ' ').lower()}.")
    resource = match.group("resource")
    resources = {f.name for f in ROW.fields} - {"metrics", "segments"}
    if resource not in resources:
        return _error("BAD_RESOURCE_TYPE_IN_FROM_CLAUSE", f"Error in query: unrecognized resource '{resource}'.")
    select = [part.strip() for part in match.group("select").split(",")]
    where = _STRING.sub("''", match.group("where") or "")
    named = select + _FIELD.findall(where) + _FIELD.findall(match.group("order") or "")
    for name in named:
        if not field_exists(name):
            return _error("UNRECOGNIZED_FIELD", f"Unrecognized field in the query: '{name}'.")
    for name in select:
        owner = name.split(".", 1)[0]
        if owner in DEPTH and resource in DEPTH and owner != resource and DEPTH[owner] >= DEPTH[resource]:
            return _error("PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE",
                          f"Cannot select fields from resource '{owner}' when the FROM resource is '{resource}'.")
    if CONVERSION_SEGMENTS & set(named) and DELIVERY_METRICS & set(named):
        segment, metric = sorted(CONVERSION_SEGMENTS & set(named))[0], sorted(DELIVERY_METRICS & set(named))[0]
        return _error("PROHIBITED_SEGMENT_WITH_METRIC_IN_SELECT_OR_WHERE_CLAUSE",
                      f"Cannot select or filter on the following segments: '{segment}' with metric '{metric}'.")
    if DATE_SEGMENTS & set(select) and not _finite_date_range(where):
        return _error("EXPECTED_FILTERS_ON_DATE_RANGE",
                      "Filtering or segmenting by a date segment requires a finite date range in the WHERE clause.")
    return None


def _finite_date_range(where: str) -> bool:
    """`segments.date BETWEEN ...`, `DURING ...`, or both a lower and an upper bound."""
    text = " ".join(where.split()).lower()
    if re.search(r"segments\.date (between|during|=|in) ", text):
        return True
    return bool(re.search(r"segments\.date (>=|>) ", text) and re.search(r"segments\.date (<=|<) ", text))
