"""LinkedIn Marketing API (versioned REST, Rest.li 2.0) over httpx.

LinkedIn names things one level up from everyone else: its "campaign group" is our `campaign`,
its "campaign" our `ad_set` (it holds the daily budget and the targeting) and its "creative" our
`ad`. Money comes as decimal strings in the account currency (`costInLocalCurrency`,
`dailyBudget.amount`). LinkedIn reports days in UTC; set the account's `timezone: UTC` for exact
day boundaries (the configured zone is reported as the account's time zone).

A new ad is a creative made with `creatives?action=createInline`: a dark post (Direct Sponsored
Content) of the account's company page with the copy and an article link, `intendedStatus` PAUSED.
LinkedIn has no idempotency key, so the mutation's key goes into the creative's name as a tag
(`[pma:<16 hex>]`) and a create about to be repeated looks for it first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from connectors.errors import (
    PlatformAuthError,
    PlatformError,
    PlatformRequestError,
    WriteOutcomeUnknown,
    WritesStopped,
)
from connectors.linkedin import breakdowns, reports, writes
from connectors.linkedin.dmp_segment_users import LinkedInAudienceSyncer
from connectors.linkedin.leads import LeadCampaigns
from connectors.linkedin.offline_conversions import LinkedInConversionUploader
from connectors.linkedin.reports import (
    ANALYTICS_FIELDS,
    PLATFORM,
    SEGMENT_FACET,
    LinkedInAccount,
    last_id,
    parse_each,
)
from connectors.linkedin.spec import ad_account_of
from connectors.linkedin.transport import DEFAULT_BASE_URL, DEFAULT_VERSION, HttpFailure, RestClient, classify
from connectors.new_ad_copy import ad_tag, find_tags, tagged_keys
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
R = TypeVar("R")


@dataclass(frozen=True)
class LinkedInOptions:
    """Tuning knobs (production defaults; tests point `base_url` or `transport` at a fake server)."""

    base_url: str = DEFAULT_BASE_URL
    version: str = DEFAULT_VERSION
    timeout: float = 60.0
    page_size: int = 100
    transport: httpx.BaseTransport | None = None


class OptionalReadUnavailable(PlatformError):
    """An enrichment (audiences, reach) the token may not read (HTTP 403): the account's pull goes
    on without it. Not an auth failure of the account: its reports and writes are unaffected."""



class LinkedInConnector(PlatformConnector[LinkedInAccount]):
    """The `Connector` for LinkedIn. One httpx client (thread-safe) shared by all accounts."""

    platform = PLATFORM

    def __init__(self, accounts: Sequence[LinkedInAccount], *, now: Callable[[], datetime],
                 retry: RetryPolicy | None = None, options: LinkedInOptions | None = None) -> None:
        super().__init__(accounts, retry=retry, classify=classify)
        options = options or LinkedInOptions()
        self._page_size = options.page_size
        self._http = RestClient(base_url=options.base_url, version=options.version, transport=options.transport,
                                timeout=options.timeout, now=now)
        self._levels: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
        self._creative_names: dict[str, dict[str, str]] = {}
        self._formats: dict[str, dict[str, str]] = {}  # account -> campaign (our ad set) -> its ad `format`
        self._lead_campaigns: dict[str, LeadCampaigns] = {}  # account -> campaigns by objective (leads.py)

    @classmethod
    def from_context(cls, context: ConnectorContext) -> LinkedInConnector:
        accounts = []
        for account in context.accounts:
            new_ads = account.get("new_ads") or {}
            organization = new_ads.get("linkedin_organization")
            accounts.append(LinkedInAccount(str(account["id"]), ad_account_of(account),
                                            str(account.get("name") or account["id"]),
                                            str(account.get("timezone") or "UTC"), dict(account.get("credentials") or {}),
                                            f"urn:li:organization:{last_id(organization)}" if organization else None,
                                            new_ads.get("landing_url") or None,
                                            account.get("conversion_event") or None))
        options = context.options
        return cls(accounts, now=context.now, retry=options.retry(), options=options.tuning_for(LinkedInOptions))

    def close(self) -> None:
        self._http.close()

    def conversion_uploader(self) -> LinkedInConversionUploader:
        """The Conversions API (connectors/linkedin/offline_conversions.py) on the same client."""
        return LinkedInConversionUploader(self._http)

    def audience_syncer(self) -> LinkedInAudienceSyncer:
        """DMP segment users (connectors/linkedin/dmp_segment_users.py) on the same client."""
        return LinkedInAudienceSyncer(self._http)

    # -- HTTP -------------------------------------------------------------------------------

    def _request(self, account: LinkedInAccount, operation: str, method: str, path: str,
                 query: str = "", json_body: Any = None, headers: Mapping[str, str] | None = None,
                 write: bool = False) -> Any:
        """One REST call, retried per policy (a `write` only when it surely was not applied); the JSON
        body (None when there is none)."""
        return self._call(account, operation, lambda: self._http.send(account, method, path, query, json_body,
                                                                    headers)[0], write=write)

    def _search(self, account: LinkedInAccount, operation: str, path: str, query: str,
                retried: bool = True) -> list[dict[str, Any]]:
        """Every element of a paged finder (`pageToken` / `metadata.nextPageToken`), page by page
        (each page retried on its own unless `retried` is False: the caller retries the whole)."""
        elements: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page_query = f"{query}&pageSize={self._page_size}" + (f"&pageToken={quote(token, safe='')}" if token else "")
            body = (self._request(account, operation, "GET", path, page_query) if retried
                    else self._http.send(account, "GET", path, page_query)[0]) or {}
            elements += body.get("elements", [])
            token = (body.get("metadata") or {}).get("nextPageToken")
            if not token:
                return elements

    # -- reads ------------------------------------------------------------------------------

    def _read_account_info(self, account: LinkedInAccount) -> AccountInfo:
        body = self._request(account, "ad account", "GET", f"/rest/adAccounts/{account.ad_account}")
        return AccountInfo(PLATFORM, account.account_id, body.get("name") or account.name, body["currency"],
                           account.timezone)

    def entities(self, account_id: str, entity_ids: Sequence[str] | None = None) -> Sequence[Entity]:
        account = self._account(account_id)
        currency = self._account_info(account).currency
        base = f"/rest/adAccounts/{account.ad_account}"
        groups = self._search(account, "campaign groups", f"{base}/adCampaignGroups", "q=search")
        campaigns = self._search(account, "campaigns", f"{base}/adCampaigns", "q=search")
        creatives = self._search(account, "creatives", f"{base}/creatives", "q=criteria")
        found: list[Entity] = []
        found += parse_each(groups, lambda r: Entity(
            PLATFORM, account_id, "campaign", last_id(r["id"]), None, str(r.get("name", "")), reports.status_of(r["status"]),
            currency, attributes={"platform_level": "campaign_group"}), account_id, "campaign group")
        found += parse_each(campaigns, lambda r: reports.campaign_entity(r, account_id, currency), account_id, "campaign")
        found += parse_each(creatives, lambda r: Entity(
            PLATFORM, account_id, "ad", last_id(r["id"]), last_id(r["campaign"]), str(r.get("name") or r["id"]),
            reports.status_of(r.get("intendedStatus")), currency,
            attributes={"platform_level": "creative", "headline": r.get("name", "")}), account_id, "creative")
        criteria = {last_id(r.get("id")): dict(r.get("targetingCriteria") or {}) for r in campaigns}
        formats = {last_id(r.get("id")): str(r.get("format") or "") for r in campaigns}
        with self._lock:
            self._levels[account_id] = {e.entity_id: (e.level, criteria.get(e.entity_id, {})) for e in found}
            self._formats[account_id] = formats
            self._creative_names[account_id] = {e.entity_id: e.name for e in found if e.level == "ad"}
            self._lead_campaigns[account_id] = LeadCampaigns.of(campaigns, creatives)
        wanted = set(entity_ids) if entity_ids is not None else None
        return [e for e in found if wanted is None or e.entity_id in wanted]

    def daily_metrics(self, account_id: str, start: date, end: date) -> Iterable[MetricRow]:
        account = self._account(account_id)
        currency = self._account_info(account).currency
        elements: dict[str, list[dict[str, Any]]] = {}
        for pivot, level in (("CAMPAIGN", "ad_set"), ("CREATIVE", "ad")):
            query = (f"q=analytics&pivot={pivot}&timeGranularity=DAILY"
                     f"&dateRange=(start:{reports.date_param(start)},end:{reports.date_param(end)})"
                     f"&accounts=List({quote(account.urn, safe='')})&fields={','.join(ANALYTICS_FIELDS)}")
            body = self._request(account, f"{pivot.lower()} analytics", "GET", "/rest/adAnalytics", query) or {}
            elements[level] = list(body.get("elements", []))
        structure = self._lead_structure(account, elements) if account.conversion_event is None else LeadCampaigns()
        rows: list[MetricRow] = []
        for level, raw in elements.items():
            rows += parse_each(raw, lambda r, lv=level: reports.metric_row(  # type: ignore[misc]
                r, account_id, currency, lv, structure.counts_leads(
                    account.conversion_event, lv, last_id(r["pivotValues"][0]))),
                account_id, f"{'campaign' if level == 'ad_set' else 'creative'} analytics")
        return rows

    def _lead_structure(self, account: LinkedInAccount, elements: Mapping[str, list[dict[str, Any]]]) -> LeadCampaigns:
        """Which campaigns are lead gen and each creative's campaign: from the last entity read when it
        knows every reported id (objectives never change), else read now (two paged finders)."""
        ids = {level: {last_id((e.get("pivotValues") or [""])[0]) for e in raw} for level, raw in elements.items()}
        with self._lock:
            known = self._lead_campaigns.get(account.account_id)
        if known is not None and known.covers(ids.get("ad_set", ()), ids.get("ad", ())):
            return known
        base = f"/rest/adAccounts/{account.ad_account}"
        found = LeadCampaigns.of(self._search(account, "campaigns", f"{base}/adCampaigns", "q=search"),
                                 self._search(account, "creatives", f"{base}/creatives", "q=criteria"),
                                 ).settled(ids.get("ad_set", ()), ids.get("ad", ()))
        with self._lock:
            self._lead_campaigns[account.account_id] = found
        return found

    def breakdown_reports(self, account_id: str) -> Sequence[str]:
        self._account(account_id)
        return tuple(breakdowns.PIVOTS)

    def segment_metrics(self, account_id: str, report: str, start: date, end: date) -> Iterable[SegmentRow]:
        """One professional-demographic report (connectors/linkedin/breakdowns.py), in our segment names."""
        account = self._account(account_id)
        currency = self._account_info(account).currency
        query = breakdowns.statistics_query(report, account.urn, start, end)
        body = self._request(account, f"{report} analytics", "GET", "/rest/adAnalytics", query) or {}
        return merged(parse_each(body.get("elements", []), lambda r: breakdowns.segment_row(
            report, r, account_id, currency), account_id, f"{report} analytics"))

    def search_terms(self, account_id: str, start: date, end: date) -> Iterable[SearchTermRow]:
        """LinkedIn has no search terms."""
        self._account(account_id)
        return []

    def audiences(self, account_id: str) -> Sequence[Audience]:
        """The account's ad segments (`adSegments?q=accounts`, readable with `r_ads`): their ids are
        the `urn:li:adSegment:N` numbers campaigns target, their sizes `approximateMemberCount`.
        (`dmpSegments` needs the restricted Audiences program permission, and its own ids are not
        the targetable ones.) Archived and expired segments cannot be targeted and are left out."""
        account = self._account(account_id)
        raw = self._optional(account, "ad segments", lambda: self._search(
            account, "ad segments", "/rest/adSegments", f"q=accounts&accounts=List({quote(account.urn, safe='')})"))
        live = [r for r in raw if str(r.get("status") or "READY") not in ("ARCHIVED", "EXPIRED")]
        return list(parse_each(live, lambda r: Audience(account_id, last_id(r["id"]), str(r.get("name", "")),
                                                    int(r.get("approximateMemberCount") or 0)),
                           account_id, "ad segment"))

    def audience_size_is_reach(self) -> bool:
        """`estimate_reach` asks `audienceCounts` for the segments alone (no location facet), and a
        segment's `approximateMemberCount` counts the same members, so one segment's reach is its size.
        (Locations are not compared: the Geo API gives a geo URN's name only, not the country it lies
        in, https://learn.microsoft.com/en-us/linkedin/shared/references/v2/standardized-data/locations/geo)"""
        return True

    def estimate_reach(self, account_id: str, audience_ids: Sequence[str]) -> int:
        """`audienceCounts` for targeting any of the segments: the union's size."""
        account = self._account(account_id)
        urns = ",".join(quote(f"urn:li:adSegment:{a}", safe="") for a in audience_ids)
        criteria = f"(include:(and:List((or:({quote(SEGMENT_FACET, safe='')}:List({urns}))))))"
        body = self._optional(account, "audience count", lambda: self._request(
            account, "audience count", "GET", "/rest/audienceCounts",
            f"q=targetingCriteriaV2&targetingCriteria={criteria}")) or {}
        elements = body.get("elements") or [{}]
        return int(elements[0].get("total") or 0)

    @staticmethod
    def _optional(account: LinkedInAccount, what: str, read: Callable[[], R]) -> R:
        """`read()`, with a 403 (the token may not read this) turned into `OptionalReadUnavailable`:
        a missing permission for an enrichment, not a refused token (a 401 still is one)."""
        try:
            return read()
        except PlatformAuthError as error:
            original = getattr(error, "original", None)
            if not (isinstance(original, HttpFailure) and original.status == 403):
                raise
            log.warning("linkedin account %s: %s unavailable (HTTP 403): audience overlap is skipped",
                        account.account_id, what)
            unavailable = OptionalReadUnavailable(
                f"{PLATFORM} account {account.account_id}: {what} unavailable, audience overlap skipped "
                f"({original}); the token needs r_ads or rw_ads and a role on the ad account",
                platform=PLATFORM, account_id=account.account_id)
            unavailable.original = original
            raise unavailable from None

    # -- writes -----------------------------------------------------------------------------

    def apply(self, account_id: str, mutations: Sequence[Mutation]) -> Sequence[MutationResult]:
        """One PARTIAL_UPDATE per mutation (LinkedIn has no partial-failure batch for these)."""
        account = self._account(account_id)
        currency = self._account_info(account).currency
        levels = self._entity_map(account_id, self._levels, [m.entity_id for m in mutations])
        with self._lock:
            known = dict(self._creative_names.get(account_id, {}))
            formats = dict(self._formats.get(account_id, {}))
        results: list[MutationResult] = []
        for mutation in mutations:
            if results and results[-1].not_sent:  # the write guard stopped the batch: send nothing more
                results.append(MutationResult(mutation.idempotency_key, ok=False, not_sent=True,
                                              error=results[-1].error))
                continue
            try:
                if mutation.kind == "new_ad":
                    results.append(self._new_ad(account, mutation, levels, known, formats))
                    continue
                path, patch = writes.patch(account, mutation, levels, currency)
                self._request(account, f"{mutation.kind} {mutation.entity_id}", "POST", path,
                              json_body={"patch": {"$set": patch}}, headers={"X-RestLi-Method": "PARTIAL_UPDATE"},
                              write=True)
            except (ValueError, PlatformRequestError) as error:  # auth stops the batch
                results.append(MutationResult(mutation.idempotency_key, ok=False, error=str(error)))
                continue
            except (WriteOutcomeUnknown, WritesStopped) as error:
                results.append(MutationResult(mutation.idempotency_key, ok=False, error=str(error),
                                              outcome_unknown=isinstance(error, WriteOutcomeUnknown),
                                              not_sent=isinstance(error, WritesStopped)))
                continue
            results.append(MutationResult(mutation.idempotency_key, ok=True, platform_ref=mutation.entity_id))
        with self._lock:
            self._levels.pop(account_id, None)  # targeting may have changed: re-read next time
        return results

    def _new_ad(self, account: LinkedInAccount, mutation: Mutation, levels: Mapping[str, tuple[str, dict[str, Any]]],
                known: Mapping[str, str], formats: Mapping[str, str]) -> MutationResult:
        """`creatives?action=createInline`, unless a creative with this mutation's tag already exists."""
        key, tag = mutation.idempotency_key, ad_tag(mutation.idempotency_key)
        try:
            body = writes.inline_creative(account, mutation, levels, formats.get(mutation.entity_id, ""))
        except ValueError as error:
            return MutationResult(key, ok=False, error=f"new_ad on {mutation.entity_id}: {error}")
        found = find_tags(known, [tag])
        if found:  # created by an earlier attempt whose answer was lost
            return MutationResult(key, ok=True, platform_ref=found[tag], already_applied=True)
        attempts = 0

        def create() -> tuple[str, bool]:
            nonlocal attempts
            attempts += 1
            if attempts > 1:  # the last try may have created it before its answer was lost
                again = find_tags(self._read_creative_names(account, retried=False), [tag])
                if again:
                    return again[tag], True
            answer, headers = self._http.send(account, "POST", f"/rest/adAccounts/{account.ad_account}/creatives",
                                         "action=createInline", json_body=body)
            answer = answer if isinstance(answer, dict) else {}
            urn = (headers.get("x-restli-id") or (answer.get("value") or {}).get("creative") or answer.get("id"))
            if not urn:
                raise HttpFailure(502, "createInline answered without the new creative's id")
            return last_id(urn), False

        try:
            creative_id, already = self._call(account, f"new_ad in {mutation.entity_id}", create, write=True)
        except PlatformRequestError as error:
            return MutationResult(key, ok=False, error=str(error))
        except PlatformAuthError as error:
            original = getattr(error, "original", None)
            if not (isinstance(original, HttpFailure) and original.status == 403):
                raise  # the token itself is refused: stop the batch
            # Refused to post as that page: this ad's problem, not the account's.
            return MutationResult(key, ok=False, error=f"{error}; check accounts[].new_ads.linkedin_organization "
                                                        "and that the token may post as that page")
        return MutationResult(key, ok=True, platform_ref=creative_id, already_applied=already)

    def applied_keys(self, account_id: str, idempotency_keys: Sequence[str]) -> set[str]:
        """The keys whose `new_ad` is on the platform (its tag is in a creative's name): for reconciliation."""
        names = self._read_creative_names(self._account(account_id))
        return tagged_keys(names, idempotency_keys)

    def _read_creative_names(self, account: LinkedInAccount, retried: bool = True) -> dict[str, str]:
        creatives = self._search(account, "creatives", f"/rest/adAccounts/{account.ad_account}/creatives",
                                 "q=criteria", retried=retried)
        return {last_id(c.get("id")): str(c.get("name") or "") for c in creatives}
