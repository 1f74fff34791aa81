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
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
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
from connectors.new_ad_copy import ad_tag, find_tags, read_copy, require_paused, tagged_keys
from connectors.registry import ConnectorContext
from connectors.retry import (
    Classified,
    PlatformAuthError,
    PlatformError,
    PlatformRateLimited,
    PlatformRequestError,
    RetryPolicy,
    WriteOutcomeUnknown,
    WritesStopped,
    call_with_retry,
    http_status_kind,
    retry_after_seconds,
)

log = logging.getLogger(__name__)
R = TypeVar("R")
PLATFORM = "linkedin"
DEFAULT_BASE_URL = "https://api.linkedin.com"
# A version LinkedIn lists as active (Marketing August 2026, "Recent Marketing API Changes" and the
# migrations table, https://learn.microsoft.com/en-us/linkedin/marketing/integrations/migrations):
# LinkedIn skips months (no 202512) and sunsets each version about a year after its release, so
# this pin is moved forward at least once a year. A sunset or unknown one fails every call (426).
DEFAULT_VERSION = "202608"
VERSION_DOCS = "https://learn.microsoft.com/en-us/linkedin/marketing/versioning"
ANALYTICS_FIELDS = ("dateRange", "pivotValues", "impressions", "clicks", "costInLocalCurrency",
                    "externalWebsiteConversions", "conversionValueInLocalCurrency", "approximateMemberReach")
assert len(ANALYTICS_FIELDS) <= 20, "adAnalytics accepts at most 20 fields per request"
SEGMENT_FACET = "urn:li:adTargetingFacet:audienceMatchingSegments"
_STATUS: dict[str, Status] = {"ACTIVE": "ACTIVE", "PAUSED": "PAUSED", "DRAFT": "PAUSED", "ARCHIVED": "REMOVED",
                              "CANCELED": "REMOVED", "REMOVED": "REMOVED", "COMPLETED": "PAUSED",
                              "PENDING_DELETION": "REMOVED"}  # a deleted draft, gone once LinkedIn purges it
# Campaign `format`s an article ad without a thumbnail fits: none set yet (the first creative sets
# it) or a plain sponsored update. Image, video, carousel, text and message formats need other
# content ("Creative types must match their campaign's ad format", Create and Manage Creatives).
ARTICLE_FORMATS = frozenset({"", "STANDARD_UPDATE"})


class OptionalReadUnavailable(PlatformError):
    """An enrichment (audiences, reach) the token may not read (HTTP 403): the account's pull goes
    on without it. Not an auth failure of the account: its reports and writes are unaffected."""


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
        # a connection that was never made sent nothing; a read timeout or reset may follow a write that landed
        return Classified("transient", f"{type(error).__name__}: network trouble",
                          not_sent=isinstance(error, httpx.ConnectError | httpx.ConnectTimeout))
    return None


@dataclass(frozen=True)
class LinkedInAccount:
    """A configured account: our id, LinkedIn's numeric ad account id, token and time zone."""

    account_id: str
    ad_account: str
    name: str
    timezone: str
    credentials: Mapping[str, str] = field(repr=False)
    organization: str | None = None  # new_ads.linkedin_organization: the page that authors new ads
    landing_url: str | None = None  # new_ads.landing_url

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
                 transport: httpx.BaseTransport | None = None, timeout: float = 60.0, page_size: int = 100,
                 now: Callable[[], datetime] | None = None) -> None:
        self._accounts = {a.account_id: a for a in accounts}
        self._now = now or (lambda: datetime.now(UTC))
        self._retry = retry or RetryPolicy()
        self._page_size = page_size
        self._client = httpx.Client(base_url=base_url, transport=transport, timeout=timeout, headers={
            "LinkedIn-Version": version, "X-Restli-Protocol-Version": "2.0.0"})
        self._info: dict[str, AccountInfo] = {}
        self._levels: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
        self._creative_names: dict[str, dict[str, str]] = {}
        self._formats: dict[str, dict[str, str]] = {}  # account -> campaign (our ad set) -> its ad `format`
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
            new_ads = account.get("new_ads") or {}
            organization = new_ads.get("linkedin_organization")
            accounts.append(LinkedInAccount(str(account["id"]), _last_id(raw), str(account.get("name") or account["id"]),
                                            str(account.get("timezone") or "UTC"), credentials,
                                            f"urn:li:organization:{_last_id(organization)}" if organization else None,
                                            new_ads.get("landing_url") or None))
        retry = options.get("retry_policy") or RetryPolicy(sleep=options.get("sleep") or RetryPolicy().sleep)
        return cls(accounts, base_url=options.get("linkedin_base_url") or DEFAULT_BASE_URL,
                   version=str(options.get("linkedin_version") or DEFAULT_VERSION), retry=retry,
                   transport=options.get("linkedin_transport"), timeout=float(options.get("linkedin_timeout", 60.0)),
                   page_size=int(options.get("linkedin_page_size", 100)), now=context.now)

    def close(self) -> None:
        self._client.close()

    # -- HTTP -------------------------------------------------------------------------------

    def _account(self, account_id: str) -> LinkedInAccount:
        try:
            return self._accounts[account_id]
        except KeyError:
            raise ConnectorError(f"linkedin: account {account_id!r} is not configured") from None

    def _send(self, account: LinkedInAccount, method: str, path: str, query: str = "", json_body: Any = None,
              headers: Mapping[str, str] | None = None) -> tuple[Any, httpx.Headers]:
        """One REST call, not retried: (JSON body or None, response headers). `query` is pre-encoded
        Rest.li 2.0 (httpx must not re-encode it)."""
        url = f"{path}?{query}" if query else path
        auth = {"Authorization": f"Bearer {account.credentials.get('access_token', '')}", **(headers or {})}
        response = self._client.request(method, url, json=json_body, headers=auth)
        if response.status_code >= 400:
            try:
                message = str(response.json().get("message") or response.text)
            except ValueError:
                message = response.text[:200]
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            if response.status_code == 426:  # NONEXISTENT_VERSION: "Requested version X is not active"
                version = self._client.headers.get("LinkedIn-Version")
                message = (f"LinkedIn refused the header LinkedIn-Version: {version} ({message}); the version is "
                           f"unknown or sunset, pin an active one (see {VERSION_DOCS})")
            elif response.status_code == 429 and retry_after is None:
                raise self._daily_quota(account, message)
            raise HttpFailure(response.status_code, message, retry_after)
        if response.status_code == 204 or not response.content:
            return None, response.headers
        try:
            return response.json(), response.headers
        except ValueError:
            raise HttpFailure(502, f"unreadable {len(response.content)}-byte answer") from None

    def _daily_quota(self, account: LinkedInAccount, message: str) -> PlatformRateLimited:
        """A 429 without `Retry-After` is a daily quota: LinkedIn resets every quota at midnight UTC
        (https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/rate-limits), so
        retrying within minutes is futile. Fail at once, saying when it resets."""
        now = self._now().astimezone(UTC)
        reset = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        wait = (reset - now).total_seconds()
        return PlatformRateLimited(
            f"{PLATFORM} account {account.account_id}: daily API quota reached (HTTP 429: {message}); LinkedIn "
            f"resets it at {reset:%Y-%m-%d %H:%M} UTC, in {int(wait // 3600)} h {int(wait % 3600 // 60)} min; "
            "not retried before then", platform=PLATFORM, account_id=account.account_id, retry_after=wait)

    def _retried(self, account: LinkedInAccount, operation: str, fn: Callable[[], R], write: bool = False) -> R:
        return call_with_retry(fn, policy=self._retry, classify=classify, platform=PLATFORM,
                               account_id=account.account_id, operation=operation,
                               secrets=account.credentials.values(), write=write)

    def _request(self, account: LinkedInAccount, operation: str, method: str, path: str,
                 query: str = "", json_body: Any = None, headers: Mapping[str, str] | None = None,
                 write: bool = False) -> Any:
        """One REST call, retried per policy (a `write` only when it surely was not applied); the JSON
        body (None when there is none)."""
        return self._retried(account, operation, lambda: self._send(account, method, path, query, json_body,
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
                    else self._send(account, "GET", path, page_query)[0]) or {}
            elements += body.get("elements", [])
            token = (body.get("metadata") or {}).get("nextPageToken")
            if not token:
                return elements

    # -- reads ------------------------------------------------------------------------------

    def accounts(self) -> Sequence[AccountInfo]:
        return [self._account_info(a) for a in self._accounts.values()]

    def account_info(self, account_id: str) -> AccountInfo:
        """One account's info (`AccountInfoReader`): read in the account's own pull, not up front."""
        return self._account_info(self._account(account_id))

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
        formats = {_last_id(r.get("id")): str(r.get("format") or "") for r in campaigns}
        with self._lock:
            self._levels[account_id] = {e.entity_id: (e.level, criteria.get(e.entity_id, {})) for e in found}
            self._formats[account_id] = formats
            self._creative_names[account_id] = {e.entity_id: e.name for e in found if e.level == "ad"}
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
        """The account's ad segments (`adSegments?q=accounts`, readable with `r_ads`): their ids are
        the `urn:li:adSegment:N` numbers campaigns target, their sizes `approximateMemberCount`.
        (`dmpSegments` needs the restricted Audiences program permission, and its own ids are not
        the targetable ones.) Archived and expired segments cannot be targeted and are left out."""
        account = self._account(account_id)
        raw = self._optional(account, "ad segments", lambda: self._search(
            account, "ad segments", "/rest/adSegments", f"q=accounts&accounts=List({quote(account.urn, safe='')})"))
        live = [r for r in raw if str(r.get("status") or "READY") not in ("ARCHIVED", "EXPIRED")]
        return list(_parse(live, lambda r: Audience(account_id, _last_id(r["id"]), str(r.get("name", "")),
                                                    int(r.get("approximateMemberCount") or 0)),
                           account_id, "ad segment"))

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
        with self._lock:
            levels = self._levels.get(account_id)
        if levels is None or any(m.entity_id not in levels for m in mutations):
            self.entities(account_id)
            with self._lock:
                levels = self._levels[account_id]
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
                path, patch = _patch(account, mutation, levels, currency)
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
            body = _inline_creative(account, mutation, levels, formats.get(mutation.entity_id, ""))
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
            answer, headers = self._send(account, "POST", f"/rest/adAccounts/{account.ad_account}/creatives",
                                         "action=createInline", json_body=body)
            answer = answer if isinstance(answer, dict) else {}
            urn = (headers.get("x-restli-id") or (answer.get("value") or {}).get("creative") or answer.get("id"))
            if not urn:
                raise HttpFailure(502, "createInline answered without the new creative's id")
            return _last_id(urn), False

        try:
            creative_id, already = self._retried(account, f"new_ad in {mutation.entity_id}", create, write=True)
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
        return {_last_id(c.get("id")): str(c.get("name") or "") for c in creatives}


def _inline_creative(account: LinkedInAccount, mutation: Mutation,
                     levels: Mapping[str, tuple[str, dict[str, Any]]], ad_format: str = "") -> dict[str, Any]:
    """The `createInline` body: a PAUSED creative in the campaign (our ad set) whose content is a
    new dark post by the company page: `commentary` (the introductory text, our description) and
    an article (link and headline). ValueError, naming the setting, when something is missing or
    the campaign's ad format needs other content than an article without a thumbnail."""
    if levels.get(mutation.entity_id, ("", {}))[0] != "ad_set":
        raise ValueError("new ads (creatives) are created in a LinkedIn campaign, our ad set")
    if ad_format not in ARTICLE_FORMATS:
        raise ValueError(f"campaign {mutation.entity_id} has the ad format {ad_format}, which needs "
                         f"{'an image' if 'IMAGE' in ad_format else 'other content'}; new ads here are article "
                         "posts without a thumbnail, so add this ad in Campaign Manager")
    params = mutation.params
    require_paused(params, "LinkedIn")
    if not account.organization:
        raise ValueError("a LinkedIn ad is a post by a company page: set accounts[].new_ads.linkedin_organization")
    copy = read_copy(params, account.landing_url, "the introductory text", "an article ad")
    headline, commentary, link = copy.headline, copy.text, copy.link
    post: dict[str, Any] = {
        "author": account.organization, "commentary": commentary, "visibility": "PUBLIC",
        "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False,
        "distribution": {"feedDistribution": "NONE", "targetEntities": [], "thirdPartyDistributionChannels": []},
        "adContext": {"dscAdAccount": account.urn, "dscStatus": "ACTIVE"},
        "content": {"article": {"source": link, "title": headline}},
    }
    if params.get("call_to_action"):
        post["contentCallToActionLabel"] = str(params["call_to_action"])
        post["contentLandingPage"] = link
    tag = ad_tag(mutation.idempotency_key)
    name = f"{str(params.get('name') or headline)[:200 - len(tag) - 1]} {tag}"
    # Never created active: a person looks at new copy before it spends.
    return {"creative": {"campaign": f"urn:li:sponsoredCampaign:{mutation.entity_id}", "intendedStatus": "PAUSED",
                         "name": name, "inlineContent": {"post": post}}}


def _campaign(raw: Mapping[str, Any], account_id: str, currency: str) -> Entity:
    budget = raw.get("dailyBudget") or {}
    criteria = raw.get("targetingCriteria") or {}
    return Entity(
        PLATFORM, account_id, "ad_set", _last_id(raw["id"]), _last_id(raw["campaignGroup"]), str(raw.get("name", "")),
        _status(raw["status"]), currency,
        daily_budget=Decimal(str(budget["amount"])) if budget.get("amount") is not None else None,
        attributes={"platform_level": "campaign", "audience_ids": _segments(criteria, "include"),
                    "excluded_audience_ids": _segments(criteria, "exclude"), "ad_format": str(raw.get("format") or "")},
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
