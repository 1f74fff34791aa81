"""A fake Meta Graph API (v26.0): a local HTTP server speaking Graph JSON, backed by a simulator.

Speaks what the facebook-business SDK sends: node reads, paged edges (`paging.cursors.after` and
`paging.next`), sync insights and async report runs (`POST .../insights` -> `report_run_id`, poll,
then `/{run}/insights`), `reachestimate`, form-encoded node updates, creates on
`act_X/adcreatives` (a link post of a Page: `object_story_spec` with `page_id` and `link_data`)
and `act_X/ads` (`adset_id`, `creative={"creative_id"}`, `status`), and the batch endpoint
(`POST /` with `batch=[...]`). A created ad becomes a `new_ad` in the simulated world. Every answer
carries usage headers: a fixed `usage_percent`, or with `usage=LoadUsage(...)` (tests/fakes/meta_usage.py)
the calls each ad account and the app made within a rolling window, a call past an allowance refused
with code 17 and the time to regain access (counted in `traffic.refused`). Errors use Graph error
bodies. Binds 127.0.0.1 only.

Faults (matched on request kinds such as `get:insights`, `post:insights`, `get:report`,
`get:adsets`, `post:batch`, `post:node`, `get:reachestimate`, and inside a batch `batch:node`,
`batch:adcreatives`, `batch:ads`): rate_limit (code 17 or
`code=`, with `regain_minutes`), server_error (500, code 2, transient), unavailable (503 text),
timeout (answer after `seconds`), auth (190, echoing the token as a careless server might),
malformed_row, truncated_page, too_much_data (100/1504018), partial_failure (batch item `index`),
lost_answer (the request, or the batch holding the matched call, is applied, then answered 500),
job_failed (on `post:insights`: the report run ends in `status`, "Job Failed" by default, or
"Job Skipped"), and the write faults of
`platform_fixtures.Fault` (slow_answer, drop_answer, hold).

As strict as Graph where our connector could go wrong (each rule cites its page below): reach
estimates need a location and may be -1 for custom audiences; insights rows carry the real
overlapping action types; report runs pass through every async state; ad sets under an
Advantage campaign budget have no budget to change; a fifth budget change of an ad set within
an hour answers code 17; insights answers carry `x-fb-ads-insights-throttle`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from connectors.meta.age_range import AGE_BANDS, excluded_ages, with_age_band
from connectors.meta.placements import excluded_placements, with_placement
from connectors.meta.regions import excluded_regions
from connectors.records import Entity, MetricRow, minor_unit_exponent
from connectors.simulator.segments import PROFILES
from tests.fakes import intraday, meta_breakdowns, meta_labels, meta_leads, meta_regions, meta_schedules
from tests.fakes.arrivals import StampedHandler, StampingHTTPServer, arrival
from tests.fakes.meta_usage import LoadUsage, Refusal
from tests.fakes.platform_fixtures import Faults, IdMap, SimBackend, Traffic, after_write, before_write

VERSION = "v26.0"
BUDGET_CHANGES_PER_HOUR = 4
DONE = "Job Completed"
RUNNING_STATES = ("Job Not Started", "Job Started", "Job Running")


class GraphError(Exception):
    def __init__(self, status: int, body: dict[str, Any] | str, headers: dict[str, str] | None = None) -> None:
        super().__init__(str(body))
        self.status, self.body, self.headers = status, body, headers or {}


def _error(code: int, message: str, subcode: int | None = None, transient: bool = False,
           kind: str = "OAuthException") -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "type": kind, "is_transient": transient,
                             "fbtrace_id": "FakeTrace"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class FakeMeta:
    """The server. `backend.accounts` maps `act_<digits>` ids to simulator account ids."""

    def __init__(self, backend: SimBackend, *, access_token: str = "TOKEN", traffic: Traffic | None = None,
                 polls_until_done: int = 2, sync_row_limit: int | None = None,
                 now: Callable[[], datetime] | None = None, page_ids: Collection[str] = ("100200300",),
                 usage: LoadUsage | None = None) -> None:
        self.backend = backend
        self.page_ids = set(page_ids)  # Pages the token may publish as
        self.creatives: dict[str, dict[str, Any]] = {}  # created AdCreatives by id
        self.access_token = access_token
        self.traffic = traffic or Traffic()
        self.faults = Faults()
        self.ids = IdMap(start=23_800_000_001)
        self.polls_until_done = polls_until_done
        self.sync_row_limit = sync_row_limit
        self.usage_percent = 10.0  # reported by every answer, unless `usage` counts the load
        self.load_usage = usage
        self.now = now or backend.simulator._now
        self.jobs: dict[str, dict[str, Any]] = {}
        self.budget_changes: dict[str, list[datetime]] = defaultdict(list)
        self.budget_blocked_until: dict[str, datetime] = {}
        # simulator campaign id -> its Advantage campaign budget (daily, account currency)
        self.advantage_campaigns: dict[str, Decimal] = {}
        # act_ id -> the event its conversions are ("purchase" or "lead"), for the action types rows carry
        self.conversion_events: dict[str, str] = {}
        self.lead_campaigns: set[str] = set()  # simulator campaign ids of lead ad campaigns (meta_leads.py)
        # simulator ad set id -> its lifetime budget; their schedules (tests/fakes/meta_schedules.py)
        self.lifetime_ad_sets: dict[str, Decimal] = {}
        self.adset_schedules: dict[str, list[dict[str, Any]]] = {}
        self.unavailable_reach: set[str] = set()  # simulator audience ids whose reach Meta will not tell (-1)
        # countries ad sets target: campaign n of an account targets markets[(n - 1) % len(markets)]
        self.markets: tuple[str, ...] = ("DE",)
        self.insights_throttle_percent = 0.0
        self.log: list[tuple[str, str, dict[str, Any]]] = []
        self._lock = threading.Lock()
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
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def start(self) -> FakeMeta:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeMeta:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- HTTP -------------------------------------------------------------------------------

    def _handle(self, http: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(http.path)
        params = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        if method == "POST":
            length = int(http.headers.get("Content-Length") or 0)
            body = http.rfile.read(length).decode() if length else ""
            params.update({k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()})
        parts = [p for p in split.path.split("/") if p]
        if parts and parts[0] == VERSION:
            parts = parts[1:]
        kind = self._kind(method, parts)
        with self.traffic.request(kind, arrival(http)):
            self.log.append((kind, "/".join(parts), params))
            fault = self.faults.take(kind)
            account = self._usage_account(parts, params) if self.load_usage else None
            try:
                before_write(fault)
                if fault and fault.kind == "timeout":
                    time.sleep(float(fault.params.get("seconds", 1.0)))
                self._check(params, fault, parts)
                if parts:  # a batch is not a call itself: its calls are counted one by one
                    self._charge(account)
                with self.backend.lock:
                    status, payload = 200, self._route(method, parts, params, fault)
                if after_write(fault):  # applied; the connection is closed with no answer
                    http.close_connection = True
                    return
                if fault and fault.kind == "lost_answer":
                    raise self.lost_answer()
                text = json.dumps(payload)
                if fault and fault.kind == "truncated_page":
                    text = text[: len(text) // 2]
                headers: dict[str, str] = {}
            except GraphError as error:
                status, headers = error.status, error.headers
                text = error.body if isinstance(error.body, str) else json.dumps(error.body)
        # answer after leaving the in-flight count, so a client reacting fast is not a violation
        self._respond(http, status, text, parts, headers, account)

    @staticmethod
    def _kind(method: str, parts: list[str]) -> str:
        if not parts:
            return "post:batch"
        if len(parts) == 1:
            return ("get:account" if parts[0].startswith("act_") else "get:report") if method == "GET" else "post:node"
        edge = parts[1]
        if not parts[0].startswith("act_") and edge == "insights":
            return "get:report_result"
        return f"{method.lower()}:{edge}"

    def usage_headers(self, parts: list[str], regain_minutes: float = 0.0, percent: float | None = None
                      ) -> dict[str, str]:
        pct = self.usage_percent if percent is None else percent
        account = (parts[0] if parts and parts[0].startswith("act_") else "act_0").removeprefix("act_")
        insights: dict[str, str] = {}
        if "insights" in parts:
            # Insights answers carry their own quota, per app and per ad account
            # (https://developers.facebook.com/docs/marketing-api/insights/best-practices).
            insights["x-fb-ads-insights-throttle"] = json.dumps({
                "app_id_util_pct": self.insights_throttle_percent, "acc_id_util_pct": self.insights_throttle_percent,
                "ads_api_access_tier": "standard_access"})
        return {**insights,
            "x-business-use-case-usage": json.dumps({account: [{
                "type": "ads_management", "call_count": pct, "total_cputime": pct / 2, "total_time": pct / 2,
                "estimated_time_to_regain_access": regain_minutes}]}),
            "x-ad-account-usage": json.dumps({"acc_id_util_pct": pct, "reset_time_duration": 0}),
        }

    def _usage_account(self, parts: list[str], params: dict[str, str]) -> str | None:
        """The ad account (`act_` id) a request calls, for the load-driven usage; None if none."""
        if not parts:  # a batch: the account of its first call (the connector batches per account)
            calls = json.loads(params.get("batch") or "[]")
            path = calls[0].get("relative_url", "").split("?")[0] if calls else ""
            parts = [p for p in path.split("/") if p and p != VERSION]
            if not parts:
                return None
        node = parts[0]
        if node.startswith("act_"):
            return node
        if node in self.jobs:
            return str(self.jobs[node]["account"])
        sim_id = self.ids.sim(node) or ""
        if sim_id.startswith("act_"):  # an ad creative: "act_X#creative-n"
            return sim_id.partition("#")[0]
        # the simulator's object ids start with their account's id and a dash
        return next((act for act, sim in self.backend.accounts.items() if sim_id.startswith(f"{sim}-")), None)

    def _charge(self, account: str | None) -> None:
        """Count a call against the load-driven usage, or refuse it as Meta does once over a limit."""
        if self.load_usage is None:
            return
        refusal = self.load_usage.charge(account)
        if refusal is None:
            return
        headers, percent = self.load_usage.headers(account, refusal)
        self.traffic.usage(percent, refused=refusal.limit)
        raise GraphError(400, self._refused(refusal), headers)

    @staticmethod
    def _refused(refusal: Refusal) -> dict[str, Any]:
        # Over an ad account's ads_management allowance: code 17, subcode 2446079; over the app's:
        # code 4, subcode 1504022 (https://developers.facebook.com/docs/marketing-api/overview/rate-limiting).
        if refusal.limit == "account":
            return _error(17, "(#17) User request limit reached", 2446079, transient=True)
        return _error(4, "(#4) There have been too many calls from this app. Wait a bit and try again.", 1504022,
                      transient=True)

    def _respond(self, http: BaseHTTPRequestHandler, status: int, text: str, parts: list[str],
                 extra: dict[str, str], account: str | None = None) -> None:
        data = text.encode()
        try:
            http.send_response(status)
        except (BrokenPipeError, ConnectionResetError):
            return
        http.send_header("Content-Type", "application/json" if text[:1] in "{[" else "text/plain")
        http.send_header("Content-Length", str(len(data)))
        if self.load_usage is None:
            usage = self.usage_headers(parts)
        else:
            usage, percent = self.load_usage.headers(account)
            self.traffic.usage(percent)
            if "insights" in parts:
                usage = {**self.usage_headers(parts), **usage}  # with the insights throttle header
        for name, value in {**usage, **extra}.items():
            http.send_header(name, value)
        http.end_headers()
        # The client may have given up waiting (timeout faults): nothing left to answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            http.wfile.write(data)

    def _check(self, params: dict[str, str], fault: Any, parts: list[str]) -> None:
        token = params.get("access_token")
        if token != self.access_token or (fault and fault.kind == "auth"):
            raise GraphError(400, _error(190, f"Error validating access token: Session has expired ({token})",
                                         subcode=463))
        if fault is None:
            return
        if fault.kind == "rate_limit":
            code = int(fault.params.get("code", 17))
            minutes = float(fault.params.get("regain_minutes", 1))
            raise GraphError(400, _error(code, f"(#{code}) User request limit reached", 2446079, transient=True),
                             self.usage_headers(parts, regain_minutes=minutes, percent=100))
        if fault.kind == "server_error":
            raise GraphError(500, _error(2, "An unexpected error has occurred. Please retry your request later.",
                                         transient=True))
        if fault.kind == "unavailable":
            raise GraphError(503, "Service Unavailable")
        if fault.kind == "too_much_data":
            raise GraphError(400, _error(100, "Please reduce the amount of data you're asking for, then retry "
                                              "your request", 1504018, kind="GraphMethodException"))

    # -- routing ----------------------------------------------------------------------------

    def _sim_account(self, act: str) -> str:
        sim_account = self.backend.sim_account(act)
        if sim_account is None:
            raise GraphError(400, _error(100, f"Unsupported get request. Object with ID '{act}' does not exist",
                                         33, kind="GraphMethodException"))
        return sim_account

    def _route(self, method: str, parts: list[str], params: dict[str, str], fault: Any) -> Any:
        if not parts:
            return self._batch(json.loads(params.get("batch", "[]")), fault)
        node = parts[0]
        if node.startswith("act_"):
            sim_account = self._sim_account(node)
            if len(parts) == 1:
                info = next(a for a in self.backend.simulator.accounts() if a.account_id == sim_account)
                return {"id": node, "name": info.name, "currency": info.currency, "timezone_name": info.timezone,
                        "business_country_code": "DE"}
            edge = parts[1]
            if edge == "insights":
                rows = self._insight_rows(node, sim_account, params)
                if method == "POST":
                    return self._start_job(node, rows, fault)
                if self.sync_row_limit is not None and len(rows) > self.sync_row_limit:
                    raise GraphError(400, _error(100, "Please reduce the amount of data you're asking for, then "
                                                      "retry your request", 1504018, kind="GraphMethodException"))
                return self._page(rows, params, parts, fault)
            if edge == "reachestimate":
                return self._reach(sim_account, params)
            if method == "POST" and edge in ("adcreatives", "ads"):
                return self._create(node, edge, params)
            listing = {"campaigns": "campaign", "adsets": "ad_set", "ads": "ad"}
            if edge in listing:
                return self._page(self._objects(sim_account, listing[edge]), params, parts, fault)
            if edge == "customaudiences":
                audiences = [{"id": str(self.ids.numeric(a.audience_id)), "name": a.name,
                              "approximate_count_lower_bound": a.estimated_size,
                              "approximate_count_upper_bound": a.estimated_size}
                             for a in self.backend.simulator.audiences(sim_account)]
                return self._page(audiences, params, parts, fault)
            raise GraphError(400, _error(100, f"Unknown edge {edge}", kind="GraphMethodException"))
        if node == "search" and method == "GET":
            return meta_regions.search(params)
        if node in self.jobs:
            return self._job(node, parts, params, fault)
        if method == "POST":
            return self._update(node, params)
        raise GraphError(400, _error(100, f"Object with ID '{node}' does not exist", 33,
                                     kind="GraphMethodException"))

    def _page(self, rows: list[dict[str, Any]], params: dict[str, str], parts: list[str], fault: Any
              ) -> dict[str, Any]:
        limit = int(params.get("limit") or 25)
        offset = int(base64.b64decode(params["after"]).decode()) if params.get("after") else 0
        page = [dict(r) for r in rows[offset:offset + limit]]
        if fault and fault.kind == "malformed_row" and page:
            page[0]["spend" if "spend" in page[0] else "status"] = "12,34€"
        body: dict[str, Any] = {"data": page}
        after = base64.b64encode(str(offset + limit).encode()).decode()
        before = base64.b64encode(str(offset).encode()).decode()
        body["paging"] = {"cursors": {"before": before, "after": after}}
        if offset + limit < len(rows):
            body["paging"]["next"] = f"{self.url}/{VERSION}/{'/'.join(parts)}?after={after}&limit={limit}"
        return body

    # -- reads ------------------------------------------------------------------------------

    def _entities(self, sim_account: str) -> list[Entity]:
        return self.backend.entities(sim_account)

    def _objects(self, sim_account: str, level: str) -> list[dict[str, Any]]:
        currency_exp = None
        objects = []
        audiences = {a.audience_id: a.name for a in self.backend.simulator.audiences(sim_account)}
        for entity in self._entities(sim_account):
            if entity.level != level:
                continue
            currency_exp = currency_exp if currency_exp is not None else minor_unit_exponent(entity.currency)
            raw: dict[str, Any] = {"id": str(self.ids.numeric(entity.entity_id)), "name": entity.name,
                                   "status": entity.status if entity.status != "REMOVED" else "DELETED"}
            if level in ("campaign", "ad_set"):  # the `adlabels` field: [{id, name}] (tests/fakes/meta_labels.py)
                raw["adlabels"] = meta_labels.field(entity, self.ids)
            if entity.daily_budget is not None and self._campaign_budget_of(entity) is None:
                raw["daily_budget"] = str(int(entity.daily_budget.scaleb(currency_exp)))
            if level == "campaign":
                raw["objective"] = meta_leads.objective(entity.entity_id in self.lead_campaigns)
                if entity.entity_id in self.advantage_campaigns:
                    raw["daily_budget"] = str(int(self.advantage_campaigns[entity.entity_id].scaleb(currency_exp)))
            elif level == "ad_set":
                raw["campaign_id"] = str(self.ids.numeric(str(entity.parent_id)))
                raw["targeting"] = {key: [{"id": str(self.ids.numeric(a)), "name": audiences.get(a, "")}
                                          for a in entity.attributes.get(attr, [])]
                                    for key, attr in (("custom_audiences", "audience_ids"),
                                                      ("excluded_custom_audiences", "excluded_audience_ids"))}
                raw["targeting"]["geo_locations"] = {"countries": [self._market(str(entity.parent_id))]}
                for placement in entity.attributes.get("excluded_segments", {}).get("placement", []):
                    raw["targeting"] = with_placement(raw["targeting"], placement, True)  # manual placements
                meta_regions.render(raw["targeting"], entity.attributes.get("excluded_segments", {}).get("region", []))
                for band in _edge_first(entity.attributes.get("excluded_segments", {}).get("age", [])):
                    raw["targeting"] = with_age_band(raw["targeting"], band, True)  # age_min / age_max
                raw["learning_stage_info"] = {"status": "LEARNING" if entity.learning else "SUCCESS"}
                meta_schedules.report(self, entity, raw)
            else:
                raw["adset_id"] = str(self.ids.numeric(str(entity.parent_id)))
                raw["creative"] = {"id": str(self.ids.numeric(entity.entity_id + "#creative")),
                                   "title": entity.attributes.get("headline", ""),
                                   "body": entity.attributes.get("primary_text", "")}
            objects.append(raw)
        return objects

    def _campaign_budget_of(self, entity: Entity) -> str | None:
        """The campaign holding an ad set's budget (Advantage campaign budget), if any."""
        if entity.level == "ad_set" and str(entity.parent_id) in self.advantage_campaigns:
            return str(entity.parent_id)
        return None

    def _actions(self, act: str, conversions: float, value: Decimal, clicks: int, windows: list[str]
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """`actions` and `action_values` as Meta reports them: each conversion under several
        overlapping action types (https://developers.facebook.com/docs/marketing-api/reference/ads-action-stats/):
        a purchase as `omni_purchase` (the total across channels), `purchase` and
        `offsite_conversion.fb_pixel_purchase`; a lead as `lead` (the total), plus its parts,
        `onsite_conversion.lead_grouped` (instant forms) and `offsite_conversion.fb_pixel_lead`."""
        def split(total: Decimal) -> tuple[Decimal, Decimal]:
            first = (total / 3).to_integral_value(rounding="ROUND_FLOOR") if total == total.to_integral_value() \
                else Decimal(0)
            return first, total - first

        def entry(action_type: str, amount: Decimal) -> dict[str, Any]:
            item: dict[str, Any] = {"action_type": action_type, "value": _number(float(amount))}
            # Asked-for windows come as keys of their own; 7d_view and 28d_view are no longer returned since
            # January 12, 2026 (https://developers.facebook.com/blog/post/2025/10/16/ads-insights-api-metric-availability-updates/).
            view, click = split(amount)
            for window in windows:
                if window.endswith("_click"):
                    item[window] = _number(float(click))
                elif window == "1d_view":
                    item[window] = _number(float(view))
            return item

        count = Decimal(str(_number(conversions)))
        if self.conversion_events.get(act, "purchase") == "lead":
            forms, pixel = split(count)
            types = [("lead", count), ("onsite_conversion.lead_grouped", forms), ("offsite_conversion.fb_pixel_lead", pixel)]
            value_types = [("lead", value), ("offsite_conversion.fb_pixel_lead", value)]
        else:
            types = [("omni_purchase", count), ("purchase", count), ("offsite_conversion.fb_pixel_purchase", count)]
            value_types = [("omni_purchase", value), ("purchase", value), ("offsite_conversion.fb_pixel_purchase", value)]
        actions = [{"action_type": "link_click", "value": str(clicks)}] + [entry(t, n) for t, n in types]
        return actions, [entry(t, n) for t, n in value_types]

    def _insight_rows(self, act: str, sim_account: str, params: dict[str, str]) -> list[dict[str, Any]]:
        level = "ad_set" if params.get("level") == "adset" else "ad"
        time_range = json.loads(params.get("time_range") or "{}")
        since, until = date.fromisoformat(time_range["since"]), date.fromisoformat(time_range["until"])
        windows = [str(w) for w in json.loads(params.get("action_attribution_windows") or "[]")]
        entities = {e.entity_id: e for e in self._entities(sim_account)}
        metrics: list[MetricRow] = [m for m in intraday.with_today(self.backend.simulator, sim_account, since, until)
                                    if m.level == level]
        if params.get("breakdowns"):
            breakdowns = meta_breakdowns.requested(params)
            try:
                meta_breakdowns.check(breakdowns)
            except meta_breakdowns.InvalidBreakdown as error:
                raise GraphError(400, _error(100, str(error), kind="OAuthException")) from None
            return meta_breakdowns.rows(
                metrics, breakdowns, self.backend.simulator.seed,
                lambda m: {"campaign_id": str(self.ids.numeric(str(entities[m.entity_id].parent_id))),
                           "adset_id": str(self.ids.numeric(m.entity_id)), "date_start": m.day.isoformat(),
                           "date_stop": m.day.isoformat()},
                lambda conversions, value, clicks: self._actions(act, conversions, value, clicks, windows),
                self.backend.simulator.segment_exclusions())
        rows = []
        for metric in sorted(metrics, key=lambda m: (m.day, m.entity_id)):
            ad_set = metric.entity_id if level == "ad_set" else str(entities[metric.entity_id].parent_id)
            row: dict[str, Any] = {
                "campaign_id": str(self.ids.numeric(str(entities[ad_set].parent_id))),
                "adset_id": str(self.ids.numeric(ad_set)),
                "date_start": metric.day.isoformat(), "date_stop": metric.day.isoformat(),
                "spend": str(metric.spend), "impressions": str(metric.impressions), "clicks": str(metric.clicks),
            }
            if level == "ad":
                row["ad_id"] = str(self.ids.numeric(metric.entity_id))
            if metric.reach is not None:
                row["reach"] = str(metric.reach)
            lead_ads = str(entities[ad_set].parent_id) in self.lead_campaigns
            if meta_leads.requested(params, "objective"):
                row["objective"] = meta_leads.objective(lead_ads)
            if metric.conversions and lead_ads:
                row["actions"] = meta_leads.lead_actions(metric.conversions, metric.clicks)
            elif metric.conversions:
                row["actions"], row["action_values"] = self._actions(act, metric.conversions, metric.conversion_value,
                                                                     metric.clicks, windows)
            rows.append(row)
        return rows

    def _market(self, campaign_id: str) -> str:
        number = campaign_id.rpartition("-c")[2]
        return self.markets[(int(number) - 1) % len(self.markets)] if number.isdigit() else self.markets[0]

    def _reach(self, sim_account: str, params: dict[str, str]) -> dict[str, Any]:
        spec = json.loads(params.get("targeting_spec") or "{}")
        # "countries is required" in targeting_spec, and reach of custom audiences "may not be available
        # for certain businesses. When unavailable, the endpoint returns -1 for the estimate fields"
        # (https://developers.facebook.com/documentation/ads-commerce/marketing-api/reference/ad-account/reachestimate).
        if not (spec.get("geo_locations") or {}).get("countries"):
            raise GraphError(400, _error(100, "Invalid parameter: targeting_spec must include a location: "
                                              "geo_locations with countries", kind="GraphMethodException"))
        ids = [self.ids.sim(a["id"]) for a in spec.get("custom_audiences", [])]
        if not ids or None in ids:
            raise GraphError(400, _error(100, "Invalid parameter: custom_audiences", 1885099,
                                         kind="GraphMethodException"))
        if self.unavailable_reach & {str(i) for i in ids}:
            return {"data": {"users_lower_bound": -1, "users_upper_bound": -1, "estimate_ready": True}}
        size = self.backend.simulator.estimate_reach(sim_account, [str(i) for i in ids])
        return {"data": {"users_lower_bound": size, "users_upper_bound": size, "estimate_ready": True}}

    def _start_job(self, act: str, rows: list[dict[str, Any]], fault: Any) -> dict[str, Any]:
        ends = str(fault.params.get("status", "Job Failed")) if fault and fault.kind == "job_failed" else DONE
        with self._lock:
            job_id = str(self.ids.numeric(f"report-{len(self.jobs)}"))
            self.jobs[job_id] = {"rows": rows, "polls": 0, "ends": ends, "account": act}
        return {"report_run_id": job_id}

    def _job(self, job_id: str, parts: list[str], params: dict[str, str], fault: Any) -> dict[str, Any]:
        job = self.jobs[job_id]
        if len(parts) > 1:
            if job["polls"] < self.polls_until_done or job["ends"] != DONE:
                raise GraphError(400, _error(100, "Report is not ready", kind="GraphMethodException"))
            return self._page(job["rows"], params, parts, fault)
        job["polls"] += 1
        done = job["polls"] >= self.polls_until_done
        # A run passes through Job Not Started, Job Started and Job Running, and ends Job Completed,
        # Job Failed or Job Skipped (https://developers.facebook.com/docs/marketing-api/insights/best-practices).
        status = job["ends"] if done else RUNNING_STATES[min(job["polls"] - 1, len(RUNNING_STATES) - 1)]
        return {"id": job_id, "account_id": "0", "async_status": status,
                "async_percent_completion": 100 if done else 50 * (job["polls"] - 1) // max(1, self.polls_until_done)}

    # -- writes -----------------------------------------------------------------------------

    def _update(self, node: str, params: dict[str, str]) -> dict[str, Any]:
        sim_id = self.ids.sim(node)
        account = next((a for a in self.backend.accounts.values()
                        if sim_id and any(e.entity_id == sim_id for e in self._entities(a))), None)
        if sim_id is None or account is None:
            raise GraphError(400, _error(100, f"Object with ID '{node}' does not exist", 33,
                                         kind="GraphMethodException"))
        entity = next(e for e in self._entities(account) if e.entity_id == sim_id)
        mutations: list[tuple[str, str, dict[str, Any]]] = []
        if "status" in params:
            mutations.append(("pause" if params["status"] == "PAUSED" else "enable", sim_id, {}))
        if "daily_budget" in params:
            now = self.now()
            # Under an Advantage campaign budget the campaign holds the budget and the ad sets none
            # (https://developers.facebook.com/documentation/ads-commerce/marketing-api/bidding/guides/advantage-campaign-budget).
            # The wording is ours; the docs give the rule, not the error text.
            if self._campaign_budget_of(entity) is not None:
                raise GraphError(400, {"error": {**_error(100, "Invalid parameter", kind="OAuthException")["error"],
                                                 "error_user_title": "Budget Can't Be Set on Ad Set",
                                                 "error_user_msg": "This ad set's campaign uses Advantage campaign "
                                                                   "budget: set the budget on the campaign."}})
            # "For each ad set, the budget is only allowed to change 4 times per hour, if exceeds the limit,
            # the budget change for that ad set is blocked for an hour", error code 17
            # (https://developers.facebook.com/docs/marketing-api/overview/rate-limiting).
            recent = [t for t in self.budget_changes[sim_id] if t > now - timedelta(hours=1)]
            blocked = self.budget_blocked_until.get(sim_id)
            if len(recent) >= BUDGET_CHANGES_PER_HOUR or (blocked is not None and blocked > now):
                if blocked is None or blocked <= now:
                    self.budget_blocked_until[sim_id] = now + timedelta(hours=1)
                raise GraphError(400, _error(17, "(#17) User request limit reached", transient=True))
            self.budget_changes[sim_id] = [*recent, now]
            amount = Decimal(int(params["daily_budget"])).scaleb(-minor_unit_exponent(entity.currency))
            mutations.append(("set_budget", sim_id, {"daily_budget": str(amount)}))
        if "adset_schedule" in params:
            meta_schedules.update(self, entity, params)
        if "targeting" in params:
            targeting = json.loads(params["targeting"])
            excluded = {self.ids.sim(a["id"]) for a in targeting.get("excluded_custom_audiences", [])}
            new = sorted(str(a) for a in excluded - set(entity.attributes.get("excluded_audience_ids", [])) if a)
            mutations += [("exclude_audience", sim_id, {"audience_id": a}) for a in new]
            gone = sorted(str(a) for a in set(entity.attributes.get("excluded_audience_ids", [])) - excluded)
            mutations += [("remove_audience_exclusion", sim_id, {"audience_id": a}) for a in gone]
            # placements: what the spec no longer delivers to (a position counts only with its platform,
            # https://developers.facebook.com/docs/marketing-api/audiences/reference/placement-targeting)
            simulated = {p.segment for p in PROFILES["placement"]}
            before = set(entity.attributes.get("excluded_segments", {}).get("placement", []))
            after = set(excluded_placements(targeting)) & simulated
            mutations += [("exclude_placement", sim_id, {"dimension": "placement", "segment": p, "excluded": True})
                          for p in sorted(after - before)]
            mutations += [("exclude_placement", sim_id, {"dimension": "placement", "segment": p, "excluded": False})
                          for p in sorted(before - after)]
            # regions: excluded_geo_locations.regions by key, named as the breakdown names them
            before_regions = set(entity.attributes.get("excluded_segments", {}).get("region", []))
            try:
                after_regions = set(excluded_regions(meta_regions.named(targeting)))
            except ValueError as error:
                raise GraphError(400, _error(100, f"Invalid parameter: {error}", kind="GraphMethodException")) from None
            mutations += [("exclude_region", sim_id, {"dimension": "region", "segment": r, "excluded": r in after_regions})
                          for r in sorted(after_regions ^ before_regions)]
            # the age range: the bands age_min / age_max now leave out, cut (or brought back) edge first
            before_ages = set(entity.attributes.get("excluded_segments", {}).get("age", []))
            after_ages = set(excluded_ages(targeting))
            mutations += [("narrow_age_range", sim_id, {"dimension": "age", "segment": a, "excluded": True})
                          for a in _edge_first(after_ages - before_ages)]
            mutations += [("narrow_age_range", sim_id, {"dimension": "age", "segment": a, "excluded": False})
                          for a in reversed(_edge_first(before_ages - after_ages))]
        results = self.backend.apply(account, mutations, "meta")
        failed = [r.error for r in results if not r.ok]
        if failed:
            raise GraphError(400, _error(100, f"Invalid parameter: {failed[0]}", 1487390,
                                         kind="GraphMethodException"))
        return {"success": True}

    def _create(self, act: str, edge: str, params: dict[str, str]) -> dict[str, Any]:
        """`POST act_X/adcreatives` or `act_X/ads`, checked the way Graph checks them."""
        sim_account = self._sim_account(act)

        def invalid(message: str, subcode: int = 1487390) -> GraphError:
            return GraphError(400, _error(100, f"Invalid parameter: {message}", subcode, kind="OAuthException"))

        def json_param(name: str) -> dict[str, Any]:
            try:
                value = json.loads(params[name])
            except (KeyError, ValueError):
                raise invalid(f"{name} is required and must be a JSON object") from None
            if not isinstance(value, dict):
                raise invalid(f"{name} must be a JSON object")
            return value

        if edge == "adcreatives":
            spec = json_param("object_story_spec")
            if str(spec.get("page_id", "")) not in self.page_ids:
                raise invalid(f"object_story_spec.page_id {spec.get('page_id')!r} is not a Page this token can "
                              "publish as", 1885183)
            link_data = spec.get("link_data")
            if not isinstance(link_data, dict) or not str(link_data.get("link", "")).startswith(("http://", "https://")):
                raise invalid("object_story_spec.link_data.link must be a URL")
            if not link_data.get("message") and not link_data.get("name"):
                raise invalid("a link ad needs a message or a name")
            with self._lock:
                creative_id = str(self.ids.numeric(f"{act}#creative-{len(self.creatives)}"))
                self.creatives[creative_id] = {"account": act, "name": params.get("name", ""), **spec}
            return {"id": creative_id}
        name = params.get("name", "")
        if not name:
            raise invalid("name is required")
        status = params.get("status", "ACTIVE")
        if status not in ("ACTIVE", "PAUSED"):
            raise invalid(f"status must be ACTIVE or PAUSED, got {status!r}")
        ad_set = self.ids.sim(params.get("adset_id", ""))
        if ad_set is None or not any(e.entity_id == ad_set and e.level == "ad_set" for e in self._entities(sim_account)):
            raise invalid(f"adset_id {params.get('adset_id')!r} is not an ad set of {act}")
        creative_id = str(json_param("creative").get("creative_id", ""))
        creative = self.creatives.get(creative_id)
        if creative is None or creative["account"] != act:
            raise invalid(f"creative {creative_id!r} does not exist in {act}")
        link_data = creative["link_data"]
        new_ad_id = f"{ad_set}-m{creative_id}"
        ad: dict[str, Any] = {"headline": link_data.get("name") or link_data.get("message"),
                              "description": link_data.get("message") or link_data.get("name"),
                              "status": status, "name": name, "new_ad_id": new_ad_id}
        if link_data.get("call_to_action"):
            ad["call_to_action"] = link_data["call_to_action"].get("type")
        failed = [r.error for r in self.backend.apply(sim_account, [("new_ad", ad_set, ad)], "meta") if not r.ok]
        if failed:
            raise invalid(str(failed[0]))
        return {"id": str(self.ids.numeric(new_ad_id))}

    def _batch(self, calls: list[dict[str, Any]], fault: Any) -> list[dict[str, Any]]:
        if len(calls) > 50:
            raise GraphError(400, _error(1, "Too many requests in batch message. Maximum batch size is 50"))
        answers = []
        lost = False
        for index, call in enumerate(calls):
            relative = call["relative_url"].split("?")[0]
            node = [p for p in relative.split("/") if p and p != VERSION]
            body = {k: v[-1] for k, v in parse_qs(call.get("body", ""), keep_blank_values=True).items()}
            creating = len(node) == 2 and node[0].startswith("act_") and node[1] in ("adcreatives", "ads")
            labelling = len(node) == 2 and node[1] == "adlabels"
            kind = f"batch:{node[1]}" if creating or labelling else "batch:node"
            self.traffic.count_inner(kind)
            try:
                if fault and fault.kind == "partial_failure" and index == int(fault.params.get("index", 0)):
                    raise GraphError(400, _error(100, "Invalid parameter", kind="GraphMethodException"))
                inner_fault = self.faults.take(kind)
                lost = lost or bool(inner_fault and inner_fault.kind == "lost_answer")
                self._check({"access_token": self.access_token}, inner_fault, node)
                if self.load_usage is not None:
                    self._charge(self._usage_account(node, {}))
                if labelling:
                    answer = meta_labels.edge(self, node[0], str(call.get("method", "GET")), body)
                else:
                    answer = self._create(node[0], node[1], body) if creating else self._update(node[0], body)
                status, text = 200, json.dumps(answer)
            except GraphError as error:
                status = error.status
                text = error.body if isinstance(error.body, str) else json.dumps(error.body)
            answers.append({"code": status, "headers": [{"name": "Content-Type", "value": "application/json"}],
                            "body": text})
        if lost:
            raise self.lost_answer()
        return answers

    @staticmethod
    def graph_error(code: int, message: str, subcode: int | None = None) -> GraphError:
        return GraphError(400, _error(code, message, subcode, kind="GraphMethodException"))

    @staticmethod
    def lost_answer() -> GraphError:
        """What the client sees when the work was done but the answer did not arrive."""
        return GraphError(500, _error(2, "An unexpected error has occurred. Please retry your request later.",
                                      transient=True))


def _edge_first(bands: Iterable[str]) -> list[str]:
    """Age bands in the order a range narrows through them, each at an edge when its turn comes: the
    run from the bottom upwards, then the rest from the top downwards."""
    order = list(AGE_BANDS)
    chosen = sorted(set(bands), key=order.index)
    low: list[str] = []
    for i, band in enumerate(chosen):
        if order.index(band) != i:
            break
        low.append(band)
    return low + sorted((b for b in chosen if b not in low), key=order.index, reverse=True)
