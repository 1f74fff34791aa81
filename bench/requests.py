"""Request economy: the platform requests one cycle makes, against the requests it needs.

    python bench/requests.py [--accounts 6] [--campaigns 5] [--ad-sets-per-campaign 5] [--ads-per-ad-set 3]

One cycle (no latency) through the real connectors against the fake servers (`bench/cycle.py`),
with accounts big enough that Meta and LinkedIn page. From the fakes' own request logs:
- reads: first-page requests per report type, against one per account per pass (one pass for the
  pull; a second pass of the entity reports, the drift check, on accounts that executed something);
  continuation pages are printed beside them and are not counted against the target;
- Google writes: mutate requests per (account, service), target 1;
- Meta writes: batch requests against ceil(changes / 50) per account, and calls per batch <= 50;
- LinkedIn writes: one PARTIAL_UPDATE per change (it has no batch endpoint);
- reach estimates per account per week, against 2 x its ad sets, in the cold week (the first pull
  asks every estimate the policy can use) and in steady state: after the cold week the agent runs
  one cycle a day for `--weeks` more weeks (the simulated world moves on, the agent acts on it) and
  the steady figure is their weekly average. An estimate is reused while its definition is unchanged,
  up to `reach_max_age_days` (28), each refreshed on a day picked by its definition's hash, so a
  steady week asks the new and changed definitions and about a quarter of the rest. A second cycle
  on the cold day shows that unchanged definitions are not asked again. Beside it, in the same run,
  the selection of before (every audience and every pair of audiences of two active ad sets)
  counted on the same stored entities. Meta ad sets target one market per campaign (`--markets`, as
  agencies split campaigns by country); LinkedIn's fake reports one location for every campaign,
  so every pair there can overlap.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/<name>.py`: import from the repository, and keep
    import sys  # bench/ itself off the path (bench/requests.py would shadow the `requests` library)

    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.clock import local_today
from agent.config import parse_config
from agent.cycle import reach_plan
from agent.decisions.snapshots import load_snapshot
from agent.storage import store
from agent.storage.window_spend import ad_set_spend
from bench.common import Figure, Report
from bench.cycle import Harness, WorldSize, harness, run_once
from bench.cycle_world import TOKENS, config_dict
from connectors.base import SizedAudiences
from policies.audience_overlap import propose_audience_exclusions

# Report types read again by the drift check (`connector.entities`), per platform.
ENTITY_READS = {
    "google_ads": {"search:customer_read", "search:campaign", "search:ad_group", "search:ad_group_ad",
                   "search:ad_group_criterion", "search:shared_set", "search:shared_criterion",
                   "search:campaign_shared_set", "search:campaign_criterion"},  # one query: locations, schedules,
    # excluded user lists (connectors/google_ads/campaign_criteria.py)
    "meta": {"get:campaigns", "get:adsets", "get:ads"},
    "linkedin": {"get:adCampaignGroups", "get:adCampaigns", "get:creatives"},
}
PER_AUDIENCE = {"get:reachestimate", "get:audienceCounts"}
META_BATCH_LIMIT = 50


def _google_reads(server: Any) -> Counter[str]:
    """Report type of each SearchStream: the resource, and `metrics` when it is segmented by date."""
    kinds: Counter[str] = Counter()
    for kind, query in server.requests:
        if kind.startswith("search:"):
            kinds[f"{kind} metrics" if "segments.date" in str(query) else kind] += 1
    return kinds


def _paged_reads(log: list[tuple[str, str, Any]], page_param: str) -> tuple[Counter[str], Counter[str]]:
    """(first pages, continuation pages) per report type from a Graph / Rest.li request log."""
    first: Counter[str] = Counter()
    more: Counter[str] = Counter()
    for kind, _path, params in log:
        if not kind.startswith("get:"):
            continue
        level = params.get("level") if isinstance(params, dict) else None
        label = f"{kind} {level}" if kind == "get:insights" and level else kind
        is_next = isinstance(params, dict) and page_param in params
        (more if is_next else first)[label] += 1
    return first, more


def _reach_requests(h: Harness) -> Counter[str]:
    return Counter({"meta": sum(1 for kind, _p, _q in h.servers["meta"].log if kind in PER_AUDIENCE),
                    "linkedin": sum(1 for kind, _p, _q in h.servers["linkedin"].log if kind in PER_AUDIENCE)})


def _selection_before(entities: list[Any]) -> int:
    """Estimates the pull asked for before pairs were filtered: every targeted audience and every
    pair of audiences of two different active ad sets."""
    targeted = [tuple(str(a) for a in e.attributes.get("audience_ids", ()))
                for e in entities if e.level == "ad_set" and e.status == "ACTIVE"]
    singles = {a for ids in targeted for a in ids}
    pairs = {frozenset((a, b)) for i, first in enumerate(targeted) for second in targeted[i + 1:]
             for a in first for b in second if a != b}
    return len(singles) + len(pairs)


def _competing(connection: Any, h: Harness, account_id: str) -> dict[str, Decimal]:
    """The pull's competing ad sets with their window spend, from the store (the whole window is stored)."""
    settings = h.config.policy_settings(h.config.account(account_id)).audience_overlap
    today = h.clock.now().date()
    start, end = reach_plan.spend_window(today, settings)
    return reach_plan.competing_ad_sets(today, settings, ad_set_spend(connection, account_id, start, end),
                                        end + timedelta(days=1), [])


def findings(h: Harness, account_id: str) -> tuple[set[tuple[str, str]], set[tuple[str, str]], int]:
    """The overlap policy's exclusions on the account as the agent has it (the estimates its pulls
    kept), and with every estimate of before (every audience, every pair of audiences of two active
    ad sets) asked fresh now; and the number of those extra requests (not counted in the weeks)."""
    account = h.config.account(account_id)
    settings = h.config.policy_settings(account).audience_overlap
    snapshot = load_snapshot(h.engine, account, local_today(h.clock, account.timezone), h.clock)
    connector = h.connectors[account.platform]
    targeted = [tuple(str(a) for a in e.attributes.get("audience_ids", ()))
                for e in snapshot.entities.values() if e.level == "ad_set" and e.status == "ACTIVE"]
    keys = {frozenset((a,)) for ids in targeted for a in ids}
    keys |= {frozenset((a, b)) for i, first in enumerate(targeted) for second in targeted[i + 1:]
             for a in first for b in second if a != b}
    fresh = {key: connector.estimate_reach(account_id, sorted(key)) for key in sorted(keys, key=sorted)}
    everything = replace(snapshot, reach_estimates={k: v for k, v in fresh.items() if v is not None})

    def found(of: Any) -> set[tuple[str, str]]:
        return {(p.entity_id, str(p.change["to"]["excluded_audience_id"]))
                for p in propose_audience_exclusions(of, settings)}
    return found(snapshot), found(everything), len(keys)


def reach_economy(report: Report, h: Harness, cold: Counter[str], again: Counter[str],
                  steady: list[Counter[str]]) -> None:
    """Per platform: reach-estimate requests per account per week vs 2 x ad sets, in the cold week
    and the steady weeks after it, the selection of before on the same entities, and whether the
    policy finds the same with the economy's estimates as with every estimate asked fresh."""
    with h.engine.connect() as connection:
        for platform in ("meta", "linkedin"):
            accounts = [a.id for a in h.config.accounts if a.platform == platform]
            entities = {a: list(store.load_entities(connection, a).values()) for a in accounts}
            ad_sets = sum(1 for a in accounts for e in entities[a] if e.level == "ad_set")
            active = sum(1 for a in accounts for e in entities[a] if e.level == "ad_set" and e.status == "ACTIVE")
            before = sum(_selection_before(entities[a]) for a in accounts)
            max_partners = {a: h.config.policy_settings(h.config.account(a)).audience_overlap.max_partners_per_ad_set
                            for a in accounts}
            connector = h.connectors.get(platform)
            sized_by_read = isinstance(connector, SizedAudiences) and connector.audience_size_is_reach()
            sized = {a: [x.audience_id for x in store.load_audiences(connection, a) if x.estimated_size > 0]
                     if sized_by_read else [] for a in accounts}
            now = sum(len(reach_plan.wanted_keys(entities[a], _competing(connection, h, a), sized[a], max_partners[a]))
                      for a in accounts)
            if not ad_sets:
                continue
            per = len(accounts)
            report.add(Figure(f"{platform} reach estimates per week vs 2 x ad sets, before (same run)", before,
                              "req", limit=2 * ad_sets, target=1.0,
                              note=f"{before / per:.0f} per account of {ad_sets / per:.0f} ad sets"))
            report.add(Figure(f"{platform} reach estimates vs 2 x ad sets, cold week", cold[platform], "req",
                              limit=2 * ad_sets, target=1.0,
                              note=f"{cold[platform] / per:.0f} per account; a second cycle the first day "
                                   f"asked {again[platform]}"))
            if steady:
                weekly = [week[platform] for week in steady]
                average = sum(weekly) / len(weekly)
                report.add(Figure(f"{platform} reach estimates vs 2 x ad sets, steady week (average of "
                                  f"{len(steady)})", round(average, 1), "req", limit=2 * ad_sets, target=1.0,
                                  note=f"{average / per:.1f} per account; weeks: {', '.join(map(str, weekly))}; "
                                       f"{active / per:.0f} of {ad_sets / per:.0f} ad sets active at the end"))
            report.add(Figure(f"{platform}   selection now on the same entities as before", now, "req",
                              limit=2 * ad_sets, target=1.0, note=f"vs {before} before: x{before / max(now, 1):.1f} fewer"))
            kept: set[tuple[str, str, str]] = set()
            full: set[tuple[str, str, str]] = set()
            for account_id in accounts:
                ours, everything, _asked = findings(h, account_id)
                kept |= {(account_id, *f) for f in ours}
                full |= {(account_id, *f) for f in everything}
            report.add(Figure(f"{platform}   overlap exclusions found with the economy's estimates, of those "
                              f"found with every estimate fresh", len(kept & full), "", limit=len(full) or None,
                              target=1.0, better=">=",
                              note=f"{len(kept - full)} found only with the economy's (older) estimates"))


def economy(report: Report, h: Harness) -> None:
    log = h.simulator.mutation_log()
    changes: Counter[str] = Counter(row["account_id"] for row in log)  # simulator account id -> changes
    sim_to_agent = {spec.account_id: f"acct-{index}" for index, spec in enumerate(h.specs)}
    executing = Counter(h.platform_of(sim_to_agent[a]) for a in changes)
    accounts = Counter(a.platform for a in h.config.accounts)
    reads: dict[str, tuple[Counter[str], Counter[str]]] = {
        "google_ads": (_google_reads(h.servers["google_ads"]), Counter()),
        "meta": _paged_reads(h.servers["meta"].log, "after"),
        "linkedin": _paged_reads(h.servers["linkedin"].log, "pageToken"),
    }
    for platform, (first, more) in reads.items():
        for kind in sorted(first):
            if kind in PER_AUDIENCE:
                continue  # see reach_economy
            passes = accounts[platform] + (executing[platform] if kind in ENTITY_READS[platform] else 0)
            if kind in ("get:account", "get:adAccounts", "search:customer"):
                passes = accounts[platform]  # account info is read once and cached
            report.add(Figure(f"{platform} {kind}: first pages vs one per account and pass", first[kind], "req",
                              limit=passes, target=1.0, note=f"+ {more[kind]} further pages" if more[kind] else ""))

    google = h.servers["google_ads"]
    per_service: Counter[tuple[str, str]] = Counter(
        (request.customer_id, kind) for kind, request in google.requests if kind.startswith("mutate:"))
    if per_service:
        report.add(Figure("google_ads mutate requests per (account, service), most", max(per_service.values()),
                          "req", limit=1, target=1.0, note=f"{sum(per_service.values())} mutate requests"))
    batches = [json.loads(params.get("batch") or "[]") for kind, _path, params in h.servers["meta"].log
               if kind == "post:batch"]
    meta_needed = sum(math.ceil(n / META_BATCH_LIMIT) for a, n in changes.items()
                      if h.platform_of(sim_to_agent[a]) == "meta")
    report.add(Figure("meta batch requests vs ceil(changes / 50) per account", len(batches), "req",
                      limit=meta_needed, target=1.0))
    if batches:
        report.add(Figure("meta calls in one batch, most", max(len(b) for b in batches), "calls",
                          limit=META_BATCH_LIMIT, target=1.0))
    linkedin_changes = sum(n for a, n in changes.items() if h.platform_of(sim_to_agent[a]) == "linkedin")
    linkedin_posts = sum(1 for kind, _path, _body in h.servers["linkedin"].log if kind.startswith("post:"))
    report.add(Figure("linkedin updates vs changes applied (no batch API)", linkedin_posts, "req",
                      limit=linkedin_changes, target=1.0))
    unexpected = [kind for kind, _path, _params in h.servers["meta"].log if re.match(r"post:(?!batch)", kind)]
    if unexpected:
        report.add(Figure("meta writes outside a batch", len(unexpected), "req", note="target 0"))


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=6)
    parser.add_argument("--campaigns", type=int, default=5)
    parser.add_argument("--ad-sets-per-campaign", type=int, default=5)
    parser.add_argument("--ads-per-ad-set", type=int, default=3)
    parser.add_argument("--markets", nargs="+", default=["DE", "AT", "CH", "FR", "NL"],
                        help="countries of Meta's campaigns, one per campaign in turn (one: a single market)")
    parser.add_argument("--max-partners", type=int, default=None,
                        help="audience_overlap.max_partners_per_ad_set for every account (default: the setting's, 4; "
                             "0: every pair)")
    parser.add_argument("--weeks", type=int, default=8,
                        help="steady weeks after the cold week, one cycle a day (0: the cold week's first day only)")
    parser.add_argument("--every-days", type=int, default=1, choices=range(1, 8), metavar="1..7",
                        help="a cycle every this many days instead of daily (a week's requests are then the same "
                             "except a definition that changes and changes back between two cycles, or a "
                             "partner choice that churns and returns: they are asked once instead of twice)")
    args = parser.parse_args(argv)
    size = WorldSize(args.accounts, args.campaigns, args.ad_sets_per_campaign, args.ads_per_ad_set)
    report = Report(f"request economy: one cycle over {args.accounts} accounts of "
                    f"{args.campaigns}x{args.ad_sets_per_campaign}x{args.ads_per_ad_set}")
    with harness(size, latency=0.0, concurrency=4) as h:
        h.servers["meta"].markets = tuple(args.markets)
        if args.max_partners is not None:
            raw = config_dict(h.config.database_url.get_secret_value(), h.specs, size, 4)
            raw["defaults"]["policies"] = {"audience_overlap": {"max_partners_per_ad_set": args.max_partners}}
            h.config = parse_config(raw, environ=TOKENS)
        run = run_once(h)
        cold = _reach_requests(h)
        print(f"    accounts {run.summary.accounts} (failed {run.summary.accounts_failed}), "
              f"execution {dict(run.summary.execution)}", flush=True)
        for error in run.summary.errors[:5]:
            print(f"    error: {error}")
        economy(report, h)
        run_once(h)  # the same day again: nothing has changed, nothing is asked again
        again = _reach_requests(h) - cold
        weeks: list[Counter[str]] = []
        if args.weeks:
            seen = _reach_requests(h)
            week = Counter(seen)  # the cold week: the first day's requests and the six days after it
            for day in range(1, 7 * (args.weeks + 1)):
                h.clock.advance(timedelta(days=1))
                if (day + 1) % args.every_days == 0 or day % 7 == 6:  # and on the last day of each week
                    run_once(h)
                total = _reach_requests(h)
                week.update(total - seen)
                seen = total
                if day % 7 == 6:
                    print(f"    week {len(weeks)}: reach estimates meta {week['meta']}, linkedin {week['linkedin']}",
                          flush=True)
                    weeks.append(week)
                    week = Counter()
            print(f"    reach estimates per week (meta, linkedin): "
                  f"{[(w['meta'], w['linkedin']) for w in weeks]}", flush=True)
            cold = weeks.pop(0)
        reach_economy(report, h, cold, again, weeks)
    report.print()
    return report


if __name__ == "__main__":
    main()
