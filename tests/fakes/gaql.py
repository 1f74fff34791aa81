"""GAQL checked the way the Google Ads API checks it, with the library's own v26 protos.

`check_query` parses `SELECT ... FROM ... [WHERE ...] [ORDER BY ...] [LIMIT n]` and returns the
`GoogleAdsFailure` the API would answer with (or None). Field names are looked up in the
`GoogleAdsRow` message descriptor, whose fields are the selectable resources plus `metrics` and
`segments` (https://developers.google.com/google-ads/api/docs/query/grammar and
https://developers.google.com/google-ads/api/docs/query/structure). Compatibility between fields
lives in `GoogleAdsFieldService` metadata, which the library does not ship, so only rules we are
sure of are enforced (each cited below); anything else is accepted.

The WHERE clause is parsed by the grammar (`WhereClause -> WHERE Condition (AND Condition)*`,
`Condition -> FieldName Operator Value | FieldName IS [NOT] NULL | FieldName BETWEEN Value AND Value`,
`IN` / `NOT IN` take a list `"(" Value ("," Value)* ")"`): `conditions` gives its conditions, and
`matches` evaluates them on a row (comparisons, `IN` and `NOT IN`; enum fields by their value names,
booleans as TRUE / FALSE), for the fake resources that filter by the query itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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


def _descriptor(name: str) -> FieldDescriptor | None:
    """The field `resource.field.subfield` names in a `GoogleAdsRow` (proto names, as GAQL uses), or None."""
    descriptor: Any = ROW
    found: FieldDescriptor | None = None
    for part in name.split("."):
        if descriptor is None:
            return None
        fields = {f.name.removesuffix("_") if f.name.endswith("_") else f.name: f for f in descriptor.fields}
        found = fields.get(part)
        if found is None:
            return None
        descriptor = found.message_type if found.type == FieldDescriptor.TYPE_MESSAGE else None
    return found


def field_exists(name: str) -> bool:
    """Whether `resource.field.subfield` names a field of a `GoogleAdsRow` (proto names, as GAQL uses)."""
    return _descriptor(name) is not None


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
    parsed = _parse_where(match.group("where") or "")
    return parsed if isinstance(parsed, GoogleAdsFailure) else None


# -- WHERE ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Condition:
    field: str
    operator: str  # upper case, single spaces: "=", "!=", "IN", "NOT IN", "BETWEEN", "DURING", "IS NULL", ...
    values: tuple[str, ...]  # strings without their quotes, numbers and literals as written


_OPERATOR = re.compile(r"\s*(?P<field>[a-z][a-zA-Z0-9._]*)\s+(?P<op>IS\s+NOT\s+NULL|IS\s+NULL|NOT\s+IN\b|IN\b"
                       r"|NOT\s+LIKE\b|LIKE\b|CONTAINS\s+(?:ANY|ALL|NONE)\b|BETWEEN\b|DURING\b"
                       r"|NOT\s+REGEXP_MATCH\b|REGEXP_MATCH\b|!=|>=|<=|=|>|<)", re.IGNORECASE)
_ATOM = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|-?[0-9]+(?:\.[0-9]+)?\b|[a-zA-Z0-9_]+"
_VALUE = re.compile(rf"\s*(?P<atom>{_ATOM})")
_LIST = re.compile(rf"\s*\(\s*(?P<items>(?:{_ATOM})(?:\s*,\s*(?:{_ATOM}))*)?\s*\)")
_LIST_OPERATORS = frozenset({"IN", "NOT IN", "CONTAINS ANY", "CONTAINS ALL", "CONTAINS NONE"})
_ENUM_OPERATORS = frozenset({"=", "!=", "IN", "NOT IN"})
_AND = re.compile(r"\s+AND\s+", re.IGNORECASE)


def _unquote(atom: str) -> str:
    return re.sub(r"\\(.)", r"\1", atom[1:-1]) if atom[:1] in ("'", '"') else atom


def _parse_where(where: str) -> list[Condition] | GoogleAdsFailure:
    """The conditions of a WHERE clause, or the failure the API answers a malformed one with. GAQL joins
    conditions with AND only: anything else between two (an OR) is refused (the reference names no
    error code for it; UNEXPECTED_INPUT is ours)."""
    found: list[Condition] = []
    position = 0
    while where.strip():
        head = _OPERATOR.match(where, position)
        if head is None:
            rest = where[position:].strip()
            return _error("UNEXPECTED_INPUT" if rest else "UNEXPECTED_END_OF_QUERY",
                          f"Error in query: unexpected {repr(rest) if rest else 'end of query'}.")
        name, operator = head.group("field"), " ".join(head.group("op").upper().split())
        position = head.end()
        values: tuple[str, ...] = ()
        if operator in _LIST_OPERATORS:
            listed = _LIST.match(where, position)
            if listed is None:
                return _error("EXPECTED_LIST", f"Error in query: expected a list of values after {operator}.")
            if listed.group("items") is None:
                return _error("PROHIBITED_EMPTY_LIST_IN_CONDITION",
                              f"Error in query: the list after {operator} on '{name}' is empty.")
            values = tuple(_unquote(v) for v in re.findall(_ATOM, listed.group("items")))
            position = listed.end()
        elif not operator.startswith("IS"):
            single = _VALUE.match(where, position)
            if single is None:
                return _error("EXPECTED_SINGLE_VALUE" if where[position:].lstrip().startswith("(") else "BAD_VALUE",
                              f"Error in query: expected a value after {operator}.")
            values, position = (_unquote(single.group("atom")),), single.end()
            if operator == "BETWEEN":
                joined = _AND.match(where, position)
                upper = _VALUE.match(where, joined.end()) if joined else None
                if joined is None or upper is None:
                    return _error("EXPECTED_AND", "Error in query: BETWEEN needs two values joined by AND.")
                values, position = (*values, _unquote(upper.group("atom"))), upper.end()
        descriptor = _descriptor(name)
        if descriptor is not None and descriptor.enum_type is not None and operator in _ENUM_OPERATORS:
            known = set(descriptor.enum_type.values_by_name)
            unknown = [v for v in values if v not in known]
            if unknown:
                return _error("BAD_ENUM_CONSTANT", f"Error in query: '{unknown[0]}' is not a value of '{name}'.")
        found.append(Condition(name, operator, values))
        if not where[position:].strip():
            break
        joined = _AND.match(where, position)
        if joined is None:
            return _error("UNEXPECTED_INPUT", f"Error in query: unexpected input {where[position:].strip()!r}.")
        position = joined.end()
    return found


def conditions(query: str) -> list[Condition]:
    """The WHERE conditions of a query `check_query` accepted."""
    match = _QUERY.match(query)
    parsed = _parse_where((match.group("where") if match else None) or "")
    if isinstance(parsed, GoogleAdsFailure):
        raise ValueError(f"not a valid query: {query}")
    return parsed


def _proto_name(message: Any, part: str) -> str:
    """The library's protos write a field named like a Python builtin with a trailing `_` (`type_`)."""
    return part if part in message.DESCRIPTOR.fields_by_name else f"{part}_"


def _actual(row: Any, name: str) -> Any:
    """The value of `resource.field...` on a GoogleAdsRow: enum value names, numbers, booleans, strings."""
    message = type(row).pb(row)
    *path, last = name.split(".")
    for part in path:
        message = getattr(message, _proto_name(message, part))
    descriptor = message.DESCRIPTOR.fields_by_name[_proto_name(message, last)]
    value = getattr(message, descriptor.name)
    if descriptor.enum_type is not None:
        return descriptor.enum_type.values_by_number[value].name
    return value


def _typed(literal: str, like: Any) -> Any:
    if isinstance(like, bool):
        return literal.upper() == "TRUE"
    if isinstance(like, (int, float)):
        return type(like)(literal)
    return literal


def matches(row: Any, where: list[Condition]) -> bool:
    """Whether a row satisfies every condition (=, !=, <, <=, >, >=, IN, NOT IN)."""
    for condition in where:
        actual = _actual(row, condition.field)
        values = [_typed(v, actual) for v in condition.values]
        operator = condition.operator
        if operator in ("IN", "NOT IN"):
            ok = (actual in values) == (operator == "IN")
        elif operator in ("=", "!="):
            ok = (actual == values[0]) == (operator == "=")
        elif operator in (">", ">=", "<", "<="):
            ok = {">": actual > values[0], ">=": actual >= values[0],
                  "<": actual < values[0], "<=": actual <= values[0]}[operator]
        else:
            raise NotImplementedError(f"the fake does not evaluate {operator} ({condition.field})")
        if not ok:
            return False
    return True


def _finite_date_range(where: str) -> bool:
    """`segments.date BETWEEN ...`, `DURING ...`, or both a lower and an upper bound."""
    text = " ".join(where.split()).lower()
    if re.search(r"segments\.date (between|during|=|in) ", text):
        return True
    return bool(re.search(r"segments\.date (>=|>) ", text) and re.search(r"segments\.date (<=|<) ", text))
