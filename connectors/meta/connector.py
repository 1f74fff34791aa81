"""Meta (Facebook/Instagram) ads through the official `facebook-business` SDK, Graph API v26.0.

Our `campaign`, `ad_set` and `ad` are Meta's own. Reads page through Graph cursors (each page
retried on its own); insights for big accounts, or when Meta answers "too much data"
(100/1504018), run as an async report (`AdReportRun`) that is polled; a report run that ends
"Job Failed" or "Job Skipped" is started again, a bounded number of times. Writes go out in Graph
batches of at most 50 calls, and no ad set gets more than 4 budget changes per hour.

What counts as a conversion is the account's `conversion_event` and `platform_attribution`
(`connectors/meta/conversions.py`). Reach estimates are enrichments: a location is always sent
(Meta requires one), and Meta's -1 ("not available for this business") is "unknown" (None).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from facebook_business.adobjects.ad import Ad
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.adset import AdSet
from facebook_business.adobjects.campaign import Campaign

from connectors.errors import ConnectorError, PlatformUnavailable
from connectors.meta import breakdowns, records, regions
from connectors.meta.api import PacedApi, build_api, classify, is_too_much_data
from connectors.meta.conversions import Conversions
from connectors.meta.custom_audience_users import MetaAudienceSyncer
from connectors.meta.labels import labels_of
from connectors.meta.lookalikes import MetaLookalikeCreator
from connectors.meta.new_ads import NewAdSettings
from connectors.meta.offline_conversions import MetaConversionUploader
from connectors.meta.raw_rows import raw_edge, raw_insights
from connectors.meta.spec import ad_account_of
from connectors.meta.usage import UsageThrottle
from connectors.meta.writes import BudgetChangeLimiter, apply_batches
from connectors.new_ad_copy import tagged_keys
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
from connectors.segments import merged

log = logging.getLogger(__name__)
PLATFORM = "meta"
# async_status of an AdReportRun (https://developers.facebook.com/docs/marketing-api/insights/best-practices)
DONE, FAILED = "Job Completed", ("Job Failed", "Job Skipped")
RUNNING = ("Job Not Started", "Job Started", "Job Running")


@dataclass(frozen=True)
class MetaAccount:
    """A configured account: our id, Meta's ad account id (`act_<digits>`) and its credentials."""

    account_id: str
    ad_account: str
    name: str
    credentials: Mapping[str, str] = field(repr=False)
    new_ads: NewAdSettings = NewAdSettings()
    conversions: Conversions = Conversions()


@dataclass(frozen=True)
class MetaOptions:
    """Tuning knobs (all have production defaults; tests shrink the waits)."""

    graph_url: str | None = None
    timeout: float = 120.0
    page_size: int = 500
    async_rows: int = 20_000  # expected insight rows above which the async report is used
    poll_interval: float = 5.0
    max_poll_wait: float = 1800.0
    report_restarts: int = 2  # report runs started again after "Job Failed" / "Job Skipped"
    slow_down_at: float = 75.0
    budget_changes_per_hour: int = 4


class MetaConnector(PlatformConnector[MetaAccount]):
    """The `Connector` for Meta. One SDK API object per account, so accounts run in parallel safely."""

    platform = PLATFORM

    def __init__(self, accounts: Sequence[MetaAccount], *, now: Callable[[], datetime],
                 retry: RetryPolicy | None = None, options: MetaOptions | None = None) -> None:
        super().__init__(accounts, retry=retry, classify=classify)
        self._options = options or MetaOptions()
        self._now = now
        self._throttle = UsageThrottle(self._retry.sleep, slow_down_at=self._options.slow_down_at)
        self._apis: dict[str, PacedApi] = {}
        self._targets: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
        self._ad_names: dict[str, dict[str, str]] = {}
        self._campaign_budgets: dict[str, dict[str, str]] = {}  # account -> ad set -> campaign holding its budget
        self._label_ids: dict[str, dict[str, dict[str, str]]] = {}  # account -> entity -> label name -> id
        self._countries: dict[str, str] = {}  # account -> the ad account's business country
        self.budget_limiter = BudgetChangeLimiter(self._options.budget_changes_per_hour, timedelta(hours=1))

    @classmethod
    def from_context(cls, context: ConnectorContext) -> MetaConnector:
        accounts = [MetaAccount(str(a["id"]), ad_account_of(a), str(a.get("name") or a["id"]),
                                dict(a.get("credentials") or {}), NewAdSettings.of(a), Conversions.of(a))
                    for a in context.accounts]
        return cls(accounts, now=context.now, retry=context.options.retry(),
                   options=context.options.tuning_for(MetaOptions))

    def conversion_uploader(self) -> MetaConversionUploader:
        """The Conversions API (connectors/meta/offline_conversions.py), paced with the other calls."""
        return MetaConversionUploader(self._throttle, self._options.graph_url, self._options.timeout)

    def audience_syncer(self) -> MetaAudienceSyncer:
        """Custom Audience users (connectors/meta/custom_audience_users.py), paced with the other calls."""
        return MetaAudienceSyncer(self._throttle, self._options.graph_url, self._options.timeout)

    def lookalike_creator(self) -> MetaLookalikeCreator:
        """Lookalike audiences seeded by synced ones (connectors/meta/lookalikes.py)."""
        return MetaLookalikeCreator(self._throttle, self._options.graph_url, self._options.timeout)

    # -- plumbing ---------------------------------------------------------------------------

    def api(self, account: MetaAccount) -> PacedApi:
        with self._lock:
            if account.account_id not in self._apis:
                self._apis[account.account_id] = build_api(account.credentials, self._throttle, account.ad_account,
                                                           self._options.graph_url, self._options.timeout)
            return self._apis[account.account_id]

    def _ad_account(self, account: MetaAccount) -> AdAccount:
        return AdAccount(account.ad_account, api=self.api(account))

    def _read_all(self, account: MetaAccount, operation: str, first: Callable[[], Any]) -> list[dict[str, Any]]:
        """Every object of a paged edge: the first page, then each next page, each retried alone.

        Only a page Graph said is there is asked for: the SDK's `load_next_page` on the last page
        returns False without a request, but through `_call` it would still take a request slot and
        one of the second's starts (a tenth of a Meta account's hourly requests were such
        non-requests, each holding back a real one)."""
        cursor = self._call(account, operation, first)
        rows = [_exported(cursor[i]) for i in range(len(cursor))]
        while _more_pages(cursor) and self._call(account, f"{operation} (next page)", cursor.load_next_page):
            rows += [_exported(cursor[i]) for i in range(len(cursor))]
        return rows

    # -- reads ------------------------------------------------------------------------------

    def _read_account_info(self, account: MetaAccount) -> AccountInfo:
        node = self._call(account, "account", lambda: self._ad_account(account).api_get(
            fields=["name", "currency", "timezone_name", "business_country_code"]))
        info = AccountInfo(PLATFORM, account.account_id, node.get("name") or account.name, node["currency"],
                           node["timezone_name"])
        if node.get("business_country_code"):
            with self._lock:
                self._countries[account.account_id] = str(node["business_country_code"])
        return info

    def entities(self, account_id: str, entity_ids: Sequence[str] | None = None) -> Sequence[Entity]:
        account = self._account(account_id)
        currency = self._account_info(account).currency
        ad_account = self._ad_account(account)
        limit = {"limit": self._options.page_size}
        # as Graph's JSON, not the SDK's objects (connectors/meta/raw_rows.py): read on every cycle
        campaigns = self._read_all(account, "campaigns", lambda: raw_edge(ad_account, ad_account.get_campaigns(
            fields=records.CAMPAIGN_FIELDS, params=limit, pending=True), "/campaigns", Campaign))
        ad_sets = self._read_all(account, "ad sets", lambda: raw_edge(ad_account, ad_account.get_ad_sets(
            fields=records.AD_SET_FIELDS, params=limit, pending=True), "/adsets", AdSet))
        # Nested field syntax (`creative{...}`) is valid Graph but not in the SDK's field list: pass it raw.
        ads = self._read_all(account, "ads", lambda: raw_edge(ad_account, ad_account.get_ads(
            params={**limit, "fields": ",".join(records.AD_FIELDS)}, pending=True), "/ads", Ad))
        found: list[Entity] = []
        found += records.parse_each(campaigns, lambda r: records.campaign_entity(r, account_id, currency),
                                    account_id, "campaign")
        budget_campaigns = {str(c.get("id")) for c in campaigns if records.has_campaign_budget(c)}
        special = {str(c.get("id")): records.special_categories(c) for c in campaigns}
        found += records.parse_each(ad_sets, lambda r: records.ad_set_entity(r, account_id, currency,
                                                                             budget_campaigns, special),
                                    account_id, "ad set")
        found += records.parse_each(ads, lambda r: records.ad_entity(r, account_id, currency), account_id, "ad")
        targeting = {str(r.get("id")): dict(r.get("targeting") or {}) for r in ad_sets}
        with self._lock:
            self._targets[account_id] = {e.entity_id: (e.level, targeting.get(e.entity_id, {})) for e in found}
            self._ad_names[account_id] = {e.entity_id: e.name for e in found if e.level == "ad"}
            self._campaign_budgets[account_id] = {str(e.entity_id): str(e.parent_id) for e in found
                                                  if e.level == "ad_set" and e.attributes.get("campaign_budget")}
            self._label_ids[account_id] = {str(r.get("id")): labels_of(r) for r in [*campaigns, *ad_sets]}
        wanted = set(entity_ids) if entity_ids is not None else None
        return [e for e in found if wanted is None or e.entity_id in wanted]

    def daily_metrics(self, account_id: str, start: date, end: date) -> Iterable[MetricRow]:
        account = self._account(account_id)
        currency = self._account_info(account).currency
        rows: list[MetricRow] = []
        for level, meta_level in (("ad_set", "adset"), ("ad", "ad")):
            raw = self._insights(account, meta_level, start, end)
            rows += records.parse_each(raw, lambda r, lv=level: records.metric_row(  # type: ignore[misc]
                r, account_id, currency, lv, account.conversions), account_id, f"{meta_level} insights")
        return rows

    def _expected_rows(self, account_id: str, level: str, days: int) -> int:
        with self._lock:
            known = self._targets.get(account_id)
        wanted = "ad_set" if level == "adset" else "ad"
        return days * sum(1 for lv, _ in known.values() if lv == wanted) if known else 0

    def breakdown_reports(self, account_id: str) -> Sequence[str]:
        self._account(account_id)
        return tuple(breakdowns.BREAKDOWNS)

    def segment_metrics(self, account_id: str, report: str, start: date, end: date) -> Iterable[SegmentRow]:
        """One breakdown report (connectors/meta/breakdowns.py), in our segment names."""
        account = self._account(account_id)
        currency = self._account_info(account).currency
        raw = self._insights(account, "adset", start, end, breakdowns=breakdowns.BREAKDOWNS[report])
        parsed = records.parse_each(raw, lambda r: breakdowns.segment_rows(report, r, account_id, currency,
                                                                          account.conversions),
                                    account_id, f"{report} breakdown")
        return merged(row for rows in parsed for row in rows)

    def _insights(self, account: MetaAccount, level: str, start: date, end: date,
                  breakdowns: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Daily insights at `level` (by `breakdowns`); async when big (or when Meta says the sync
        request is too big)."""
        params: dict[str, Any] = {"level": level, "time_increment": 1, "limit": self._options.page_size,
                                  "time_range": {"since": start.isoformat(), "until": end.isoformat()}}
        if breakdowns:
            params["breakdowns"] = list(breakdowns)
        if account.conversions.windows:
            params["action_attribution_windows"] = list(account.conversions.windows)
        ad_account = self._ad_account(account)
        days = (end - start).days + 1
        rows_per_day = 12 if breakdowns else 1  # a breakdown multiplies the rows by its segments
        if self._expected_rows(account.account_id, level, days) * rows_per_day <= self._options.async_rows:
            try:
                return self._read_all(account, f"{level} insights", lambda: raw_insights(
                    ad_account, records.INSIGHT_FIELDS, params))
            except ConnectorError as error:
                if not is_too_much_data(getattr(error, "original", None) or error):
                    raise
                log.info("meta account %s: %s insights too big for a sync request; using a report run",
                         account.account_id, level)
        return self._async_insights(account, ad_account, params)

    def _async_insights(self, account: MetaAccount, ad_account: AdAccount, params: dict[str, Any]
                        ) -> list[dict[str, Any]]:
        """A report run, polled until "Job Completed"; one that ends "Job Failed" or "Job Skipped" is
        started again up to `report_restarts` times, then the pull fails naming the report's state."""
        for attempt in range(self._options.report_restarts + 1):
            job = self._call(account, "insights report run", lambda: ad_account.get_insights(
                fields=records.INSIGHT_FIELDS, params=dict(params), is_async=True))
            status = self._poll_report(account, job)
            if status == DONE:
                return self._read_all(account, "insights report result", functools.partial(
                    job.get_result, params={"limit": self._options.page_size}))
            log.warning("meta account %s: insights report %s ended with %r (run %d of %d)", account.account_id,
                        job.get_id(), status, attempt + 1, self._options.report_restarts + 1)
        raise PlatformUnavailable(f"meta account {account.account_id}: the {params['level']} insights report ended "
                                  f"with {status!r} {self._options.report_restarts + 1} times; Meta could not run it, "
                                  "try again later", platform=PLATFORM, account_id=account.account_id)

    def _poll_report(self, account: MetaAccount, job: Any) -> str:
        """The report run's final state: "Job Completed", "Job Failed" or "Job Skipped"."""
        waited = 0.0
        while True:
            job = self._call(account, "insights report poll", job.api_get)
            status = str(job.get("async_status"))
            if status == DONE or status in FAILED:
                return status
            if waited >= self._options.max_poll_wait:
                raise PlatformUnavailable(f"meta account {account.account_id}: insights report {job.get_id()} "
                                          f"still {status!r} after {waited:.0f} s", platform=PLATFORM,
                                          account_id=account.account_id)
            if status not in RUNNING:
                log.warning("meta account %s: insights report %s in unknown state %r; still waiting",
                            account.account_id, job.get_id(), status)
            self._retry.sleep(self._options.poll_interval)
            waited += self._options.poll_interval

    def intraday_metrics(self, account_id: str, day: date) -> Iterable[MetricRow]:
        """The account's current day so far: insights with `time_range` on today (Meta reports the day
        as it goes, in the ad account's time zone, and restates it later)."""
        return self.daily_metrics(account_id, day, day)

    def search_terms(self, account_id: str, start: date, end: date) -> Iterable[SearchTermRow]:
        """Meta has no search terms."""
        self._account(account_id)
        return []

    def audiences(self, account_id: str) -> Sequence[Audience]:
        account = self._account(account_id)
        ad_account = self._ad_account(account)
        raw = self._read_all(account, "custom audiences", lambda: ad_account.get_custom_audiences(
            fields=records.AUDIENCE_FIELDS, params={"limit": self._options.page_size}))
        return list(records.parse_each(raw, lambda r: records.audience(r, account_id), account_id, "audience"))

    def estimate_reach(self, account_id: str, audience_ids: Sequence[str]) -> int | None:
        """`reachestimate` for the audiences' union (midpoint of Meta's bounds); None when unknown.

        Meta requires a location in the targeting spec: the countries of the ad sets targeting
        these audiences, else of every ad set, else the ad account's business country. For custom
        audiences Meta may answer -1 ("not available for this business"): that is None, never a reach.
        (https://developers.facebook.com/documentation/ads-commerce/marketing-api/reference/ad-account/reachestimate)
        """
        account = self._account(account_id)
        spec = {"geo_locations": {"countries": self._countries_for(account, audience_ids)},
                "custom_audiences": [{"id": audience_id} for audience_id in audience_ids]}
        cursor = self._call(account, "reach estimate", lambda: self._ad_account(account).get_reach_estimate(
            params={"targeting_spec": spec}))
        if not len(cursor):
            raise ConnectorError(f"meta account {account_id}: empty reach estimate")
        estimate = cursor[0]
        low, high = estimate.get("users_lower_bound"), estimate.get("users_upper_bound")
        if low is None or int(low) < 0 or (high is not None and int(high) < 0):
            log.info("meta account %s: reach of audiences %s not available (Meta answered %s)", account_id,
                     ",".join(audience_ids), low)
            return None
        return (int(low) + int(high if high is not None else low)) // 2

    def _countries_for(self, account: MetaAccount, audience_ids: Sequence[str]) -> list[str]:
        with self._lock:
            targets = self._targets.get(account.account_id)
        if targets is None:
            self.entities(account.account_id)
            with self._lock:
                targets = self._targets.get(account.account_id, {})
        wanted = set(audience_ids)
        ad_sets = [t for level, t in targets.values() if level == "ad_set"]

        def countries(targetings: Sequence[Mapping[str, Any]]) -> list[str]:
            return sorted({str(c) for t in targetings for c in (t.get("geo_locations") or {}).get("countries") or ()})

        found = countries([t for t in ad_sets if wanted & {str(a.get("id")) for a in t.get("custom_audiences") or ()
                                                          if isinstance(a, Mapping)}]) or countries(ad_sets)
        if not found:
            self._account_info(account)
            with self._lock:
                country = self._countries.get(account.account_id)
            if country is None:
                raise ConnectorError(f"meta account {account.account_id}: no country to estimate reach in (no ad "
                                     "set targets a country and the ad account has no business country)")
            found = [country]
        return found

    # -- writes -----------------------------------------------------------------------------

    def apply(self, account_id: str, mutations: Sequence[Mutation]) -> Sequence[MutationResult]:
        """Apply in Graph batches of <= 50 calls; one result per mutation, in order."""
        account = self._account(account_id)
        currency = self._account_info(account).currency
        targets = self._entity_map(account_id, self._targets, [m.entity_id for m in mutations])
        with self._lock:
            known_ads = dict(self._ad_names.get(account_id, {}))
            campaign_budgets = dict(self._campaign_budgets.get(account_id, {}))
            label_ids = dict(self._label_ids.get(account_id, {}))

        def write(operation: str, fn: Callable[[], Any]) -> Any:
            return self._call(account, operation, fn, write=True)

        mutations = [self._with_region_key(account, m, targets) if m.kind == "exclude_region" else m
                     for m in mutations]

        results = apply_batches(self.api(account), account.ad_account, mutations, targets, currency,
                                self.budget_limiter, self._now, write, account.new_ads, known_ads, lambda: self._read_ad_names(account),
                                campaign_budgets, label_ids)
        if any(m.kind in ("new_ad", "add_label", "remove_label") for m in mutations):
            with self._lock:
                self._targets.pop(account_id, None)  # new ads or labels exist now: re-read next time
        return results

    def _with_region_key(self, account: MetaAccount, mutation: Mutation,
                         targets: Mapping[str, tuple[str, dict[str, Any]]]) -> Mutation:
        """The mutation with Meta's key of its region: the excluded entry's when it is taken out,
        else the Targeting Search's (a read, in the ad set's country). Not found: no key, and the
        write reports it."""
        targeting = targets.get(mutation.entity_id, ("", {}))[1]
        segment = str(mutation.params.get("segment", ""))
        key = regions.excluded_key(targeting, segment)
        found = (key, segment) if key is not None else None
        if found is None and mutation.params.get("excluded", True):
            countries = (targeting.get("geo_locations") or {}).get("countries") or [None]
            params = regions.search_params(segment, countries[0])
            answer = self._call(account, "region search", lambda: self.api(account).call(
                "GET", ("search",), params=params).json())
            found = regions.pick((answer or {}).get("data") or [], segment)
        if found is None:
            return mutation
        return replace(mutation, params={**mutation.params, "region_key": found[0], "region_name": found[1]})

    def applied_keys(self, account_id: str, idempotency_keys: Sequence[str]) -> set[str]:
        """The keys whose `new_ad` is on the platform (its tag is in an ad's name): for reconciliation."""
        account = self._account(account_id)
        names = self._call(account, "ads (applied keys)", lambda: self._read_ad_names(account))
        return tagged_keys(names, idempotency_keys)

    def _read_ad_names(self, account: MetaAccount) -> dict[str, str]:
        """Every ad of the account, id -> name, read now (one attempt per page: the caller retries)."""
        cursor = self._ad_account(account).get_ads(fields=["id", "name"], params={"limit": self._options.page_size})
        return {str(ad["id"]): str(ad.get("name") or "") for ad in cursor}


def _more_pages(cursor: Any) -> bool:
    """Whether Graph's last answer on `cursor` had a next page (the SDK's `Cursor` notes it in
    `_finished_iteration` and has no public way to ask)."""
    return not getattr(cursor, "_finished_iteration", False)


def _exported(row: Any) -> dict[str, Any]:
    """A row of a page: the SDK object's data, or the JSON dict itself (raw insights)."""
    return row if isinstance(row, dict) else dict(row.export_all_data())
