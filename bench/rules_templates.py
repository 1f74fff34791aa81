"""Each rule template through `backtest --rules` on many seeds, with and without its evidence clauses:
prints the figures of docs/rules.md, asserts nothing.

    python bench/rules_templates.py [--seeds 10] [--days 30] [--workers 2] [--template NAME ...]
                                    [--out runs.jsonl [--summary]]

Templates are replayed live (their `dry_run` off) on the demo world, scoped to the accounts whose
currency is near the US dollar (the JPY account is left out: template amounts are in account currency),
every kind on auto. Weekend dimming runs with a 36-hour budget cooldown (its Monday restore comes 48
hours after Saturday's cut; the default 72 hours would hold it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

# import from the repository, and keep bench/ itself off the path (bench/requests.py would shadow requests)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from concurrent.futures import ProcessPoolExecutor, as_completed  # noqa: E402

import yaml  # noqa: E402

from agent.backtesting.cycle_arm import backtest_config  # noqa: E402
from agent.backtesting.rules import run_rules_backtest  # noqa: E402
from agent.rules_config import parse_rules  # noqa: E402
from connectors.simulator.world import DEMO_SPECS  # noqa: E402
from policies.rules.schema import Rule, Scope  # noqa: E402
from policies.rules.templates import TEMPLATES, template  # noqa: E402

ACCOUNTS = ["sim-google-us", "sim-meta-de", "sim-linkedin-uk"]


def template_rules(name: str) -> tuple[Rule, ...]:
    rules, problems = parse_rules(yaml.safe_load(template(name).text)["rules"])
    assert not problems, problems
    return tuple(r.model_copy(update={"scope": r.scope.model_copy(update={"accounts": ACCOUNTS})
                                      if isinstance(r.scope, Scope) else r.scope}) for r in rules)


def has_evidence(rules: tuple[Rule, ...]) -> bool:
    return "with_confidence" in "".join(r.model_dump_json(exclude_none=True) for r in rules)


def run(job: tuple[str, int, int, bool]) -> tuple[str, int, bool, dict[str, float]]:
    name, seed, days, evidence = job
    config = backtest_config(DEMO_SPECS)
    if name == "weekend-dimming":
        guardrails = config.defaults.guardrails.model_copy(update={"cooldown_hours": {"default": 72.0,
                                                                                     "set_budget": 36.0}})
        config = config.model_copy(update={"defaults": config.defaults.model_copy(update={"guardrails": guardrails})})
    replay = run_rules_backtest(seed, days, template_rules(name), config=config, evidence=evidence)
    arms = replay.report.arms
    return name, seed, evidence, {
        "none": arms["none"].surplus, "oracle": arms["oracle"].surplus, "agent": arms["agent"].surplus,
        "naive": arms["naive"].surplus, "pauses": arms["agent"].pauses, "false_pauses": arms["agent"].false_pauses,
        "churn": replay.churn, "captured": replay.report.surplus_captured or 0.0,
    }


def table(results: list[tuple[str, int, bool, dict[str, float]]], names: list[str], days: int) -> None:
    seeds = sorted({seed for _, seed, _, _ in results})
    print(f"{len(seeds)} seeds x {days} days, demo world without the JPY account; surplus in USD over the "
          f"{days} days, summed over seeds")
    print("| template | evidence | seeds | rule: surplus vs no agent | naive rule | oracle | captured (median) | "
          "pauses | false pauses | churn (changes / ad set / week) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in names:
        for evidence in (True, False):
            rows = [r for n, _, e, r in results if n == name and e == evidence]
            if not rows:
                continue
            gain = sum(r["agent"] - r["none"] for r in rows)
            oracle = sum(r["oracle"] - r["none"] for r in rows)
            naive = sum(r["naive"] - r["none"] for r in rows)
            label = ("with_confidence" if evidence else "plain") if has_evidence(template_rules(name)) else "no clause"
            print(f"| {name} | {label} | {len(rows)} | {gain:,.0f} | "
                  f"{naive:,.0f} | {oracle:,.0f} | {statistics.median(r['captured'] for r in rows):.0%} | "
                  f"{sum(r['pauses'] for r in rows):.0f} | {sum(r['false_pauses'] for r in rows):.0f} | "
                  f"{statistics.mean(r['churn'] for r in rows):.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--template", action="append", default=[])
    parser.add_argument("--out", type=Path, default=None, help="append each run as a JSON line (resumable)")
    parser.add_argument("--summary", action="store_true", help="only print the table of the runs in --out")
    options = parser.parse_args()
    names = options.template or [t.name for t in TEMPLATES]
    done: list[tuple[str, int, bool, dict[str, float]]] = []
    if options.out is not None and options.out.exists():
        done = [tuple(json.loads(line)) for line in options.out.read_text().splitlines() if line]
    if not options.summary:
        finished = {(n, s, e) for n, s, e, _ in done}
        jobs = [(name, seed, options.days, evidence) for seed in range(1, options.seeds + 1) for name in names
                for evidence in (True, False) if (evidence or has_evidence(template_rules(name)))
                and (name, seed, evidence) not in finished]
        began = time.perf_counter()
        with ProcessPoolExecutor(options.workers) as pool:
            for future in as_completed([pool.submit(run, job) for job in jobs]):
                result = future.result()
                done.append(result)
                if options.out is not None:
                    with options.out.open("a") as file:
                        file.write(json.dumps(result) + "\n")
        print(f"({time.perf_counter() - began:.0f} s)")
    table(done, names, options.days)


if __name__ == "__main__":
    main()
