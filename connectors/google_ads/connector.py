"""Google Ads through the official `google-ads` SDK (API v26): GAQL `search_stream` for reads,
one partial-failure mutate request per service for writes.

Our `campaign` is a Google campaign (which holds the budget, via its campaign budget), our
`ad_set` an ad group, our `ad` an ad group ad (id `adGroupId~adId`) and our `keyword` an ad-group
keyword criterion (id `adGroupId~criterionId`).
"""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from connectors.errors import ConnectorError, WriteOutcomeUnknown, WritesStopped
from connectors.google_ads import (
    audience_exclusions,
    bid_modifiers,
    breakdowns,
    campaign_criteria,
    demographics,
    labels,
    locations,
    pmax,
    reports,
    schedules,
    writes,
)
from connectors.google_ads.audience_members import GoogleAudienceSyncer
from connectors.google_ads.offline_conversions import GoogleConversionUploader
from connectors.google_ads.reports import AccountState, Target, parse_rows
from connectors.google_ads.spec import customer_id_of
from connectors.google_ads.transport import ChannelFactory, GoogleAdsTransport, classify
from connectors.new_ad_copy import tag_id
from connectors.platform_connector import PlatformConnector
from connectors.records import (
    AccountInfo,
    Audience,
    Entity,
    MetricRow,
    Mutation,
    MutationResult,
    SearchTermRow,
    SegmentRow,
)
from connectors.registry import ConnectorContext
from connectors.retry import RetryPolicy
from connectors.segments import BREAKDOWN_REPORTS, OPTIONAL_BREAKDOWN_REPORTS, merged

log = logging.getLogger(__name__)
PLATFORM = "google_ads"


@dataclass(frozen=True)
class GoogleAccount:
    """A configured account: our id, Google's customer id (digits only) and its credentials."""

    account_id: str
    customer_id: str
    name: str
    credentials: Mapping[str, str] = field(repr=False)


@dataclass(frozen=True)
class GoogleAdsOptions:
    """Tuning knobs (production defaults; tests point `channel_factory` at a fake server)."""

    channel_factory: ChannelFactory | None = None
    write_timeout: float | None = None  # seconds a mutate may take; past it, its outcome is unknown
    validate_only: bool = False  # send every write with validate_only: Google checks, changes nothing


class GoogleAdsConnector(PlatformConnector[GoogleAccount]):
    """The `Connector` for Google Ads. Safe to call for different accounts from several threads."""

    platform = PLATFORM

    def __init__(self, accounts: Sequence[GoogleAccount], *, retry: RetryPolicy | None = None,
                 channel_factory: ChannelFactory | None = None, validate_only: bool = False,
                 write_timeout: float | None = None) -> None:
        super().__init__(accounts, retry=retry, classify=classify)
        self._write_timeout = write_timeout  # seconds a mutate may take; past it, its outcome is unknown
        self._channel_factory = channel_factory
        self.validate_only = validate_only
        self._transports: dict[tuple[tuple[str, str], ...], GoogleAdsTransport] = {}
        self._state: dict[str, AccountState] = defaultdict(AccountState)
        self._geo_name_cache: dict[str, str] = {}  # geoTargetConstants/{id} -> its name
        self._lifecycle_goals: dict[tuple[str, date], bool] = {}  # (account, report end) -> has a lifecycle goal

    @classmethod
    def from_context(cls, context: ConnectorContext) -> GoogleAdsConnector:
        accounts = [GoogleAccount(str(a["id"]), customer_id_of(a), str(a.get("name") or a["id"]),
                                  dict(a.get("credentials") or {})) for a in context.accounts]
        tuning = context.options.tuning_for(GoogleAdsOptions)
        return cls(accounts, retry=context.options.retry(), channel_factory=tuning.channel_factory,
                   validate_only=tuning.validate_only, write_timeout=tuning.write_timeout)

    def conversion_uploader(self) -> GoogleConversionUploader:
        """Offline conversions (connectors/google_ads/offline_conversions.py) on the same channel."""
        return GoogleConversionUploader(self._channel_factory)

    def audience_syncer(self) -> GoogleAudienceSyncer:
        """Customer Match members through the Data Manager API (connectors/google_ads/audience_members.py)."""
        return GoogleAudienceSyncer(self._channel_factory)

    # -- plumbing ---------------------------------------------------------------------------

    def _transport(self, account: GoogleAccount) -> GoogleAdsTransport:
        key = tuple(sorted(account.credentials.items()))
        with self._lock:
            if key not in self._transports:
                self._transports[key] = GoogleAdsTransport(account.credentials, self._channel_factory)
            return self._transports[key]

    def _search(self, account: GoogleAccount, query: str, report: str, *, raw: bool = False) -> list[Any]:
        """All rows of one GAQL query (one SearchStream request; re-read whole on a retry); with `raw`,
        the protobuf messages under the SDK's proto-plus wrappers (`_report`)."""
        service = self._transport(account).service("GoogleAdsService")

        def read() -> list[Any]:
            return [row for batch in service.search_stream(customer_id=account.customer_id, query=query)
                    for row in (type(batch).pb(batch).results if raw else batch.results)]

        return list(self._call(account, f"{report} report", read))

    def _report(self, account: GoogleAccount, query: str, report: str) -> list[Any]:
        """All rows of one GAQL report, raw. Report rows are thousands of numbers and strings per pull:
        reading them through the wrappers cost five times as much CPU as reading the messages (enums
        come as numbers: `breakdowns.enum_name`)."""
        return self._search(account, query, report, raw=True)

    # -- reads ------------------------------------------------------------------------------

    def _read_account_info(self, account: GoogleAccount) -> AccountInfo:
        rows = self._search(account, reports.CUSTOMER, "customer")
        if not rows:
            raise ConnectorError(f"google_ads account {account.account_id}: customer {account.customer_id} "
                                 "returned no customer row")
        customer = rows[0].customer
        return AccountInfo(PLATFORM, account.account_id, customer.descriptive_name or account.name,
                           customer.currency_code, customer.time_zone)

    def entities(self, account_id: str, entity_ids: Sequence[str] | None = None) -> Sequence[Entity]:
        account = self._account(account_id)
        currency = self._account_info(account).currency
        customer = account.customer_id
        shared_sets = {str(r.shared_set.id): r.shared_set.name
                       for r in self._search(account, reports.SHARED_SETS, "shared_set")}
        negatives: dict[str, list[dict[str, str]]] = defaultdict(list)
        for row in self._search(account, reports.SHARED_CRITERIA, "shared_criterion"):
            set_id = str(row.shared_set.id)
            negatives[set_id].append({"text": row.shared_criterion.keyword.text,
                                      "match_type": row.shared_criterion.keyword.match_type.name,
                                      "list_name": shared_sets.get(set_id, "")})
        links = [(str(r.campaign.id), str(r.shared_set.id))
                 for r in self._search(account, reports.CAMPAIGN_SHARED_SETS, "campaign_shared_set")]
        by_campaign: dict[str, list[dict[str, str]]] = defaultdict(list)
        for campaign_id, set_id in links:
            by_campaign[campaign_id].extend(negatives.get(set_id, []))
        state = AccountState(
            shared_sets={name: f"customers/{customer}/sharedSets/{set_id}" for set_id, name in shared_sets.items()},
            linked={(c, f"customers/{customer}/sharedSets/{s}") for c, s in links},
        )
        found: list[Entity] = []

        def collect(rows: Iterable[Any], parse: Callable[[Any], tuple[Entity, Target]], report: str,
                    row_id: Callable[[Any], str]) -> None:
            for entity, target in parse_rows(rows, parse, account_id, report, row_id):
                found.append(entity)
                state.targets[entity.entity_id] = target

        def campaign(row: Any) -> tuple[Entity, Target]:
            entity = reports.campaign_entity(row, account_id, currency, by_campaign.get(str(row.campaign.id), []))
            return entity, Target("campaign", row.campaign.resource_name
                                  or f"customers/{customer}/campaigns/{row.campaign.id}",
                                  budget_resource=row.campaign.campaign_budget or None,
                                  channel=row.campaign.advertising_channel_type.name)

        def ad_group(row: Any) -> tuple[Entity, Target]:
            return (reports.ad_group_entity(row, account_id, currency),
                    Target("ad_set", f"customers/{customer}/adGroups/{row.ad_group.id}",
                           campaign_id=str(row.campaign.id)))

        def ad(row: Any) -> tuple[Entity, Target]:
            entity = reports.ad_entity(row, account_id, currency)
            return entity, Target("ad", f"customers/{customer}/adGroupAds/{entity.entity_id}",
                                  ad_group_id=str(row.ad_group.id))

        def keyword(row: Any) -> tuple[Entity, Target]:
            entity = reports.keyword_entity(row, account_id, currency)
            return entity, Target("keyword", f"customers/{customer}/adGroupCriteria/{entity.entity_id}",
                                  ad_group_id=str(row.ad_group.id))

        collect(self._search(account, reports.CAMPAIGNS, "campaign"), campaign, "campaign",
                lambda r: str(r.campaign.id))
        collect(self._search(account, reports.AD_GROUPS, "ad_group"), ad_group, "ad_group",
                lambda r: str(r.ad_group.id))
        collect(self._search(account, reports.ADS, "ad_group_ad"), ad, "ad_group_ad",
                lambda r: f"{r.ad_group.id}~{r.ad_group_ad.ad.id}")
        collect(self._search(account, reports.KEYWORDS, "ad_group_criterion"), keyword, "ad_group_criterion",
                lambda r: f"{r.ad_group.id}~{r.ad_group_criterion.criterion_id}")
        modifiers, state.bid_modifiers = bid_modifiers.read(
            self._search(account, bid_modifiers.QUERY, "ad_group_bid_modifier"))
        excluded, state.demographics = demographics.read(
            self._search(account, demographics.QUERY, "ad_group_criterion"))
        criteria = campaign_criteria.split(self._search(account, campaign_criteria.QUERY, campaign_criteria.REPORT))
        negative_locations = locations.read(criteria.locations)
        regions, state.locations, constants = locations.by_segment(negative_locations, self._geo_names(
            account, {constant for found_ in negative_locations.values() for constant in found_}))
        state.geo_constants = {segment: {constant} for segment, constant in constants.items()}
        found = [replace(e, attributes=_segment_attributes(e.attributes, modifiers.get(e.entity_id, {}),
                                                           excluded.get(e.entity_id, {}),
                                                           regions.get(str(e.parent_id), [])))
                 if e.level == "ad_set" else e for e in found]
        for entity, target in pmax.ad_sets(list(found), customer):
            found.append(entity)
            state.targets[entity.entity_id] = target
        found = labels.with_labels(found, labels.read_labels(
            customer, self._search(account, labels.LABELS, "label"),
            self._search(account, labels.CAMPAIGN_LABELS, "campaign_label"),
            self._search(account, labels.AD_GROUP_LABELS, "ad_group_label"), state))
        found = schedules.with_schedules(found, schedules.read_schedules(
            customer, criteria.schedules, state))
        excluded_lists, state.user_list_exclusions = audience_exclusions.read(customer, criteria.user_lists)
        found = audience_exclusions.with_exclusions(found, excluded_lists)
        # New ads inherit the landing page of their ad group's existing ads.
        urls: dict[str, tuple[str, ...]] = {}
        for entity in found:
            if entity.level == "ad" and entity.parent_id and entity.attributes.get("final_urls"):
                urls.setdefault(entity.parent_id, tuple(entity.attributes["final_urls"]))
        for entity_id, target in state.targets.items():
            if target.level == "ad_set":
                target.final_urls = urls.get(entity_id, ())
        with self._lock:
            self._state[account_id] = state
        wanted = set(entity_ids) if entity_ids is not None else None
        return [e for e in found if wanted is None or e.entity_id in wanted]

    def daily_metrics(self, account_id: str, start: date, end: date) -> Iterable[MetricRow]:
        account = self._account(account_id)
        currency = self._account_info(account).currency
        rows = list(parse_rows(self._report(account, reports.ad_group_metrics(start, end), "ad_group"),
                               lambda r: reports.metric_row(r, account_id, currency, "ad_set"), account_id,
                               "ad_group metrics", lambda r: f"{r.ad_group.id}@{r.segments.date}"))
        rows += parse_rows(self._report(account, reports.ad_metrics(start, end), "ad_group_ad"),
                           lambda r: reports.metric_row(r, account_id, currency, "ad"), account_id,
                           "ad_group_ad metrics", lambda r: f"{r.ad_group.id}~{r.ad_group_ad.ad.id}@{r.segments.date}")
        rows += parse_rows(self._search(account, pmax.metrics_query(start, end), "performance_max"),
                           lambda r: pmax.metric_row(r, account_id, currency), account_id,
                           "performance_max metrics", lambda r: f"{r.campaign.id}@{r.segments.date}")
        return rows

    def intraday_metrics(self, account_id: str, day: date) -> Iterable[MetricRow]:
        """The account's current day so far: the same reports with `segments.date` on today. Google
        reports the day as it goes (most metrics within hours; conversions later), and restates it."""
        return self.daily_metrics(account_id, day, day)

    def search_terms(self, account_id: str, start: date, end: date) -> Iterable[SearchTermRow]:
        account = self._account(account_id)
        currency = self._account_info(account).currency
        return list(parse_rows(self._report(account, reports.search_term_report(start, end), "search_term_view"),
                               lambda r: reports.search_term_row(r, account_id, currency), account_id,
                               "search_term_view", lambda r: f"{r.ad_group.id}@{r.segments.date}"))

    def breakdown_reports(self, account_id: str) -> Sequence[str]:
        self._account(account_id)
        return (*BREAKDOWN_REPORTS[PLATFORM], *OPTIONAL_BREAKDOWN_REPORTS[PLATFORM])

    def segment_metrics(self, account_id: str, report: str, start: date, end: date) -> Iterable[SegmentRow]:
        """One breakdown report (connectors/google_ads/breakdowns.py), in our segment names."""
        account = self._account(account_id)
        currency = self._account_info(account).currency
        resource = breakdowns.resource_of(report)
        if report == "customer_type" and not self._has_lifecycle_goal(account, end):
            return []  # no customer lifecycle goal: Google does not tell new from returning customers
        rows = self._report(account, breakdowns.breakdown_query(report, start, end), resource)
        geo_names: dict[str, str] = {}
        if report == "region":
            geo_names = self._geo_names(account, {breakdowns.raw_region(r) for r in rows} - {""})
        return merged(parse_rows(rows, lambda r: breakdowns.segment_row(report, r, account_id, currency, geo_names),
                                 account_id, f"{resource} breakdown", breakdowns.row_id))

    def _has_lifecycle_goal(self, account: GoogleAccount, end: date) -> bool:
        """Whether the account has a customer lifecycle goal; asked once per account and report day."""
        key = (account.account_id, end)
        with self._lock:
            known = self._lifecycle_goals.get(key)
        if known is None:
            known = any(breakdowns.is_lifecycle_goal(row)
                        for row in self._search(account, breakdowns.LIFECYCLE_GOALS_QUERY, "goal"))
            with self._lock:
                self._lifecycle_goals[key] = known
        return known

    def _geo_names(self, account: GoogleAccount, resource_names: set[str]) -> dict[str, str]:
        """Names of geo target constants, looked up once per connector (they do not change)."""
        with self._lock:
            missing = resource_names - set(self._geo_name_cache)
        if missing:
            found = {str(r.geo_target_constant.resource_name): str(r.geo_target_constant.name)
                     for r in self._search(account, breakdowns.geo_names_query(missing), "geo_target_constant")}
            with self._lock:
                self._geo_name_cache.update(found)
        with self._lock:
            return {name: self._geo_name_cache[name] for name in resource_names if name in self._geo_name_cache}

    def _learn_regions(self, account: GoogleAccount, mutations: Sequence[Mutation], state: AccountState) -> None:
        """The geo target constants behind the regions `exclude_location` mutations cut: from the names
        this connector looked up, else (not seen, or two constants of the same name) from the regions
        the ad group's campaign delivered in lately, which then come first for that campaign."""
        with self._lock:
            for segment, constants in locations.constants_by_region(self._geo_name_cache).items():
                state.geo_constants.setdefault(segment, set()).update(constants)
        campaigns = {target.campaign_id for m in mutations
                     if m.kind == locations.KIND and m.params.get("excluded", True)
                     and len(state.geo_constants.get(str(m.params.get("segment", "")), ())) != 1
                     and (target := state.targets.get(m.entity_id)) is not None and target.campaign_id}
        for campaign_id in sorted(c for c in campaigns if c):
            rows = self._search(account, locations.regions_query(campaign_id), "geographic_view")
            names = self._geo_names(account, {breakdowns.raw_region(r) for r in rows} - {""})
            for segment, constants in locations.constants_by_region(names).items():
                state.campaign_geo_constants[(campaign_id, segment)] = set(constants)

    def audiences(self, account_id: str) -> Sequence[Audience]:
        """Search campaigns target keywords, not audiences: nothing to report."""
        self._account(account_id)
        return []

    def estimate_reach(self, account_id: str, audience_ids: Sequence[str]) -> int:
        raise ConnectorError(f"google_ads account {account_id}: reach estimates are not available for search")

    # -- writes -----------------------------------------------------------------------------

    def apply(self, account_id: str, mutations: Sequence[Mutation]) -> Sequence[MutationResult]:
        """Apply a batch: one partial-failure mutate request per service (two steps for negatives)."""
        return self._mutate(account_id, mutations, validate_only=self.validate_only)

    def validate(self, account_id: str, mutations: Sequence[Mutation]) -> Sequence[MutationResult]:
        """Send the batch with `validate_only=True`: Google checks everything, changes nothing."""
        return self._mutate(account_id, mutations, validate_only=True)

    def _mutate(self, account_id: str, mutations: Sequence[Mutation], validate_only: bool) -> list[MutationResult]:
        account = self._account(account_id)
        currency = self._account_info(account).currency
        with self._lock:
            state = self._state.get(account_id)
        if state is None or any(m.entity_id not in state.targets for m in mutations):
            self.entities(account_id)
            with self._lock:
                state = self._state[account_id]
        client = self._transport(account).client
        self._learn_regions(account, mutations, state)
        plan = writes.plan(client, account.customer_id, currency, mutations, state)
        created = self._send(account, plan, plan.requests, validate_only)
        created_sets = {index: ref for index, ref in created.get("SharedSetService", {}).items()}
        new_ads = created.get("AdGroupAdService", {})
        self._send(account, plan, writes.second_step(client, account.customer_id, plan, created_sets,
                                                     created.get("LabelService", {})), validate_only)
        results = []
        for index, mutation in enumerate(mutations):
            if index in plan.unknown or index in plan.not_sent:
                results.append(MutationResult(mutation.idempotency_key, ok=False,
                                              error=plan.unknown.get(index) or plan.not_sent.get(index),
                                              outcome_unknown=index in plan.unknown, not_sent=index in plan.not_sent))
                continue
            errors = plan.errors.get(index)
            reference = new_ads.get(index) if mutation.kind == "new_ad" else plan.refs.get(index)
            results.append(MutationResult(
                idempotency_key=mutation.idempotency_key, ok=not errors, platform_ref=reference if not errors else None,
                error="; ".join(errors) if errors else None))
        if not validate_only:
            with self._lock:
                self._state.pop(account_id, None)  # resource names may have changed: re-read next time
        return results

    def applied_keys(self, account_id: str, idempotency_keys: Sequence[str]) -> set[str]:
        """The keys whose `new_ad` exists in the account (its tag is in the ad's URL custom
        parameters): how a write whose answer was lost is settled."""
        account = self._account(account_id)
        tags = {param.value for row in self._search(account, reports.AD_TAGS, "ad_group_ad tags")
                for param in row.ad_group_ad.ad.url_custom_parameters if param.key == writes.TAG_PARAMETER}
        return {key for key in idempotency_keys if tag_id(key) in tags}

    def _send(self, account: GoogleAccount, plan: writes.Plan, requests: Mapping[str, list[writes.Operation]],
              validate_only: bool) -> dict[str, dict[int, str]]:
        """One mutate request per service; errors land in `plan.errors` by mutation index.
        Returns, per service, mutation index -> resource name of what succeeded."""
        transport = self._transport(account)
        succeeded: dict[str, dict[int, str]] = {}
        for service_name, operations in requests.items():
            operations = [op for op in operations if plan.open(op.mutation_index)]
            if not operations:
                continue
            method_name, _ = writes.SERVICES[service_name]
            method = getattr(transport.service(service_name), method_name)
            request = {"customer_id": account.customer_id, "operations": [op.operation for op in operations],
                       "partial_failure": True, "validate_only": validate_only}
            timeout = {"timeout": self._write_timeout} if self._write_timeout else {}
            try:
                response = self._call(account, f"{service_name} mutate",
                                      functools.partial(method, request=request, **timeout), write=not validate_only)
            except WriteOutcomeUnknown as error:  # never re-sent: the agent reads Google to settle it
                plan.unknown.update({op.mutation_index: str(error) for op in operations})
                continue
            except WritesStopped as error:
                plan.not_sent.update({op.mutation_index: str(error) for ops in requests.values() for op in ops
                                      if plan.open(op.mutation_index)})
                break
            failures = writes.partial_failures(response)
            names: dict[int, str] = {}
            for position, op in enumerate(operations):
                if position in failures:
                    plan.errors[op.mutation_index].append(f"{service_name}: {failures[position]}")
                elif position < len(response.results) and response.results[position].resource_name:
                    names.setdefault(op.mutation_index, response.results[position].resource_name)
            succeeded[service_name] = names
        return succeeded


def _segment_attributes(attributes: Mapping[str, Any], modifiers: Mapping[str, float],
                        excluded: Mapping[str, list[str]], regions: list[str]) -> dict[str, Any]:
    """An ad group's attributes with its device modifiers, its excluded age ranges and genders, and
    the regions its campaign excludes (a campaign's location criteria hold for all its ad groups)."""
    shown = bid_modifiers.attributes(modifiers)
    segments = {**shown["excluded_segments"], "age": excluded.get("age", []), "gender": excluded.get("gender", []),
                "region": list(regions)}
    return {**attributes, **shown, "excluded_segments": segments}
