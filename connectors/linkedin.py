"""LinkedIn Marketing API (versioned REST, Rest.li 2.0) over httpx.

LinkedIn names things one level up from everyone else: its "campaign group" is our `campaign`,
its "campaign" our `ad_set` (it holds the daily budget and the targeting) and its "creative" our
`ad`. Money comes as decimal strings in the account currency (`costInLocalCurrency`,
`dailyBudget.amount`). LinkedIn reports days in UTC; set the account's `timezone: UTC` for exact
day boundaries (the configured zone is reported as the account's time zone).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from connectors.base import (
    AccountInfo,
    Audience,
    ConnectorError,
    Entity,
    MetricRow,
    Mutation,
    MutationResult,
    SearchTermRow,
    Status,
)
from connectors.money import quantize_money
from connectors.registry import ConnectorContext
from connectors.retry import (
    Classified,
    PlatformRequestError,
    RetryPolicy,
    call_with_retry,
    http_status_kind,
    retry_after_seconds,
)

log = logging.getLogger(__name__)
R = TypeVar("R")
PLATFORM = "linkedin"
DEFAULT_BASE_URL = "https://api.linkedin.com"
DEFAULT_VERSION = "202611"
ANALYTICS_FIELDS = ("dateRange", "pivotValues", "impressions", "clicks", "costInLocalCurrency",
                    "externalWebsiteConversions", "conversionValueInLocalCurrency", "approximateMemberReach")
assert len(ANALYTICS_FIELDS) <= 20, "adAnalytics accepts at most 20 fields per request"
SEGMENT_FACET = "urn:li:adTargetingFacet:audienceMatchingSegments"
_STATUS: dict[str, Status] = {"ACTIVE": "ACTIVE", "PAUSED": "PAUSED", "DRAFT": "PAUSED", "ARCHIVED": "REMOVED",
                              "CANCELED": "REMOVED", "REMOVED": "REMOVED", "COMPLETED": "PAUSED"}


class HttpFailure(Exception):
    """A non-2xx answer (or an unreadable 2xx body), with what the retry policy needs."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.retry_after = retry_after


def classify(error: BaseException) -> Classified | None:
    if isinstance(error, HttpFailure):
        kind = http_status_kind(error.status) or "invalid"
        return Classified(kind, str(error), error.retry_after, rate_limited=error.status == 429)
    if isinstance(error, httpx.TimeoutException | httpx.TransportError):
        return Classified("transient", f"{type(error).__name__}: network trouble")
    return None


@dataclass(frozen=True)
class LinkedInAccount:
    """A configured account: our id, LinkedIn's numeric ad account id, token and time zone."""

    account_id: str
    ad_account: str
    name: str
    timezone: str
    credentials: Mapping[str, str] = field(repr=False)

    @property
    def urn(self) -> str:
        return f"urn:li:sponsoredAccount:{self.ad_account}"


def _date(value: date) -> str:
    return f"(year:{value.year},month:{value.month},day:{value.day})"


def _last_id(urn: Any) -> str:
    return str(urn).rsplit(":", 1)[-1]


def _status(raw: Any) -> Status:
    if raw not in _STATUS:
        raise ValueError(f"unexpected status {raw!r}")
    return _STATUS[raw]


def _segments(criteria: Mapping[str, Any] | None, part: str) -> list[str]:
    """Audience segment ids under `include` or `exclude` of a targetingCriteria."""
    node = (criteria or {}).get(part) or {}
    groups = node.get("and", [node]) if part == "include" else [node]
    return [_last_id(urn) for group in groups for urn in (group.get("or") or {}).get(SEGMENT_FACET, [])]


class LinkedInConnector:
    """The `Connector` for LinkedIn. One httpx client (thread-safe) shared by all accounts."""

    platform = PLATFORM

    def __init__(self, accounts: Sequence[LinkedInAccount], *, base_url: str = DEFAULT_BASE_URL,
                 version: str = DEFAULT_VERSION, retry: RetryPolicy | None = None,
                 transport: httpx.BaseTransport | None = None, timeout: float = 60.0, page_size: int = 100) -> None:
        self._accounts = {a.account_id: a for a in accounts}
        self._retry = retry or RetryPolicy()
        self._page_size = page_size
        self._client = httpx.Client(base_url=base_url, transport=transport, timeout=timeout, headers={
            "LinkedIn-Version": version, "X-Restli-Protocol-Version": "2.0.0"})
        self._info: dict[str, AccountInfo] = {}
        self._levels: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_context(cls, context: ConnectorContext) -> LinkedInConnector:
        options = context.options
        accounts = []
        for account in context.accounts:
            credentials = dict(account.get("credentials") or {})
            raw = str(account.get("platform_account_id") or account.get("ad_account_id")
                      or credentials.get("ad_account_id") or account["id"])
            if not _last_id(raw).isdigit():
                raise ConnectorError(f"linkedin account {account['id']}: ad account id {raw!r} must be numeric "
                                     "(set platform_account_id)")
            accounts.append(LinkedInAccount(str(account["id"]), _last_id(raw), str(account.get("name") or account["id"]),
                                            str(account.get("timezone") or "UTC"), credentials))
        retry = options.get("retry_policy") or RetryPolicy(sleep=options.get("sleep") or RetryPolicy().sleep)
        return cls(accounts, base_url=options.get("linkedin_base_url") or DEFAULT_BASE_URL,
                   version=str(options.get("linkedin_version") or DEFAULT_VERSION), retry=retry,
                   transport=options.get("linkedin_transport"), timeout=float(options.get("linkedin_timeout", 60.0)),
                   page_size=int(options.get("linkedin_page_size", 100)))

    def close(self) -> None:
        self._client.close()

    # -- HTTP -------------------------------------------------------------------------------

    def _account(self, account_id: str) -> LinkedInAccount:
        try:
            return self._accounts[account_id]
        except KeyError:
            raise ConnectorError(f"linkedin: account {account_id!r} is not configured") from None

    def _request(self, account: LinkedInAccount, operation: str, method: str, path: str,
                 query: str = "", json_body: Any = None, headers: Mapping[str, str] | None = None) -> Any:
        """One REST call, retried per policy. `query` is pre-encoded Rest.li 2.0 (httpx must not re-encode it)."""
        url = f"{path}?{query}" if query else path
        auth = {"Authorization": f"Bearer {account.credentials.get('access_token', '')}", **(headers or {})}

        def send() -> Any:
            response = self._client.request(method, url, json=json_body, headers=auth)
            if response.status_code >= 400:
                try:
                    message = str(response.json().get("message") or response.text)
                except ValueError:
                    message = response.text[:200]
                raise HttpFailure(response.status_code, message, retry_after_seconds(response.headers.get("Retry-After")))
            if response.status_code == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise HttpFailure(502, f"unreadable {len(response.content)}-byte answer") from None

        return call_with_retry(send, policy=self._retry, classify=classify, platform=PLATFORM,
                               account_id=account.account_id, operation=operation,
                               secrets=account.credentials.values())

    def _search(self, account: LinkedInAccount, operation: str, path: str, query: str) -> list[dict[str, Any]]:
        """Every element of a paged finder (`pageToken` / `metadata.nextPageToken`), page by page."""
        elements: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page_query = f"{query}&pageSize={self._page_size}" + (f"&pageToken={quote(token, safe='')}" if token else "")
            body = self._request(account, operation, "GET", path, page_query) or {}
            elements += body.get("elements", [])
            token = (body.get("metadata") or {}).get("nextPageToken")
            if not token:
                return elements

    # -- reads ------------------------------------------------------------------------------

    def accounts(self) -> Sequence[AccountInfo]:
        return [self._account_info(a) for a in self._accounts.values()]

    def _account_info(self, account: LinkedInAccount) -> AccountInfo:
        with self._lock:
            if account.account_id in self._info:
                return self._info[account.account_id]
        body = self._request(account, "ad account", "GET", f"/rest/adAccounts/{account.ad_account}")
        info = AccountInfo(PLATFORM, account.account_id, body.get("name") or account.name, body["currency"],
                           account.timezone)
        with self._lock:
            self._info[account.account_id] = info
        return info

    def entities(self, account_id: str, entity_ids: Sequence[str] | None = None) -> Sequence[Entity]:
        account = self._account(account_id)
        currency = self._account_info(account).currency
        base = f"/rest/adAccounts/{account.ad_account}"
        groups = self._search(account, "campaign groups", f"{base}/adCampaignGroups", "q=search")
        campaigns = self._search(account, "campaigns", f"{base}/adCampaigns", "q=search")
        creatives = self._search(account, "creatives", f"{base}/creatives", "q=criteria")
        found: list[Entity] = []
        found += _parse(groups, lambda r: Entity(
            PLATFORM, account_id, "campaign", _last_id(r["id"]), None, str(r.get("name", "")), _status(r["status"]),
            currency, attributes={"platform_level": "campaign_group"}), account_id, "campaign group")
        found += _parse(campaigns, lambda r: _campaign(r, account_id, currency), account_id, "campaign")
        found += _parse(creatives, lambda r: Entity(
            PLATFORM, account_id, "ad", _last_id(r["id"]), _last_id(r["campaign"]), str(r.get("name") or r["id"]),
            _status(r.get("intendedStatus")), currency,
            attributes={"platform_level": "creative", "headline": r.get("name", "")}), account_id, "creative")
        criteria = {_last_id(r.get("id")): dict(r.get("targetingCriteria") or {}) for r in campaigns}
        with self._lock:
            self._levels[account_id] = {e.entity_id: (e.level, criteria.get(e.entity_id, {})) for e in found}
        wanted = set(entity_ids) if entity_ids is not None else None
        return [e for e in found if wanted is None or e.entity_id in wanted]

    def daily_metrics(self, account_id: str, start: date, end: date) -> Iterable[MetricRow]:
        account = self._account(account_id)
        currency = self._account_info(account).currency
        rows: list[MetricRow] = []
        for pivot, level in (("CAMPAIGN", "ad_set"), ("CREATIVE", "ad")):
            query = (f"q=analytics&pivot={pivot}&timeGranularity=DAILY"
                     f"&dateRange=(start:{_date(start)},end:{_date(end)})"
                     f"&accounts=List({quote(account.urn, safe='')})&fields={','.join(ANALYTICS_FIELDS)}")
            body = self._request(account, f"{pivot.lower()} analytics", "GET", "/rest/adAnalytics", query) or {}
            rows += _parse(body.get("elements", []), lambda r, lv=level: _metric(  # type: ignore[misc]
                r, account_id, currency, lv), account_id, f"{pivot.lower()} analytics")
        return rows

    def search_terms(self, account_id: str, start: date, end: date) -> Iterable[SearchTermRow]:
        """LinkedIn has no search terms."""
        self._account(account_id)
        return []

    def audiences(self, account_id: str) -> Sequence[Audience]:
        account = self._account(account_id)
        raw = self._search(account, "audience segments", "/rest/dmpSegments",
                           f"q=account&account={quote(account.urn, safe='')}")
        return list(_parse(raw, lambda r: Audience(account_id, _last_id(r["id"]), str(r.get("name", "")),
                                                   int(r.get("audienceSize") or 0)), account_id, "audience segment"))

    def estimate_reach(self, account_id: str, audience_ids: Sequence[str]) -> int:
        """`audienceCounts` for targeting any of the segments: the union's size."""
        account = self._account(account_id)
        urns = ",".join(quote(f"urn:li:adSegment:{a}", safe="") for a in audience_ids)
        criteria = f"(include:(and:List((or:({quote(SEGMENT_FACET, safe='')}:List({urns}))))))"
        body = self._request(account, "audience count", "GET", "/rest/audienceCounts",
                             f"q=targetingCriteriaV2&targetingCriteria={criteria}") or {}
        elements = body.get("elements") or [{}]
        return int(elements[0].get("total") or 0)

    # -- writes -----------------------------------------------------------------------------

    def apply(self, account_id: str, mutations: Sequence[Mutation]) -> Sequence[MutationResult]:
        """One PARTIAL_UPDATE per mutation (LinkedIn has no partial-failure batch for these)."""
        account = self._account(account_id)
        currency = self._account_info(account).currency
        with self._lock:
            levels = self._levels.get(account_id)
        if levels is None or any(m.entity_id not in levels for m in mutations):
            self.entities(account_id)
            with self._lock:
                levels = self._levels[account_id]
        results = []
        for mutation in mutations:
            try:
                path, patch = _patch(account, mutation, levels, currency)
                self._request(account, f"{mutation.kind} {mutation.entity_id}", "POST", path,
                              json_body={"patch": {"$set": patch}}, headers={"X-RestLi-Method": "PARTIAL_UPDATE"})
            except (ValueError, PlatformRequestError) as error:  # auth and outages stop the batch
                results.append(MutationResult(mutation.idempotency_key, ok=False, error=str(error)))
                continue
            results.append(MutationResult(mutation.idempotency_key, ok=True, platform_ref=mutation.entity_id))
        with self._lock:
            self._levels.pop(account_id, None)  # targeting may have changed: re-read next time
        return results


def _campaign(raw: Mapping[str, Any], account_id: str, currency: str) -> Entity:
    budget = raw.get("dailyBudget") or {}
    criteria = raw.get("targetingCriteria") or {}
    return Entity(
        PLATFORM, account_id, "ad_set", _last_id(raw["id"]), _last_id(raw["campaignGroup"]), str(raw.get("name", "")),
        _status(raw["status"]), currency,
        daily_budget=Decimal(str(budget["amount"])) if budget.get("amount") is not None else None,
        attributes={"platform_level": "campaign", "audience_ids": _segments(criteria, "include"),
                    "excluded_audience_ids": _segments(criteria, "exclude")},
    )


def _metric(raw: Mapping[str, Any], account_id: str, currency: str, level: str) -> MetricRow:
    start = raw["dateRange"]["start"]
    reach = raw.get("approximateMemberReach")
    return MetricRow(
        PLATFORM, account_id, "ad_set" if level == "ad_set" else "ad", _last_id(raw["pivotValues"][0]),
        date(int(start["year"]), int(start["month"]), int(start["day"])), currency,
        spend=Decimal(str(raw.get("costInLocalCurrency") or "0")), impressions=int(raw.get("impressions") or 0),
        clicks=int(raw.get("clicks") or 0), conversions=float(raw.get("externalWebsiteConversions") or 0),
        conversion_value=Decimal(str(raw.get("conversionValueInLocalCurrency") or "0")),
        reach=int(reach) if reach is not None else None,
    )


def _parse(rows: Iterable[Any], parse: Callable[[Any], R], account_id: str, report: str) -> Iterator[R]:
    """Parse each element; one that cannot be parsed is logged (account, report, id) and skipped."""
    for row in rows:
        try:
            yield parse(row)
        except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError, IndexError) as error:
            data = row if isinstance(row, Mapping) else {}
            identity = data.get("id") or (data.get("pivotValues") or ["?"])[0]
            log.warning("linkedin account %s: skipped malformed %s element %s: %s", account_id, report, identity, error)


def _patch(account: LinkedInAccount, mutation: Mutation, levels: Mapping[str, tuple[str, dict[str, Any]]],
           currency: str) -> tuple[str, dict[str, Any]]:
    """(path, `$set` patch) for one mutation; ValueError if LinkedIn cannot express it."""
    if mutation.entity_id not in levels:
        raise ValueError(f"entity {mutation.entity_id} not found")
    level, criteria = levels[mutation.entity_id]
    base = f"/rest/adAccounts/{account.ad_account}"
    path = {"campaign": f"{base}/adCampaignGroups/{mutation.entity_id}",
            "ad_set": f"{base}/adCampaigns/{mutation.entity_id}",
            "ad": f"{base}/creatives/{quote(f'urn:li:sponsoredCreative:{mutation.entity_id}', safe='')}"}[level]
    kind = mutation.kind
    if kind in ("pause", "enable"):
        status = "PAUSED" if kind == "pause" else "ACTIVE"
        return path, {"intendedStatus" if level == "ad" else "status": status}
    if kind == "set_budget" and level == "ad_set":
        try:
            amount = Decimal(str(mutation.params["daily_budget"]))
        except (KeyError, InvalidOperation):
            raise ValueError("set_budget needs a numeric daily_budget") from None
        if amount <= 0 or quantize_money(amount, currency) != amount:
            raise ValueError(f"daily_budget {amount} is not a valid {currency} amount")
        return path, {"dailyBudget": {"amount": str(amount), "currencyCode": currency}}
    if kind == "exclude_audience" and level == "ad_set":
        segment = f"urn:li:adSegment:{mutation.params.get('audience_id', '')}"
        updated = {**criteria}
        exclude = {**(updated.get("exclude") or {})}
        facets = {**(exclude.get("or") or {})}
        facets[SEGMENT_FACET] = sorted({*facets.get(SEGMENT_FACET, []), segment})
        exclude["or"] = facets
        updated["exclude"] = exclude
        return path, {"targetingCriteria": updated}
    raise ValueError(f"{kind} on a LinkedIn {level} is not supported by this connector")
