"""Copy tests end to end on the simulator, where each ad's true CTR is known.

Per seed: a simulated Google Ads, Meta and LinkedIn account (3 campaigns x 3 ad sets x 3 ads), the real
cycle run day after day (`run_cycle` with a moving clock) with the copywriter drafting for lagging ad
sets, `new_ad`, `enable` and `pause` on auto, and copy tests at their default rule (|z| >= 2.8, 1,000
impressions per ad, 28 days at most). Each verdict is compared with the simulator's truth on the
verdict day: an ad's expected CTR now = its fresh true CTR x its current fatigue factor. Google ad groups
rotate their ads evenly while a test runs (`set_ad_rotation` on auto; `--rotation as-set` leaves
Google's optimized rotation). Figures:

- the share of decided tests that keep the truly better ad (target >= 90%), and their median duration;
  tests that end at the maximum duration without a clear lead (outcome `no_winner`, nothing paused)
  are counted apart, and the median duration over every ended test includes them;
- the predictor's calibration on these launches per platform: the share of observed CTRs inside the
  predicted 80% interval, and the bias (observed - predicted), as `report impact` computes them.

    .venv/bin/python bench/copy_tests.py --first-seed 5 --seeds 8 --days 40
    .venv/bin/python bench/copy_tests.py --platforms google_ads --rotation as-set
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

# import from the repository, and keep bench/ itself off the path (bench/requests.py would shadow
# the `requests` library)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.bootstrap import build_connectors  # noqa: E402
from agent.clock import FixedClock  # noqa: E402
from agent.config import parse_config  # noqa: E402
from agent.cycle.run import run_cycle  # noqa: E402
from agent.experiments.copy_test_report import calibration_by_platform  # noqa: E402
from agent.experiments.copy_test_store import copy_tests_since  # noqa: E402
from agent.storage import db, store  # noqa: E402
from bench.common import BENCH_DAY, Figure, Report, sqlite_database, timed  # noqa: E402
from connectors.simulator.connector import SimulatorConnector  # noqa: E402

PLATFORMS = ("google_ads", "meta", "linkedin")


def config_for(url: str, seed: int, rule: dict[str, Any] | None = None,
               platforms: tuple[str, ...] = PLATFORMS) -> dict[str, Any]:
    return {
        "database_url": url,
        "simulator": {"seed": seed, "history_days": 45, "campaigns_per_account": 3, "ad_sets_per_campaign": 3,
                      "ads_per_ad_set": 3},
        "accounts": [{"id": f"sim-{platform}", "platform": "simulator", "simulate": platform, "currency": "USD",
                      "timezone": "America/New_York"} for platform in platforms],
        "defaults": {"permissions": {"new_ad": "auto", "enable": "auto", "pause": "auto", "set_ad_rotation": "auto"},
                     "guardrails": {"max_actions_per_cycle": 50},
                     "copywriter": {"low_ctr_ratio": 0.9, "max_ad_sets_per_cycle": 2, "max_proposals_per_ad_set": 1}},
        "experiments": {"holdout_share": {}, "copy_tests": rule or {}},
    }


def run_seed(seed: int, days: int, directory: Path, dump: bool = False,
             rule: dict[str, Any] | None = None, platforms: tuple[str, ...] = PLATFORMS) -> list[dict[str, Any]]:
    """The seed's copy tests, each with the true current CTRs of its two ads on its verdict day."""
    with sqlite_database(directory) as url:
        config = parse_config(config_for(url, seed, rule, platforms), environ={})
        engine = store.make_engine(url)
        db.upgrade(engine)
        clock = FixedClock.at_day(BENCH_DAY, hour=12)
        connectors = build_connectors(config, clock, engine)
        simulator = connectors["simulator"]
        assert isinstance(simulator, SimulatorConnector)
        truth_at_verdict: dict[int, tuple[float, float]] = {}
        fresh_at_verdict: dict[int, float] = {}
        truth_by_day: dict[int, list[tuple[str, float, float]]] = {}  # while running: (day, challenger, incumbent)
        for _ in range(days):
            run_cycle(engine, config, connectors, clock)
            with engine.connect() as connection:
                tests = copy_tests_since(connection)
            for test in tests:
                verdict = test["outcome"] in ("challenger_wins", "control_wins", "no_winner")
                if test["id"] in truth_at_verdict or not (verdict or test["status"] == "running"):
                    continue
                truth = simulator.observe(test["account_id"]).truth
                now = {ad: truth.true_ctr[ad] * truth.fatigue_multiplier.get(ad, 1.0)
                       for ad in (test["challenger_ad_id"], test["incumbent_ad_id"])}
                pair = (now[test["challenger_ad_id"]], now[test["incumbent_ad_id"]])
                day = simulator.local_today(test["account_id"]).isoformat()
                truth_by_day.setdefault(test["id"], []).append((day, *pair))
                if verdict:
                    truth_at_verdict[test["id"]] = pair
                    fresh_at_verdict[test["id"]] = truth.true_ctr[test["challenger_ad_id"]]
            clock.advance(timedelta(days=1))
        with engine.connect() as connection:
            rows = [dict(row) for row in copy_tests_since(connection)]
            for row in rows:
                row["daily"] = _daily_counts(connection, row) if dump else None
        engine.dispose()
    for row in rows:
        row["true_ctrs"] = truth_at_verdict.get(row["id"])
        row["fresh_true_ctr"] = fresh_at_verdict.get(row["id"])
        row["truth_by_day"] = truth_by_day.get(row["id"], [])
        row["seed"] = seed
    return rows


def _daily_counts(connection: Any, row: dict[str, Any]) -> list[dict[str, Any]]:
    """Each day's impressions and clicks of the test's two ads, from its launch (for --dump)."""
    if row["started_on"] is None or row["incumbent_ad_id"] is None:
        return []
    daily = store.load_daily_metrics(connection, row["account_id"], row["started_on"] - timedelta(days=3),
                                     row["started_on"] + timedelta(days=40))
    out: dict[str, dict[str, Any]] = {}
    for role, ad in (("challenger", row["challenger_ad_id"]), ("incumbent", row["incumbent_ad_id"])):
        for metric in daily.get(ad, []):
            out.setdefault(metric.day.isoformat(), {})[role] = (metric.impressions, metric.clicks)
    return [{"day": day, **arms} for day, arms in sorted(out.items())]


def _challenger_share(row: dict[str, Any]) -> float | None:
    """The share of the test's counted impressions the challenger served (0.5: an even split)."""
    counts = row["counts"] or {}
    shown = [(counts.get(arm) or {}).get("impressions") or 0 for arm in ("challenger", "incumbent")]
    return shown[0] / sum(shown) if sum(shown) else None


def _kept_at_any_lead(row: dict[str, Any]) -> bool | None:
    """Whether the challenger would have been kept had the higher observed CTR won at the maximum
    whatever its lead (final_z 0, the rule before): a no-winner test's z and truth on its last day are
    those of that verdict. None: too few impressions for any verdict."""
    counts = row["counts"] or {}
    if row["outcome"] != "no_winner":
        return bool(row["outcome"] == "challenger_wins")
    arms = [counts.get(arm) or {} for arm in ("challenger", "incumbent")]
    if counts.get("z_ctr") is None or min(a.get("impressions", 0) for a in arms) < 1000:
        return None
    return bool(counts["z_ctr"] > 0)


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    parser.add_argument("--days", type=int, default=45, help="cycles (days) per seed")
    parser.add_argument("--z-bound", type=float, help="the rule's bound instead of the default (99: every test "
                        "runs to its maximum duration, to replay other rules on the dump)")
    parser.add_argument("--platforms", default=",".join(PLATFORMS), help="accounts to simulate, comma-separated")
    parser.add_argument("--rotation", choices=("even", "as-set"), default="even",
                        help="Google ad groups under test: rotated evenly (the default), or left optimized")
    parser.add_argument("--dump", type=Path, help="write every test (daily counts, daily truth) as JSON lines here")
    args = parser.parse_args(argv)
    report = Report("copy tests on the simulator")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as directory, timed() as elapsed:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            rule: dict[str, Any] = {"even_rotation": args.rotation == "even"}
            if args.z_bound is not None:
                rule["z_bound"] = args.z_bound
            seed_rows = run_seed(seed, args.days, Path(directory), dump=args.dump is not None, rule=rule,
                                 platforms=tuple(p for p in args.platforms.split(",") if p))
            rows += seed_rows
            if args.dump is not None:
                with args.dump.open("a") as out:
                    for row in seed_rows:
                        out.write(json.dumps(row, default=str) + "\n")
        seconds = elapsed()
    ended = [r for r in rows if r["true_ctrs"] is not None]
    decided = [r for r in ended if r["outcome"] != "no_winner"]
    kept_better = [r for r in decided if (r["outcome"] == "challenger_wins") == (r["true_ctrs"][0] > r["true_ctrs"][1])]
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
    print(f"  {len(rows)} tests over seeds {args.first_seed}-{args.first_seed + args.seeds - 1} x {args.days} days ({seconds:.0f} s): {statuses}")
    report.add(Figure("copy tests decided", len(decided), "tests"))
    report.add(Figure("copy tests ended without a clear winner (both ads kept)", len(ended) - len(decided), "tests"))
    if decided:
        report.add(Figure("share keeping the truly better ad", len(kept_better) / len(decided) * 100, "%",
                          limit=100, target=0.9, better=">="))
        report.add(Figure("median duration of a decided test",
                          statistics.median((r["counts"] or {}).get("days_running", 0) for r in decided), "days"))
        for platform in sorted({r["platform"] for r in ended}):
            shares = [_challenger_share(r) for r in ended if r["platform"] == platform]
            known = [s for s in shares if s is not None]
            if known:
                report.add(Figure(f"{platform}: the challenger's median share of its test's impressions",
                                  statistics.median(known) * 100, "%", note=f"{len(known)} tests"))
                report.add(Figure(f"{platform}: ... the lowest share", min(known) * 100, "%"))
            durations = [(r["counts"] or {}).get("days_running", 0) for r in ended if r["platform"] == platform]
            report.add(Figure(f"{platform}: median duration of an ended test", statistics.median(durations), "days"))
        report.add(Figure("median duration of every ended test (no winner included)",
                          statistics.median((r["counts"] or {}).get("days_running", 0) for r in ended), "days"))
        apart = [r for r in decided if abs(r["true_ctrs"][0] / r["true_ctrs"][1] - 1) >= 0.1]
        report.add(Figure("decided tests whose true CTRs differ >= 10%", len(apart), "tests"))
        if apart:
            report.add(Figure("... share of those keeping the truly better ad",
                              sum(1 for r in apart if r in kept_better) / len(apart) * 100, "%"))
        forced = [(r, _kept_at_any_lead(r)) for r in ended if _kept_at_any_lead(r) is not None]
        if forced:
            report.add(Figure("... with final_z 0 (the higher CTR wins at the maximum): share keeping the better ad",
                              sum(1 for r, kept in forced if kept == (r["true_ctrs"][0] > r["true_ctrs"][1]))
                              / len(forced) * 100, "%", note=f"{len(forced)} tests"))
    for platform in calibration_by_platform(rows):
        if platform["coverage"] is not None:
            report.add(Figure(f"{platform['platform']}: observed CTR inside predicted 80% interval",
                              platform["coverage"] * 100, "%", note=f"{platform['tests']} tests"))
            report.add(Figure(f"{platform['platform']}: bias observed - predicted", platform["bias"] * 100,
                              "CTR points", note=f"log {platform['log_bias']:+.3f}"))
    # the same calibration against the launched ad's fresh true CTR: the predictor's own error,
    # without what happens to the ad during its test (fatigue, noise)
    fresh = [{**r, "observed_ctr": r["fresh_true_ctr"]} for r in ended]
    for platform in calibration_by_platform(fresh):
        if platform["coverage"] is not None:
            report.add(Figure(f"{platform['platform']}: fresh true CTR inside predicted 80% interval",
                              platform["coverage"] * 100, "%", note=f"log bias {platform['log_bias']:+.3f}"))
    report.print()
    return report


if __name__ == "__main__":
    main()
