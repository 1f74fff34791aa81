"""Pipeline surplus on the B2B world by objective: prints the figures, asserts nothing.

    python bench/objectives.py [--seeds 10] [--days 60] [--workers 2] [--objective KIND ...]
    python bench/objectives.py --from-json DIR   # files KIND_SEED.json written by
                                                 # `paid-media-agent backtest --world b2b --json`

For each seed and objective it runs `backtest --world b2b [--objective KIND]` (the agent through
the daemon's cycle, the simulated CRM fed into the outcome store each day) and reports each arm's
pipeline surplus (pipeline - 4.0 x spend, USD, every stage reached): per seed, the median and the
range. `default` is the agent with no objective (platform ROAS where value is reported).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.backtesting.cycle_arm import run_cycle_backtest  # noqa: E402
from agent.backtesting.objectives import backtest_objectives  # noqa: E402

KINDS = ("default", "platform_cpa", "pipeline_roas", "cpql", "platform_roas")


def run_one(kind: str, seed: int, days: int) -> dict[str, Any]:
    objectives = backtest_objectives("b2b", None if kind == "default" else kind, None)
    return run_cycle_backtest(seed, days, world="b2b", objectives=objectives).as_dict()


def _surplus(report: dict[str, Any], arm: str) -> float:
    return float(report["arms"][arm]["pipeline_surplus"])


def table(reports: dict[tuple[str, int], dict[str, Any]]) -> list[str]:
    """Markdown: one row per seed, columns no agent, oracle (platform ROAS) and the agent per objective."""
    kinds = [k for k in KINDS if any(kind == k for kind, _seed in reports)]
    seeds = sorted({seed for _kind, seed in reports})
    columns = ["no agent", *(f"agent, {k}" for k in kinds)]
    lines = ["| seed | " + " | ".join(columns) + " |", "| --- |" + " --- |" * len(columns)]
    by_column: dict[str, list[float]] = {c: [] for c in columns}
    for seed in seeds:
        any_report = next(r for (k, s), r in reports.items() if s == seed)
        cells = {"no agent": _surplus(any_report, "none")}
        for kind in kinds:
            if (kind, seed) in reports:
                cells[f"agent, {kind}"] = _surplus(reports[(kind, seed)], "agent")
        for column, value in cells.items():
            by_column[column].append(value)
        lines.append(f"| {seed} | " + " | ".join(f"{cells[c] / 1000:,.0f}k" if c in cells else "-" for c in columns)
                     + " |")
    lines.append("| median | " + " | ".join(f"{statistics.median(v) / 1000:,.0f}k" if v else "-"
                                            for v in by_column.values()) + " |")
    lines.append("| range | " + " | ".join(f"{min(v) / 1000:,.0f}k to {max(v) / 1000:,.0f}k" if v else "-"
                                           for v in by_column.values()) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--objective", action="append", choices=KINDS)
    parser.add_argument("--from-json", type=Path, default=None)
    args = parser.parse_args()
    reports: dict[tuple[str, int], dict[str, Any]] = {}
    if args.from_json is not None:
        for path in sorted(args.from_json.glob("*_*.json")):
            kind, _, seed = path.stem.rpartition("_")
            if kind in KINDS and seed.isdigit():
                reports[(kind, int(seed))] = json.loads(path.read_text())
    else:
        jobs = [(kind, seed) for kind in (args.objective or ["default", "platform_cpa", "pipeline_roas"])
                for seed in range(1, args.seeds + 1)]
        with ProcessPoolExecutor(args.workers) as pool:
            futures = {job: pool.submit(run_one, job[0], job[1], args.days) for job in jobs}
            reports = {job: future.result() for job, future in futures.items()}
    print("\n".join(table(reports)))


if __name__ == "__main__":
    main()
