"""A fake LinkedIn Marketing API (versioned REST, Rest.li 2.0), backed by a simulator.

Checks the headers a real call needs (`Authorization: Bearer`, an active `LinkedIn-Version`,
`X-Restli-Protocol-Version: 2.0.0`), serves campaign groups, campaigns and creatives through paged
finders (`pageSize` / `pageToken` -> `metadata.nextPageToken`), `adAnalytics` (DAILY, pivot
CAMPAIGN or CREATIVE, at most 20 fields), `adSegments`, `dmpSegments` (403 unless the app has the
Audiences program permission: `FakeLinkedIn(dmp_permission=True)`) and `audienceCounts`, applies
`X-RestLi-Method: PARTIAL_UPDATE` patches (`{"patch": {"$set": ...}}`) and creates creatives with
`POST .../creatives?action=createInline` (a dark post of a company page with an article; answered
201 with the creative's URN in `x-restli-id`), which become `new_ad`s in the simulated world.
Binds 127.0.0.1 only.

Faults (request kinds such as `get:adAnalytics:CAMPAIGN`, `get:adCampaigns`, `post:adCampaigns`,
`post:creatives:createInline`): rate_limit (429 + `Retry-After: retry_after`), server_error (500),
unavailable (503), timeout (answer after `seconds`), auth (401, echoing the token), invalid (400),
malformed_row, truncated_page, lost_answer (the request is applied, then answered 504),
daily_quota (429 without `Retry-After`: the day's quota is spent), forbidden (403: the token lacks
a permission or role for this call), and the write faults of `platform_fixtures.Fault` (slow_answer,
drop_answer, hold). Note that `timeout` waits before applying: the write lands after the client
has given up (a slow create).

`lead_gen_campaigns` names simulator ad set ids whose campaign is a lead gen one
(`objectiveType: LEAD_GENERATION`, conversions as `oneClickLeads`: `tests/fakes/linkedin_leads.py`).
`campaign_formats` maps simulator ad set ids to a LinkedIn campaign `format` (e.g. SINGLE_IMAGE):
such a campaign shows it and accepts only creatives of that format.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import re
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

from connectors.linkedin.targeting_exclusions import EXCLUSION_KINDS, excluded, with_exclusion
from tests.fakes import linkedin_breakdowns, linkedin_leads
from tests.fakes.arrivals import StampedHandler, StampingHTTPServer, arrival
from tests.fakes.platform_fixtures import Faults, IdMap, SimBackend, Traffic, after_write, before_write

SEGMENT_FACET = "urn:li:adTargetingFacet:audienceMatchingSegments"
_STATUS = {"ACTIVE": "ACTIVE", "PAUSED": "PAUSED", "REMOVED": "ARCHIVED"}
# Marketing versions the docs confirm as active in December 2026 (the migrations table and "Recent
# Marketing API Changes", https://learn.microsoft.com/en-us/linkedin/marketing/integrations/migrations):
# 202510 and 202511 were sunset in October / November 2026, there is no 202512. Any other value is
# answered the way LinkedIn answers a sunset or unknown version (HTTP 426 NONEXISTENT_VERSION).
ACTIVE_VERSIONS = frozenset({"202601", "202602", "202603", "202605", "202606", "202607", "202608"})
# Campaign formats an article post without a thumbnail is accepted in ("Creative types must match
# their campaign's ad format", https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads/
# account-structure/create-and-manage-creatives-legacy).
ARTICLE_FORMATS = frozenset({"STANDARD_UPDATE"})


@dataclass(frozen=True)
class Created:
    """A create's answer: 201 with the new entity's URN in `x-restli-id` and no body."""

    urn: str


class RestError(Exception):
    def __init__(self, status: int, message: str, code: str = "", headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}


def _day(text: str, which: str) -> date:
    match = re.search(which + r":\(year:(\d+),month:(\d+),day:(\d+)\)", text)
    if not match:
        raise RestError(400, f"dateRange.{which} is malformed", "ILLEGAL_ARGUMENT")
    return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))


class FakeLinkedIn:
    """The server. `backend.accounts` maps numeric ad account ids (as strings) to simulator accounts."""

    def __init__(self, backend: SimBackend, *, access_token: str = "TOKEN", traffic: Traffic | None = None,
                 organizations: Collection[str] = ("2414183",), dmp_permission: bool = False,
                 versions: Collection[str] = ACTIVE_VERSIONS) -> None:
        self.backend = backend
        self.dmp_permission = dmp_permission
        self.versions = frozenset(versions)
        self.campaign_formats: dict[str, str] = {}  # simulator ad set id -> campaign `format`
        self.lead_gen_campaigns: set[str] = set()  # simulator ad set ids whose objective is LEAD_GENERATION
        self.organizations = {f"urn:li:organization:{o}" for o in organizations}  # pages the token may post as
        self.access_token = access_token
        self.traffic = traffic or Traffic()
        self.faults = Faults()
        self.ids = IdMap(start=600_000_001)
        self.log: list[tuple[str, str, Any]] = []
        self._creatives = itertools.count(1)
        fake = self

        class Handler(StampedHandler):
            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def log_message(self, *_args: Any) -> None:
                return

        self._server = StampingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    def start(self) -> FakeLinkedIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeLinkedIn:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- HTTP -------------------------------------------------------------------------------

    def _handle(self, http: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(http.path)
        # Rest.li 2.0 values carry their own syntax: split on '&' only, decode each value once.
        params = dict(part.split("=", 1) for part in split.query.split("&") if "=" in part)
        parts = [unquote(p) for p in split.path.split("/") if p][1:]  # drop "rest"
        body: Any = None
        if method == "POST":
            length = int(http.headers.get("Content-Length") or 0)
            body = json.loads(http.rfile.read(length) or b"null")
        kind = self._kind(method, parts, params)
        with self.traffic.request(kind, arrival(http)):
            self.log.append((kind, split.path, params if method == "GET" else body))
            fault = self.faults.take(kind)
            headers: dict[str, str] = {}
            try:
                before_write(fault)
                if fault and fault.kind == "timeout":
                    time.sleep(float(fault.params.get("seconds", 1.0)))
                self._check(http, fault)
                with self.backend.lock:
                    payload = self._route(method, parts, params, body, http, fault)
                if after_write(fault):  # applied; the connection is closed with no answer
                    http.close_connection = True
                    return
                if fault and fault.kind == "lost_answer":
                    raise RestError(504, "Gateway Timeout", "GATEWAY_TIMEOUT")
                if isinstance(payload, Created):
                    status, text, headers = 201, "", {"x-restli-id": payload.urn}
                else:
                    status = 204 if payload is None else 200
                    text = "" if payload is None else json.dumps(payload)
                if fault and fault.kind == "truncated_page":
                    text = text[: len(text) // 2]
            except RestError as error:
                status, headers = error.status, error.headers
                text = json.dumps({"status": error.status, "code": error.code, "message": error.message})
        self._respond(http, status, text, headers)  # after leaving the in-flight count

    @staticmethod
    def _kind(method: str, parts: list[str], params: dict[str, str]) -> str:
        if parts and parts[0] == "adAnalytics":
            return f"get:adAnalytics:{params.get('pivot') or unquote(params.get('pivots', '?'))}"
        if parts and parts[0] == "adAccounts" and len(parts) >= 3:
            action = f":{params['action']}" if method == "POST" and params.get("action") else ""
            return f"{method.lower()}:{parts[2]}{action}"
        return f"{method.lower()}:{parts[0] if parts else '?'}"

    @staticmethod
    def _respond(http: BaseHTTPRequestHandler, status: int, text: str, headers: dict[str, str]) -> None:
        data = text.encode()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            http.send_response(status)
            if data:
                http.send_header("Content-Type", "application/json")
            http.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                http.send_header(name, value)
            http.end_headers()
            http.wfile.write(data)

    def _check(self, http: BaseHTTPRequestHandler, fault: Any) -> None:
        token = (http.headers.get("Authorization") or "").removeprefix("Bearer ")
        if token != self.access_token or (fault and fault.kind == "auth"):
            raise RestError(401, f"Invalid access token {token}", "INVALID_ACCESS_TOKEN")
        version = http.headers.get("LinkedIn-Version") or ""
        if not version:
            raise RestError(400, "A version must be present (LinkedIn-Version: YYYYMM)", "VERSION_MISSING")
        if version not in self.versions:
            # https://learn.microsoft.com/en-us/linkedin/marketing/versioning: a sunset (or never
            # released) version is refused on every call with 426 NONEXISTENT_VERSION.
            raise RestError(426, f"Requested version {version} is not active", "NONEXISTENT_VERSION")
        if http.headers.get("X-Restli-Protocol-Version") != "2.0.0":
            raise RestError(400, "Rest.li protocol 2.0.0 required", "ILLEGAL_ARGUMENT")
        if fault is None:
            return
        if fault.kind == "rate_limit":  # infrastructure protection: short, with a hint
            raise RestError(429, "Too many requests", "TOO_MANY_REQUESTS",
                            {"Retry-After": str(fault.params.get("retry_after", 30))})
        if fault.kind == "daily_quota":
            # https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/rate-limits: limits are
            # per day and reset at midnight UTC; the 429 carries no Retry-After.
            raise RestError(429, "Resource level throttle APPLICATION DAY limit for calls to this resource is "
                            "reached.", "TOO_MANY_REQUESTS")
        if fault.kind == "forbidden":
            raise RestError(403, "Not enough permissions to access this resource", "ACCESS_DENIED")
        if fault.kind == "server_error":
            raise RestError(500, "Internal Server Error", "INTERNAL_SERVER_ERROR")
        if fault.kind == "unavailable":
            raise RestError(503, "Service Unavailable", "SERVICE_UNAVAILABLE")
        if fault.kind == "invalid":
            raise RestError(400, "Invalid query parameter", "ILLEGAL_ARGUMENT")

    # -- routing ----------------------------------------------------------------------------

    def _sim_account(self, numeric: str) -> str:
        sim_account = self.backend.sim_account(numeric)
        if sim_account is None:
            raise RestError(403, f"Not enough permissions to access ad account {numeric}", "ACCESS_DENIED")
        return sim_account

    def _route(self, method: str, parts: list[str], params: dict[str, str], body: Any,
               http: BaseHTTPRequestHandler, fault: Any) -> Any:
        head = parts[0] if parts else ""
        if head == "adAnalytics":
            return self._analytics(params, fault)
        if head == "dmpSegments":
            # https://learn.microsoft.com/en-us/linkedin/marketing/matched-audiences/create-and-manage-segments:
            # rw_dmp_segments "is not granted automatically as part of the LinkedIn Marketing API
            # Program". A segment's own id is not the targetable one: that is
            # destinations[].destinationSegmentId (urn:li:adSegment:N), with the audience size there.
            if not self.dmp_permission:
                raise RestError(403, "Not enough permissions to access: dmpSegments.FINDER-account",
                                "ACCESS_DENIED")
            numeric = unquote(params.get("account", "")).rsplit(":", 1)[-1]
            account = self._sim_account(numeric)
            segments = [{"id": self.ids.numeric(f"dmp:{a.audience_id}"), "name": a.name, "type": "USER",
                         "account": f"urn:li:sponsoredAccount:{numeric}",
                         "destinations": [{"destination": "LINKEDIN", "status": "READY",
                                           "destinationSegmentId": f"urn:li:adSegment:{self.ids.numeric(a.audience_id)}",
                                           "audienceSize": a.estimated_size}]}
                        for a in self.backend.simulator.audiences(account)]
            return self._page(segments, params)
        if head == "adSegments":
            # https://learn.microsoft.com/en-us/linkedin/marketing/integrations/matched-audiences/adsegments:
            # "Find Ad Segments by Ad Account" with r_ads / rw_ads; `id` is the N of urn:li:adSegment:N.
            if params.get("q") != "accounts":
                raise RestError(400, "q=accounts expected", "ILLEGAL_ARGUMENT")
            found = re.search(r"List\(([^)]*)\)", unquote(params.get("accounts", "")))
            numeric = (found.group(1) if found else "").rsplit(":", 1)[-1]
            account = self._sim_account(numeric)
            segments = [{"id": self.ids.numeric(a.audience_id), "name": a.name, "status": "READY", "type": "USER",
                         "approximateMemberCount": a.estimated_size, "account": f"urn:li:sponsoredAccount:{numeric}"}
                        for a in self.backend.simulator.audiences(account)]
            return self._page(segments, params)
        if head == "audienceCounts":
            return self._audience_count(params)
        if head != "adAccounts" or len(parts) < 2:
            raise RestError(404, f"No resource {'/'.join(parts)}", "NOT_FOUND")
        account = self._sim_account(parts[1])
        if len(parts) == 2:
            info = next(a for a in self.backend.simulator.accounts() if a.account_id == account)
            return {"id": int(parts[1]), "name": info.name, "currency": info.currency, "status": "ACTIVE",
                    "type": "BUSINESS"}
        collection = parts[2]
        if method == "POST" and collection == "creatives" and params.get("action") == "createInline":
            if len(parts) != 3:
                raise RestError(400, "createInline is an action on the creatives collection", "ILLEGAL_ARGUMENT")
            return self._create_inline(parts[1], account, body)
        if method == "POST":
            if http.headers.get("X-RestLi-Method") != "PARTIAL_UPDATE" or len(parts) != 4:
                raise RestError(400, "expected a PARTIAL_UPDATE of one entity", "ILLEGAL_ARGUMENT")
            return self._update(account, collection, parts[3], body)
        levels = {"adCampaignGroups": "campaign", "adCampaigns": "ad_set", "creatives": "ad"}
        if collection not in levels:
            raise RestError(404, f"No collection {collection}", "NOT_FOUND")
        return self._page(self._elements(parts[1], account, levels[collection]), params, fault)

    def _page(self, elements: list[dict[str, Any]], params: dict[str, str], fault: Any = None) -> dict[str, Any]:
        size = int(params.get("pageSize") or 100)
        token = unquote(params.get("pageToken", ""))
        offset = int(base64.b64decode(token).decode()) if token else 0
        page = [dict(e) for e in elements[offset:offset + size]]
        if fault and fault.kind == "malformed_row" and page:
            page[0]["status"] = "???"
        metadata: dict[str, Any] = {}
        if offset + size < len(elements):
            metadata["nextPageToken"] = base64.b64encode(str(offset + size).encode()).decode()
        return {"elements": page, "metadata": metadata, "paging": {"start": offset, "count": size, "links": []}}

    def _elements(self, numeric: str, account: str, level: str) -> list[dict[str, Any]]:
        elements = []
        for entity in self.backend.entities(account):
            if entity.level != level:
                continue
            number = self.ids.numeric(entity.entity_id)
            status = _STATUS[entity.status]
            if level == "campaign":
                elements.append({"id": number, "name": entity.name, "status": status,
                                 "account": f"urn:li:sponsoredAccount:{numeric}"})
            elif level == "ad_set":
                def urns(key: str, attributes: Any = entity.attributes) -> list[str]:
                    return [f"urn:li:adSegment:{self.ids.numeric(a)}" for a in attributes.get(key, [])]

                criteria: dict[str, Any] = {"include": {"and": [{"or": {SEGMENT_FACET: urns("audience_ids")}},
                                                                {"or": {"urn:li:adTargetingFacet:locations":
                                                                        ["urn:li:geo:101165590"]}}]}}
                if entity.attributes.get("excluded_audience_ids"):
                    criteria["exclude"] = {"or": {SEGMENT_FACET: urns("excluded_audience_ids")}}
                for dimension, cut in entity.attributes.get("excluded_segments", {}).items():
                    if dimension in EXCLUSION_KINDS.values():
                        for segment in cut:
                            criteria = with_exclusion(criteria, dimension, segment, True)
                element: dict[str, Any] = {
                    "id": number, "name": entity.name, "status": status, "type": "SPONSORED_UPDATES",
                    "campaignGroup": f"urn:li:sponsoredCampaignGroup:{self.ids.numeric(str(entity.parent_id))}",
                    "account": f"urn:li:sponsoredAccount:{numeric}", "targetingCriteria": criteria,
                    "objectiveType": linkedin_leads.objective(entity.entity_id in self.lead_gen_campaigns)}
                if entity.entity_id in self.campaign_formats:
                    element["format"] = self.campaign_formats[entity.entity_id]
                if entity.daily_budget is not None:
                    element["dailyBudget"] = {"amount": str(entity.daily_budget), "currencyCode": entity.currency}
                elements.append(element)
            else:
                elements.append({"id": f"urn:li:sponsoredCreative:{number}", "name": entity.name,
                                 "campaign": f"urn:li:sponsoredCampaign:{self.ids.numeric(str(entity.parent_id))}",
                                 "intendedStatus": status, "account": f"urn:li:sponsoredAccount:{numeric}"})
        return elements

    def _analytics(self, params: dict[str, str], fault: Any) -> dict[str, Any]:
        fields = unquote(params.get("fields", "")).split(",")
        if len(fields) > 20:
            raise RestError(400, "Requested more than 20 fields", "ILLEGAL_ARGUMENT")
        if params.get("q") == "statistics" and params.get("timeGranularity") == "DAILY":
            return self._statistics(params, fields)
        if params.get("q") != "analytics" or params.get("timeGranularity") != "DAILY":
            raise RestError(400, "q=analytics with timeGranularity=DAILY expected", "ILLEGAL_ARGUMENT")
        date_range = unquote(params.get("dateRange", ""))
        start, end = _day(date_range, "start"), _day(date_range, "end")
        account_urn = re.search(r"List\(([^)]*)\)", unquote(params.get("accounts", "")))
        account = self._sim_account((account_urn.group(1) if account_urn else "").rsplit(":", 1)[-1])
        pivot = params.get("pivot")
        level, urn = {"CAMPAIGN": ("ad_set", "urn:li:sponsoredCampaign"),
                      "CREATIVE": ("ad", "urn:li:sponsoredCreative")}.get(str(pivot), ("", ""))
        if not level:
            raise RestError(400, f"unsupported pivot {pivot}", "ILLEGAL_ARGUMENT")
        elements = []
        parents = {e.entity_id: str(e.parent_id) for e in self.backend.entities(account) if e.level == "ad"}
        for metric in self.backend.simulator.daily_metrics(account, start, end):
            if metric.level != level:
                continue
            day = {"year": metric.day.year, "month": metric.day.month, "day": metric.day.day}
            campaign = metric.entity_id if level == "ad_set" else parents.get(metric.entity_id, "")
            element: dict[str, Any] = {
                "dateRange": {"start": day, "end": day}, "pivotValues": [f"{urn}:{self.ids.numeric(metric.entity_id)}"],
                "impressions": metric.impressions, "clicks": metric.clicks, "costInLocalCurrency": str(metric.spend),
                **linkedin_leads.conversion_fields(metric, campaign in self.lead_gen_campaigns)}
            if metric.reach is not None:
                element["approximateMemberReach"] = metric.reach
            elements.append({k: v for k, v in element.items() if k in fields})
        if fault and fault.kind == "malformed_row" and elements:
            elements[0]["costInLocalCurrency"] = "n/a"
        return {"elements": elements, "paging": {"start": 0, "count": 10, "links": []}}

    def _statistics(self, params: dict[str, str], fields: list[str]) -> dict[str, Any]:
        """The statistics finder: campaign by one professional-demographic pivot (tests/fakes/linkedin_breakdowns.py)."""
        try:
            pivots = linkedin_breakdowns.pivots_of(params)
        except linkedin_breakdowns.BadRequest as error:
            raise RestError(400, str(error), "ILLEGAL_ARGUMENT") from None
        date_range = unquote(params.get("dateRange", ""))
        start, end = _day(date_range, "start"), _day(date_range, "end")
        account_urn = re.search(r"List\(([^)]*)\)", unquote(params.get("accounts", "")))
        account = self._sim_account((account_urn.group(1) if account_urn else "").rsplit(":", 1)[-1])
        rows = linkedin_breakdowns.elements(
            list(self.backend.simulator.daily_metrics(account, start, end)), pivots[1], self.backend.simulator.seed,
            lambda entity_id: f"urn:li:sponsoredCampaign:{self.ids.numeric(entity_id)}", fields,
            self.backend.simulator.segment_exclusions())
        return {"elements": rows, "paging": {"start": 0, "count": 10, "links": []}}

    def _audience_count(self, params: dict[str, str]) -> dict[str, Any]:
        criteria = unquote(params.get("targetingCriteria", ""))
        numbers = re.findall(r"urn:li:adSegment:(\d+)", criteria)
        sim_ids = [self.ids.sim(n) for n in numbers]
        if not sim_ids or None in sim_ids:
            raise RestError(400, "unknown audience segment", "ILLEGAL_ARGUMENT")
        account = next(sim for sim in self.backend.accounts.values() if str(sim_ids[0]).startswith(f"{sim}-"))
        total = self.backend.simulator.estimate_reach(account, [str(s) for s in sim_ids])
        return {"elements": [{"active": 0, "total": total}]}

    def _update(self, account: str, collection: str, raw_id: str, body: Any) -> None:
        sim_id = self.ids.sim(raw_id.rsplit(":", 1)[-1])
        entity = next((e for e in self.backend.entities(account) if e.entity_id == sim_id), None)
        if entity is None:
            raise RestError(404, f"{collection} {raw_id} not found", "NOT_FOUND")
        changes = ((body or {}).get("patch") or {}).get("$set")
        if not isinstance(changes, dict):
            raise RestError(400, "body must be {\"patch\": {\"$set\": {...}}}", "ILLEGAL_ARGUMENT")
        mutations: list[tuple[str, str, dict[str, Any]]] = []
        for key in ("status", "intendedStatus"):
            if key in changes:
                mutations.append(("pause" if changes[key] == "PAUSED" else "enable", entity.entity_id, {}))
        if "dailyBudget" in changes:
            budget = changes["dailyBudget"]
            if budget.get("currencyCode") != entity.currency:
                raise RestError(400, "dailyBudget.currencyCode must be the account currency", "ILLEGAL_ARGUMENT")
            mutations.append(("set_budget", entity.entity_id, {"daily_budget": str(Decimal(budget["amount"]))}))
        if "targetingCriteria" in changes:
            excluded_audiences = (changes["targetingCriteria"].get("exclude") or {}).get("or", {}).get(SEGMENT_FACET, [])
            known = set(entity.attributes.get("excluded_audience_ids", []))
            wanted = set()
            for urn in excluded_audiences:
                sim_audience = self.ids.sim(urn.rsplit(":", 1)[-1])
                wanted.add(sim_audience)
                if sim_audience and sim_audience not in known:
                    mutations.append(("exclude_audience", entity.entity_id, {"audience_id": sim_audience}))
            # an ad segment left out of the patch's exclude facet is excluded no more
            mutations += [("remove_audience_exclusion", entity.entity_id, {"audience_id": a})
                          for a in sorted(known - wanted)]
            # company sizes, seniorities, industries, job functions: each its facet under `exclude`, as the patch now has it
            for kind, dimension in EXCLUSION_KINDS.items():
                before = set(entity.attributes.get("excluded_segments", {}).get(dimension, []))
                after = set(excluded(changes["targetingCriteria"], dimension))
                mutations += [(kind, entity.entity_id, {"dimension": dimension, "segment": s, "excluded": s in after})
                              for s in sorted(after ^ before)]
        failed = [r.error for r in self.backend.apply(account, mutations, "li") if not r.ok]
        if failed:
            raise RestError(400, str(failed[0]), "ILLEGAL_ARGUMENT")

    def _create_inline(self, numeric: str, account: str, body: Any) -> Created:
        """A creative and its dark post in one call, checked the way LinkedIn checks them."""
        def invalid(message: str, status: int = 422) -> RestError:
            return RestError(status, message, "UNPROCESSABLE_ENTITY" if status == 422 else "ILLEGAL_ARGUMENT")

        creative = (body or {}).get("creative") if isinstance(body, dict) else None
        if not isinstance(creative, dict):
            raise invalid("body must be {\"creative\": {...}}", 400)
        campaign = self.ids.sim(str(creative.get("campaign", "")).rsplit(":", 1)[-1])
        if not str(creative.get("campaign", "")).startswith("urn:li:sponsoredCampaign:") or campaign is None or not any(
                e.entity_id == campaign and e.level == "ad_set" for e in self.backend.entities(account)):
            raise invalid(f"/campaign {creative.get('campaign')!r} is not a campaign of account {numeric}")
        status = creative.get("intendedStatus", "DRAFT")
        if status not in ("ACTIVE", "PAUSED", "DRAFT"):
            raise invalid(f"/intendedStatus {status!r} is not allowed on create")
        post = ((creative.get("inlineContent") or {}).get("post")) or {}
        if post.get("author") not in self.organizations:
            raise RestError(403, f"Not enough permissions to post as {post.get('author')!r}", "ACCESS_DENIED")
        required = {"commentary": post.get("commentary"), "visibility": post.get("visibility") == "PUBLIC",
                    "lifecycleState": post.get("lifecycleState") == "PUBLISHED",
                    "adContext/dscAdAccount": (post.get("adContext") or {}).get("dscAdAccount")
                    == f"urn:li:sponsoredAccount:{numeric}"}
        missing = [name for name, ok in required.items() if not ok]
        if missing:
            raise invalid(f"/inlineContent/post: {', '.join(missing)} missing or invalid")
        article = (post.get("content") or {}).get("article") or {}
        if not str(article.get("source", "")).startswith(("http://", "https://")) or not article.get("title"):
            raise invalid("/inlineContent/post/content/article needs a source URL and a title")
        ad_format = self.campaign_formats.get(campaign, "")
        if ad_format and ad_format not in ARTICLE_FORMATS and not article.get("thumbnail"):
            raise invalid(f"/creative/content: an article without a thumbnail does not match the campaign's "
                          f"format {ad_format}", 400)
        number = next(self._creatives)
        new_ad_id = f"{campaign}-li{number}"
        ad: dict[str, Any] = {"headline": article["title"], "description": post["commentary"],
                              "status": "ACTIVE" if status == "ACTIVE" else "PAUSED",
                              "name": str(creative.get("name") or article["title"]), "new_ad_id": new_ad_id}
        if post.get("contentCallToActionLabel"):
            ad["call_to_action"] = post["contentCallToActionLabel"]
        failed = [r.error for r in self.backend.apply(account, [("new_ad", campaign, ad)], "li") if not r.ok]
        if failed:
            raise invalid(str(failed[0]))
        return Created(f"urn:li:sponsoredCreative:{self.ids.numeric(new_ad_id)}")
