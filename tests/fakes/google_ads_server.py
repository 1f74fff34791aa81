"""A fake Google Ads API: an in-process gRPC server speaking the library's real v26 protos.

Backed by a `SimulatorConnector`: GAQL `SearchStream` reads are answered from the simulator's
entities, metrics and search terms (numeric ids mapped from the simulator's string ids), and mutate
requests are translated into simulator mutations. It binds 127.0.0.1 only.

Faults (see `platform_fixtures.Faults`), matched on request kinds `search:<resource>` and
`mutate:<Service>`: rate_limit (RESOURCE_EXHAUSTED + QuotaErrorDetails.retry_delay), server_error
(INTERNAL), unavailable, timeout (DEADLINE_EXCEEDED), auth (UNAUTHENTICATED, echoing the developer
token as a careless server might), invalid (INVALID_ARGUMENT), malformed_row, truncated_page (stream
cut after its first message), partial_failure (operation `index` fails), lost_answer (applied,
then answered INTERNAL), and the write faults of `platform_fixtures.Fault` (slow_answer,
drop_answer: applied, then the call is cancelled as UNAVAILABLE; hold).

As strict as the API where we rely on it: every GAQL query is checked against the v26 protos
(`tests/fakes/gaql.py`: unknown fields, resources, date segments without a date range); customers
reached through a manager (`managers`) need that manager in `login-customer-id`; responsive search
ads are checked against their limits; campaigns in `shared_budgets` share one explicit budget.
Performance Max campaigns (`pmax`, tests/fakes/google_pmax.py) are served in `FROM campaign`, and
campaign-level metric reports honour a channel filter.

An ad group's rotation (`ad_group.ad_rotation_mode`) is the simulator's ad set rotation, read in
`FROM ad_group` and changed by an AdGroupService update whose mask is `ad_rotation_mode` alone.

A new ad's URL custom parameters are kept and read back (`ad_group_ad.ad.url_custom_parameters`),
as Google keeps an Ad's `url_custom_parameters`
(https://developers.google.com/google-ads/api/reference/rpc/v26/Ad).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent import futures
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import grpc
from google.ads.googleads.v26.common.types.ad_asset import AdTextAsset
from google.ads.googleads.v26.common.types.custom_parameter import CustomParameter
from google.ads.googleads.v26.errors.types.errors import (
    ErrorCode,
    ErrorDetails,
    ErrorLocation,
    GoogleAdsError,
    GoogleAdsFailure,
    QuotaErrorDetails,
)
from google.ads.googleads.v26.services.types import (
    ad_group_ad_service,
    ad_group_bid_modifier_service,
    ad_group_criterion_service,
    ad_group_service,
    campaign_budget_service,
    campaign_service,
    campaign_shared_set_service,
    google_ads_service,
    shared_criterion_service,
    shared_set_service,
)
from google.protobuf import any_pb2, duration_pb2
from google.rpc import status_pb2

from connectors.records import Entity, MetricRow
from tests.fakes import google_ads_breakdowns as breakdowns
from tests.fakes import google_audience_exclusions as user_list_exclusions
from tests.fakes import google_bid_modifiers as bid_modifiers
from tests.fakes import google_demographics as demographics
from tests.fakes import google_locations as locations
from tests.fakes import intraday
from tests.fakes.gaql import check_query, conditions, matches
from tests.fakes.google_labels import MUTATE_SERVICES as LABEL_SERVICES
from tests.fakes.google_labels import LabelRefused, Labels
from tests.fakes.google_pmax import PerformanceMax
from tests.fakes.google_schedules import MUTATE_SERVICES as SCHEDULE_SERVICES
from tests.fakes.google_schedules import ScheduleRefused, Schedules
from tests.fakes.platform_fixtures import Faults, IdMap, SimBackend, Traffic, after_write, before_write

PREFIX = "google.ads.googleads.v26"
FAILURE_KEY = f"{PREFIX}.errors.googleadsfailure-bin"
Row: Any = google_ads_service.GoogleAdsRow  # proto-plus accepts enum names as strings
_STATUS = {"ACTIVE": "ENABLED", "PAUSED": "PAUSED", "REMOVED": "REMOVED"}

# service -> (RPC method, request type, response type, result type)
MUTATE_SERVICES: dict[str, tuple[str, Any, Any, Any]] = {
    "CampaignBudgetService": ("MutateCampaignBudgets", campaign_budget_service.MutateCampaignBudgetsRequest,
                              campaign_budget_service.MutateCampaignBudgetsResponse,
                              campaign_budget_service.MutateCampaignBudgetResult),
    "CampaignService": ("MutateCampaigns", campaign_service.MutateCampaignsRequest,
                        campaign_service.MutateCampaignsResponse, campaign_service.MutateCampaignResult),
    "AdGroupService": ("MutateAdGroups", ad_group_service.MutateAdGroupsRequest,
                       ad_group_service.MutateAdGroupsResponse, ad_group_service.MutateAdGroupResult),
    "AdGroupAdService": ("MutateAdGroupAds", ad_group_ad_service.MutateAdGroupAdsRequest,
                         ad_group_ad_service.MutateAdGroupAdsResponse, ad_group_ad_service.MutateAdGroupAdResult),
    "AdGroupCriterionService": ("MutateAdGroupCriteria", ad_group_criterion_service.MutateAdGroupCriteriaRequest,
                                ad_group_criterion_service.MutateAdGroupCriteriaResponse,
                                ad_group_criterion_service.MutateAdGroupCriterionResult),
    "SharedSetService": ("MutateSharedSets", shared_set_service.MutateSharedSetsRequest,
                         shared_set_service.MutateSharedSetsResponse, shared_set_service.MutateSharedSetResult),
    "SharedCriterionService": ("MutateSharedCriteria", shared_criterion_service.MutateSharedCriteriaRequest,
                               shared_criterion_service.MutateSharedCriteriaResponse,
                               shared_criterion_service.MutateSharedCriterionResult),
    "AdGroupBidModifierService": ("MutateAdGroupBidModifiers",
                                  ad_group_bid_modifier_service.MutateAdGroupBidModifiersRequest,
                                  ad_group_bid_modifier_service.MutateAdGroupBidModifiersResponse,
                                  ad_group_bid_modifier_service.MutateAdGroupBidModifierResult),
    "CampaignSharedSetService": ("MutateCampaignSharedSets",
                                 campaign_shared_set_service.MutateCampaignSharedSetsRequest,
                                 campaign_shared_set_service.MutateCampaignSharedSetsResponse,
                                 campaign_shared_set_service.MutateCampaignSharedSetResult),
    **LABEL_SERVICES,  # tests/fakes/google_labels.py
    **SCHEDULE_SERVICES,  # tests/fakes/google_schedules.py
}


class _Refused(ValueError):
    """One operation refused with a specific error code (`kind`, `value`)."""

    def __init__(self, kind: str, value: str, message: str) -> None:
        super().__init__(message)
        self.kind, self.value = kind, value


def _width(text: str) -> int:
    """Google counts full-width (CJK) characters as two."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def _check_rsa(ad: Any) -> None:
    """Responsive search ad limits (https://developers.google.com/google-ads/api/reference/rpc/v26/ResponsiveSearchAdInfo
    and https://support.google.com/google-ads/answer/7684791): 3-15 headlines of at most 30
    characters, 2-4 descriptions of at most 90, and a final URL. The API answers
    CollectionSizeError TOO_FEW / TOO_MANY, StringLengthError TOO_LONG, RequiredError REQUIRED."""
    rsa = ad.responsive_search_ad
    for label, items, low, high, longest in (("headlines", rsa.headlines, 3, 15, 30),
                                             ("descriptions", rsa.descriptions, 2, 4, 90)):
        if len(items) < low:
            raise _Refused("collection_size_error", "TOO_FEW", f"Too few {label}: {len(items)} (at least {low}).")
        if len(items) > high:
            raise _Refused("collection_size_error", "TOO_MANY", f"Too many {label}: {len(items)} (at most {high}).")
        for item in items:
            if _width(item.text) > longest:
                raise _Refused("string_length_error", "TOO_LONG",
                               f"Too long: {label[:-1]} {item.text!r} is over {longest} characters.")
    if not ad.final_urls:
        raise _Refused("required_error", "REQUIRED", "Required field was not specified: final_urls.")


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, message: str, failure: GoogleAdsFailure | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.failure = code, message, failure


def _error(kind: str, value: str, message: str, index: int | None = None, retry_delay: float = 0.0) -> GoogleAdsError:
    error = GoogleAdsError(message=message, error_code=ErrorCode(**{kind: value}))
    if index is not None:
        error.location = ErrorLocation(field_path_elements=[ErrorLocation.FieldPathElement(field_name="operations",
                                                                                            index=index)])
    if retry_delay:
        seconds = int(retry_delay)
        error.details = ErrorDetails(quota_error_details=QuotaErrorDetails(retry_delay=duration_pb2.Duration(
            seconds=seconds, nanos=int((retry_delay - seconds) * 1e9))))
    return error


class FakeGoogleAds:
    """The server. `customers` maps Google customer ids (digits) to simulator account ids."""

    def __init__(self, backend: SimBackend, *, developer_token: str = "DEV", rows_per_message: int = 1000,
                 traffic: Traffic | None = None, workers: int = 16, managers: Mapping[str, str] | None = None,
                 shared_budgets: Collection[str] = ()) -> None:
        self.backend = backend
        self.managers = dict(managers or {})  # customer id -> the manager account it is reached through
        self.shared_budgets = set(shared_budgets)  # simulator campaign ids sharing one explicit budget
        self.developer_token = developer_token
        self.rows_per_message = rows_per_message
        self.traffic = traffic or Traffic()
        self.faults = Faults()
        self.ids = IdMap()
        # shared set id -> {"name", "customer", "criteria": [(text, match)], "campaigns": [sim campaign id]}
        self.shared_sets: dict[int, dict[str, Any]] = {}
        self.ad_parameters: dict[str, list[tuple[str, str]]] = {}  # new ad's sim id -> URL custom parameters
        self.labels = Labels(self.ids)  # the accounts' labels (tests/fakes/google_labels.py)
        self.schedules = Schedules(self.ids)  # campaigns' ad schedule criteria (tests/fakes/google_schedules.py)
        # negative user list campaign criteria (tests/fakes/google_audience_exclusions.py)
        self.pmax = PerformanceMax()
        self.user_list_exclusions = user_list_exclusions.UserListExclusions(self.ids, lambda name: any(
            name.rsplit("/", 1)[-1] == str(c.campaign_id) for cs in self.pmax.campaigns.values() for c in cs))  # Performance Max campaigns by customer id (tests/fakes/google_pmax.py)
        self.lifecycle_goals: dict[str, tuple[str, ...]] = {}  # customer id -> its customer lifecycle goal types
        # sim campaign id -> regions it targets: positive LOCATION criteria (tests/fakes/google_locations.py)
        self.targeted_locations: dict[str, set[str]] = {}
        self._new_ads = itertools.count(1)
        self.requests: list[tuple[str, Any]] = []
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
        handlers = {"SearchStream": grpc.unary_stream_rpc_method_handler(
            self._search_stream, request_deserializer=google_ads_service.SearchGoogleAdsStreamRequest.deserialize,
            response_serializer=google_ads_service.SearchGoogleAdsStreamResponse.serialize)}
        self._server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
            f"{PREFIX}.services.GoogleAdsService", handlers)])
        for service, (method, request_type, response_type, _) in MUTATE_SERVICES.items():
            handler = grpc.unary_unary_rpc_method_handler(
                self._mutate_handler(service), request_deserializer=request_type.deserialize,
                response_serializer=response_type.serialize)
            self._server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
                f"{PREFIX}.services.{service}", {method: handler})])
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> FakeGoogleAds:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(grace=None)

    def channel_factory(self) -> Callable[[], grpc.Channel]:
        """What `google_ads_channel_factory` wants: a fresh insecure channel to this server."""
        return lambda: grpc.insecure_channel(f"127.0.0.1:{self.port}")

    def __enter__(self) -> FakeGoogleAds:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- plumbing ---------------------------------------------------------------------------

    def _check(self, kind: str, customer_id: str, context: grpc.ServicerContext, fault: Any = None
               ) -> tuple[str, Any]:
        metadata = dict(context.invocation_metadata())
        fault = fault or self.faults.take(kind)
        if metadata.get("developer-token") != self.developer_token or (fault and fault.kind == "auth"):
            raise _Abort(grpc.StatusCode.UNAUTHENTICATED, "Authentication failed", GoogleAdsFailure(errors=[_error(
                "authentication_error", "OAUTH_TOKEN_INVALID",
                f"OAuth token or developer token {metadata.get('developer-token')} is invalid")]))
        if fault and fault.kind == "rate_limit":
            delay = float(fault.params.get("retry_delay", 5))
            raise _Abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "Too many requests", GoogleAdsFailure(errors=[_error(
                "quota_error", "RESOURCE_EXHAUSTED", "Too many requests. Retry in a few seconds.",
                retry_delay=delay)]))
        if fault and fault.kind == "server_error":
            raise _Abort(grpc.StatusCode.INTERNAL, "Internal error encountered", GoogleAdsFailure(errors=[_error(
                "internal_error", "INTERNAL_ERROR", "An internal error has occurred.")]))
        if fault and fault.kind == "unavailable":
            raise _Abort(grpc.StatusCode.UNAVAILABLE, "The service is currently unavailable")
        if fault and fault.kind == "timeout":
            raise _Abort(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline exceeded")
        if fault and fault.kind == "invalid":
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "Request contains an invalid argument.",
                         GoogleAdsFailure(errors=[_error("request_error", "INVALID_INPUT", "invalid input")]))
        manager = self.managers.get(customer_id)
        if manager is not None and metadata.get("login-customer-id") != manager:
            # https://developers.google.com/google-ads/api/docs/concepts/call-structure#cid: a client
            # reached through a manager needs the manager's id in `login-customer-id`, else
            # AuthorizationError USER_PERMISSION_DENIED.
            raise _Abort(grpc.StatusCode.PERMISSION_DENIED, "The caller does not have permission",
                         GoogleAdsFailure(errors=[_error(
                             "authorization_error", "USER_PERMISSION_DENIED",
                             "User doesn't have permission to access customer. Note: If you're accessing a client "
                             "customer, the manager's customer ID must be set in the 'login-customer-id' header.")]))
        sim_account = self.backend.sim_account(customer_id)
        if sim_account is None:
            raise _Abort(grpc.StatusCode.PERMISSION_DENIED, "The caller does not have permission",
                         GoogleAdsFailure(errors=[_error("authorization_error", "USER_PERMISSION_DENIED",
                                                         f"no access to customer {customer_id}")]))
        return sim_account, fault

    @staticmethod
    def _abort(context: grpc.ServicerContext, abort: _Abort) -> None:
        metadata: list[tuple[str, Any]] = [("request-id", "fake-request")]
        if abort.failure is not None:
            metadata.append((FAILURE_KEY, GoogleAdsFailure.serialize(abort.failure)))
        context.set_trailing_metadata(tuple(metadata))
        context.abort(abort.code, abort.message)

    # -- SearchStream -----------------------------------------------------------------------

    def _search_stream(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        match = re.search(r"\bFROM\s+(\w+)", request.query, re.IGNORECASE)
        resource = match.group(1) if match else "?"
        kind = f"search:{resource}"
        with self.traffic.request(kind):
            self.requests.append((kind, request.query))
            try:
                sim_account, fault = self._check(kind, request.customer_id, context)
                failure = check_query(request.query)
                if failure is not None:
                    raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "Request contains an invalid argument.", failure)
                rows = self._rows(resource, request.customer_id, sim_account, request.query)
            except _Abort as abort:
                self._abort(context, abort)
                return
            if fault and fault.kind == "malformed_row" and rows:
                rows[0].segments.date = "2026-02-30"
                if resource in ("campaign", "ad_group"):
                    getattr(rows[0], resource).status = "UNKNOWN"
            chunks = [rows[i:i + self.rows_per_message] for i in range(0, len(rows), self.rows_per_message)] or [[]]
            for number, chunk in enumerate(chunks):
                if number == 1 and fault and fault.kind == "truncated_page":
                    context.abort(grpc.StatusCode.UNAVAILABLE, "stream reset by peer")
                yield google_ads_service.SearchGoogleAdsStreamResponse(results=chunk, request_id="fake-request")

    def _rows(self, resource: str, customer: str, sim_account: str, query: str) -> list[Any]:
        dates = re.search(r"segments\.date\s+BETWEEN\s+'([\d-]+)'\s+AND\s+'([\d-]+)'", query, re.IGNORECASE)
        start, end = (date.fromisoformat(dates.group(1)), date.fromisoformat(dates.group(2))) if dates else (None, None)
        simulator = self.backend.simulator
        if re.search(r"segments\.date\s+DURING\s+LAST_30_DAYS", query, re.IGNORECASE):  # before the account's today
            end = simulator.local_today(sim_account) - timedelta(days=1)
            start = end - timedelta(days=29)
        with self.backend.lock:
            entities = {e.entity_id: e for e in simulator.entities(sim_account)}
            if resource == "customer":
                info = next(a for a in simulator.accounts() if a.account_id == sim_account)
                row = Row()
                row.customer.id = int(customer)
                row.customer.descriptive_name = info.name
                row.customer.currency_code = info.currency
                row.customer.time_zone = info.timezone
                return [row]
            dimension = breakdowns.dimension_of(resource, query)
            if dimension is not None and start is not None and end is not None:
                found = breakdowns.breakdown_rows(dimension, list(simulator.daily_metrics(sim_account, start, end)),
                                                  entities, simulator.seed, self.ids, Row,
                                                  simulator.segment_exclusions())
                campaign = re.search(r"\bcampaign\.id\s*=\s*(\d+)", query)
                return [r for r in found if campaign is None or str(r.campaign.id) == campaign.group(1)]
            if resource in ("label", "campaign_label", "ad_group_label"):
                return self.labels.rows(resource, customer, entities, Row)
            if resource == "campaign_criterion":  # every type the fake holds, filtered by the query's WHERE
                criteria = [*locations.rows(entities, customer, self.ids, Row, self.targeted_locations),
                            *self.schedules.rows(entities, customer, Row),
                            *self.user_list_exclusions.rows(customer, Row)]
                where = conditions(query)
                return [row for row in criteria if matches(row, where)]
            if resource == "goal":
                return breakdowns.goal_rows(self.lifecycle_goals.get(customer, ()), self.ids, customer, Row)
            if resource == "geo_target_constant":
                return breakdowns.geo_constant_rows(query, self.ids, Row)
            if resource == "ad_group_criterion" and demographics.is_demographic_query(query):
                return demographics.rows(list(entities.values()), customer, self.ids.numeric, Row)
            if resource == "ad_group_bid_modifier":
                return bid_modifiers.rows(list(entities.values()), customer, self.ids.numeric, Row)
            if resource in ("ad_group", "ad_group_ad") and start is not None and end is not None:
                level = "ad_set" if resource == "ad_group" else "ad"
                return [self._metric_row(m, entities) for m in intraday.with_today(simulator, sim_account, start, end)
                        if m.level == level]
            if resource == "search_term_view" and start is not None and end is not None:
                return [self._term_row(t) for t in simulator.search_terms(sim_account, start, end)]
            if resource == "campaign" and start is not None and end is not None:
                search = [(self.ids.numeric(str(entities[m.entity_id].parent_id)), m)
                          for m in simulator.daily_metrics(sim_account, start, end) if m.level == "ad_set"]
                return self.pmax.metric_rows(customer, start, end, query, Row, search)
            pmax_campaigns = self.pmax.campaign_rows(customer, Row) if resource == "campaign" else []
        builders: dict[str, Callable[[Entity], list[Any]]] = {
            "campaign": lambda e: [self._campaign_row(customer, e)] if e.level == "campaign" else [],
            "ad_group": lambda e: [self._ad_group_row(e)] if e.level == "ad_set" else [],
            "ad_group_ad": lambda e: [self._ad_row(e)] if e.level == "ad" else [],
            "ad_group_criterion": lambda e: [self._keyword_row(e)] if e.level == "keyword" else [],
        }
        if resource in builders:
            rows = [row for e in entities.values() for row in builders[resource](e)]
            return rows + pmax_campaigns
        return self._shared_rows(resource, customer)

    def _campaign_row(self, customer: str, entity: Entity) -> Any:
        row = Row()
        row.campaign.id = self.ids.numeric(entity.entity_id)
        row.campaign.resource_name = f"customers/{customer}/campaigns/{row.campaign.id}"
        row.campaign.name = entity.name
        row.campaign.status = _STATUS[entity.status]
        row.campaign.advertising_channel_type = "SEARCH"
        if entity.daily_budget is not None:
            shared = entity.entity_id in self.shared_budgets
            budget_id = self.ids.numeric("shared#budget" if shared else f"{entity.entity_id}#budget")
            row.campaign.campaign_budget = f"customers/{customer}/campaignBudgets/{budget_id}"
            row.campaign_budget.resource_name = row.campaign.campaign_budget
            row.campaign_budget.amount_micros = int(entity.daily_budget * 1_000_000)
            row.campaign_budget.name = "Shared budget" if shared else f"Budget {entity.name}"
            row.campaign_budget.explicitly_shared = shared
            row.campaign_budget.reference_count = len(self.shared_budgets) if shared else 1
        return row

    def _ad_group_row(self, entity: Entity) -> Any:
        row = Row()
        row.ad_group.id = self.ids.numeric(entity.entity_id)
        row.ad_group.name = entity.name
        row.ad_group.status = _STATUS[entity.status]
        if entity.attributes.get("ad_rotation"):  # the enum's name; proto-plus takes it as is
            row.ad_group.ad_rotation_mode = entity.attributes["ad_rotation"]
        row.campaign.id = self.ids.numeric(str(entity.parent_id))
        return row

    def _ad_row(self, entity: Entity) -> Any:
        row = Row()
        row.ad_group.id = self.ids.numeric(str(entity.parent_id))
        ad = row.ad_group_ad.ad
        ad.id = self.ids.numeric(entity.entity_id)
        ad.name = entity.name
        ad.type_ = "RESPONSIVE_SEARCH_AD"
        ad.final_urls.append(f"https://shop.example/{row.ad_group.id}")
        row.ad_group_ad.status = _STATUS[entity.status]
        for text in entity.attributes.get("headlines") or [entity.attributes.get("headline", "")]:
            ad.responsive_search_ad.headlines.append(AdTextAsset(text=text))
        for text in entity.attributes.get("descriptions") or [entity.attributes.get("description", "")]:
            ad.responsive_search_ad.descriptions.append(AdTextAsset(text=text))
        for key, value in self.ad_parameters.get(entity.entity_id, []):
            ad.url_custom_parameters.append(CustomParameter(key=key, value=value))
        return row

    def _keyword_row(self, entity: Entity) -> Any:
        row = Row()
        row.ad_group.id = self.ids.numeric(str(entity.parent_id))
        criterion = row.ad_group_criterion
        criterion.criterion_id = self.ids.numeric(entity.entity_id)
        criterion.status = _STATUS[entity.status]
        criterion.keyword.text = entity.attributes["text"]
        criterion.keyword.match_type = entity.attributes["match_type"]
        return row

    def _metric_row(self, metric: MetricRow, entities: dict[str, Entity]) -> Any:
        row = Row()
        row.segments.date = metric.day.isoformat()
        if metric.level == "ad_set":
            row.ad_group.id = self.ids.numeric(metric.entity_id)
            row.campaign.id = self.ids.numeric(str(entities[metric.entity_id].parent_id))
        else:
            row.ad_group.id = self.ids.numeric(str(entities[metric.entity_id].parent_id))
            row.ad_group_ad.ad.id = self.ids.numeric(metric.entity_id)
        row.metrics.cost_micros = int(metric.spend * 1_000_000)
        row.metrics.impressions = metric.impressions
        row.metrics.clicks = metric.clicks
        row.metrics.conversions = metric.conversions
        row.metrics.conversions_value = float(metric.conversion_value)
        return row

    def _term_row(self, term: Any) -> Any:
        row = Row()
        row.segments.date = term.day.isoformat()
        row.campaign.id = self.ids.numeric(term.campaign_id)
        row.ad_group.id = self.ids.numeric(term.ad_group_id)
        row.search_term_view.search_term = term.search_term
        row.metrics.cost_micros = int(term.spend * 1_000_000)
        row.metrics.impressions = term.impressions
        row.metrics.clicks = term.clicks
        row.metrics.conversions = term.conversions
        row.metrics.conversions_value = float(term.conversion_value)
        return row

    def _shared_rows(self, resource: str, customer: str) -> list[Any]:
        rows = []
        for set_id, shared in self.shared_sets.items():
            if shared["customer"] != customer:
                continue
            if resource == "shared_set":
                row = Row()
                row.shared_set.id, row.shared_set.name = set_id, shared["name"]
                rows.append(row)
            elif resource == "shared_criterion":
                for text, match_type in shared["criteria"]:
                    row = Row()
                    row.shared_set.id = set_id
                    row.shared_criterion.keyword.text = text
                    row.shared_criterion.keyword.match_type = match_type
                    rows.append(row)
            elif resource == "campaign_shared_set":
                for campaign in shared["campaigns"]:
                    row = Row()
                    row.campaign.id, row.shared_set.id = self.ids.numeric(campaign), set_id
                    rows.append(row)
        return rows

    # -- mutates ----------------------------------------------------------------------------

    def _mutate_handler(self, service: str) -> Callable[[Any, grpc.ServicerContext], Any]:
        def handle(request: Any, context: grpc.ServicerContext) -> Any:
            kind = f"mutate:{service}"
            with self.traffic.request(kind):
                self.requests.append((kind, request))
                try:
                    fault = self.faults.take(kind)
                    before_write(fault)
                    sim_account, fault = self._check(kind, request.customer_id, context, fault)
                    response = self._mutate(service, request, sim_account, fault)
                    if after_write(fault):  # applied; the answer is lost on the way
                        raise _Abort(grpc.StatusCode.UNAVAILABLE, "Connection reset by peer")
                    if fault and fault.kind == "lost_answer":
                        raise _Abort(grpc.StatusCode.INTERNAL, "Internal error encountered", GoogleAdsFailure(
                            errors=[_error("internal_error", "INTERNAL_ERROR", "An internal error has occurred.")]))
                    return response
                except _Abort as abort:
                    self._abort(context, abort)
                    raise AssertionError("unreachable") from None

        return handle

    def _mutate(self, service: str, request: Any, sim_account: str, fault: Any) -> Any:
        _, _, response_type, result_type = MUTATE_SERVICES[service]
        errors: dict[int, str] = {}
        codes: dict[int, tuple[str, str]] = {}  # index -> error code, when not RESOURCE_NOT_FOUND
        names: dict[int, str] = {}
        pending: list[tuple[int, tuple[str, str, dict[str, Any]]]] = []
        self.schedules.begin()
        for index, operation in enumerate(request.operations):
            try:
                name, mutation = self._translate(service, operation, request.customer_id, sim_account,
                                                 request.validate_only)
            except ValueError as error:
                errors[index] = str(error)
                if isinstance(error, _Refused | LabelRefused | ScheduleRefused | locations.LocationRefused):
                    codes[index] = (error.kind, error.value)
                continue
            names[index] = name
            if mutation is not None:
                pending.append((index, mutation))
        if fault and fault.kind == "partial_failure":
            errors[int(fault.params.get("index", 0))] = "injected failure"
            pending = [(i, m) for i, m in pending if i not in errors]
        if pending:
            results = self.backend.apply(sim_account, [m for _, m in pending], "gads", request.validate_only)
            for (index, _), outcome in zip(pending, results, strict=True):
                if not outcome.ok:
                    errors[index] = str(outcome.error)
        if errors and not request.partial_failure:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "Request contains an invalid argument.",
                         GoogleAdsFailure(errors=[_error("mutate_error", "RESOURCE_NOT_FOUND", message, index)
                                                  for index, message in errors.items()]))
        response = response_type()
        for index in range(len(request.operations)):
            response.results.append(result_type(resource_name="" if index in errors or request.validate_only
                                                else names.get(index, "")))
        if errors:
            failure = GoogleAdsFailure(errors=[_error(*codes.get(index, ("mutate_error", "RESOURCE_NOT_FOUND")),
                                                      message, index)
                                               for index, message in sorted(errors.items())])
            detail = any_pb2.Any(type_url=f"type.googleapis.com/{PREFIX}.errors.GoogleAdsFailure",
                                 value=GoogleAdsFailure.serialize(failure))
            response.partial_failure_error = status_pb2.Status(
                code=3, message="Multiple errors in ‘details’. First error: " + next(iter(errors.values())),
                details=[detail])
        return response

    def _sim_id(self, resource_name: str, position: int = -1) -> str:
        """The simulator id behind `customers/1/adGroups/5` (or one part of `5~7`)."""
        tail = resource_name.rsplit("/", 1)[-1].split("~")[position]
        sim_id = self.ids.sim(tail)
        if sim_id is None:
            raise ValueError(f"resource {resource_name} not found")
        return sim_id

    def _translate(self, service: str, operation: Any, customer: str, sim_account: str, validate_only: bool
                   ) -> tuple[str, tuple[str, str, dict[str, Any]] | None]:
        """(resource name, simulator mutation or None) for one operation; ValueError if invalid."""
        if service in LABEL_SERVICES:
            with self.backend.lock:
                entities = {e.entity_id: e for e in self.backend.simulator.entities(sim_account)}
            return self.labels.translate(service, operation, customer, entities, self._sim_id, validate_only)
        if service in SCHEDULE_SERVICES and self.user_list_exclusions.handles(operation):
            return self.user_list_exclusions.translate(operation, customer, self._sim_id, validate_only)
        if service in SCHEDULE_SERVICES:
            with self.backend.lock:
                entities = {e.entity_id: e for e in self.backend.simulator.entities(sim_account)}
            if locations.is_location_operation(operation, self.ids):  # tests/fakes/google_locations.py
                return locations.translate(operation, customer, entities, self.ids, self._sim_id)
            return self.schedules.translate(operation, customer, entities, self._sim_id)
        if service == "CampaignBudgetService":
            update = operation.update
            amount = Decimal(update.amount_micros) / Decimal(1_000_000)
            if self.pmax.set_budget(update.resource_name, amount, validate_only):
                return update.resource_name, None
            campaign = self._sim_id(update.resource_name).removesuffix("#budget")
            if campaign == "shared":  # a shared budget moves every campaign that uses it
                campaign = sorted(self.shared_budgets)[0]
            return update.resource_name, ("set_budget", campaign, {"daily_budget": str(amount)})
        if service == "AdGroupCriterionService" and ("create" in operation or "remove" in operation):
            with self.backend.lock:
                entities = {e.entity_id: e for e in self.backend.simulator.entities(sim_account)}
            return demographics.translate(operation, customer, self._sim_id, entities)
        if service == "AdGroupService" and "update" in operation \
                and list(operation.update_mask.paths) == ["ad_rotation_mode"]:
            update = operation.update
            return update.resource_name, ("set_ad_rotation", self._sim_id(update.resource_name),
                                          {"ad_rotation": update.ad_rotation_mode.name})
        if service in ("CampaignService", "AdGroupService", "AdGroupCriterionService") or (
                service == "AdGroupAdService" and "update" in operation):
            update = operation.update
            if list(operation.update_mask.paths) != ["status"]:
                raise ValueError(f"unsupported update mask {list(operation.update_mask.paths)}")
            kind = "pause" if update.status.name == "PAUSED" else "enable"
            return update.resource_name, (kind, self._sim_id(update.resource_name), {})
        if service == "AdGroupBidModifierService":
            with self.backend.lock:
                entities = {e.entity_id: e for e in self.backend.simulator.entities(sim_account)}
            return bid_modifiers.translate(operation, customer, self._sim_id, entities)
        if service == "AdGroupAdService":
            create = operation.create
            _check_rsa(create.ad)
            ad_set = self._sim_id(create.ad_group)
            # one id per created ad, even when one mutate creates several
            new_ad_id = f"{ad_set}-g{next(self._new_ads)}"
            self.ad_parameters[new_ad_id] = [(p.key, p.value) for p in create.ad.url_custom_parameters]
            params = {"headlines": [h.text for h in create.ad.responsive_search_ad.headlines],
                      "descriptions": [d.text for d in create.ad.responsive_search_ad.descriptions],
                      "status": "ACTIVE" if create.status.name == "ENABLED" else "PAUSED", "new_ad_id": new_ad_id}
            ad_group_id = create.ad_group.rsplit("/", 1)[-1]
            return (f"customers/{customer}/adGroupAds/{ad_group_id}~{self.ids.numeric(new_ad_id)}",
                    ("new_ad", ad_set, params))
        return self._translate_shared(service, operation, customer, validate_only)

    def _translate_shared(self, service: str, operation: Any, customer: str, validate_only: bool
                          ) -> tuple[str, tuple[str, str, dict[str, Any]] | None]:
        if service == "SharedSetService":
            name = operation.create.name
            if any(s["name"] == name and s["customer"] == customer for s in self.shared_sets.values()):
                raise ValueError(f"DUPLICATE_NAME: a shared set named {name!r} exists")
            if validate_only:
                return "", None
            set_id = self.ids.numeric(f"shared-set:{customer}:{name}")
            self.shared_sets[set_id] = {"name": name, "customer": customer, "criteria": [], "campaigns": []}
            return f"customers/{customer}/sharedSets/{set_id}", None
        if service == "SharedCriterionService":
            shared = self._shared_set(operation.create.shared_set)
            keyword = (operation.create.keyword.text, operation.create.keyword.match_type.name)
            if not validate_only:
                shared["criteria"].append(keyword)
            mutation = None
            if shared["campaigns"]:  # an attached list blocks at once
                mutation = ("add_negative_keywords", shared["campaigns"][0],
                            {"list_name": shared["name"], "keywords": [{"text": keyword[0], "match_type": keyword[1]}]})
            return f"{operation.create.shared_set}~{len(shared['criteria'])}", mutation
        shared = self._shared_set(operation.create.shared_set)
        campaign = self._sim_id(operation.create.campaign)
        if not validate_only:
            shared["campaigns"].append(campaign)
        mutation = None
        if shared["criteria"]:
            mutation = ("add_negative_keywords", campaign, {"list_name": shared["name"], "keywords": [
                {"text": text, "match_type": match} for text, match in shared["criteria"]]})
        return f"customers/{customer}/campaignSharedSets/{self.ids.numeric(campaign)}~{operation.create.shared_set}", \
            mutation

    def _shared_set(self, resource_name: str) -> dict[str, Any]:
        try:
            return self.shared_sets[int(resource_name.rsplit("/", 1)[-1])]
        except (KeyError, ValueError):
            raise ValueError(f"shared set {resource_name} not found") from None


def customers_for(specs: Sequence[Any], start: int = 1_234_567_890) -> dict[str, str]:
    """Google customer ids (10 digits) for simulator account specs, in order."""
    return {str(start + index): spec.account_id for index, spec in enumerate(specs)}
