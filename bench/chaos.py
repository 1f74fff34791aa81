"""Fault injection at size: SIGKILLs at random points, two processes at once, and write faults.

Measures the product from outside, as it stands in the tree it runs in, and prints counts (not
timings): duplicate side effects, lost actions, stuck actions and cycles, and records that do not
match the platform's own mutation log (definitions in bench/chaos_records.py). It is a
measurement, not a test: it exits 0 whatever the counts, and non-zero only when the harness
itself broke. Figures and the command behind them: docs/reliability.md.

    .venv/bin/python bench/chaos.py --kills 200 --pairs 5 --write-faults 100
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/chaos.py`: import from the repository
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.chaos_kills import HarnessError, World, concurrent_pairs, kill_points  # noqa: E402
from bench.chaos_records import Counts  # noqa: E402
from bench.chaos_writes import write_faults  # noqa: E402
from bench.common import machine, postgres_answers  # noqa: E402

COLUMNS = ("scenario", "database", "injections", "writes", "duplicates", "lost", "stuck actions",
           "stuck cycles", "mismatched")
Table = dict[tuple[str, str], Counts]


def render(results: Table) -> str:
    """The figures as a Markdown table (readable as plain text too)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    total = Counts()
    for (scenario, database), counts in results.items():
        total.add(counts)
        lines.append(_row(scenario, database, counts))
    lines.append(_row("total", "", total))
    return "\n".join(lines)


def _row(scenario: str, database: str, c: Counts) -> str:
    cells = [scenario, database, c.injections, c.writes, c.duplicates, c.lost, c.stuck_actions, c.stuck_cycles,
             c.mismatched]
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=40, help="SIGKILLs that must land, over all databases")
    parser.add_argument("--pairs", type=int, default=3, help="pairs of concurrent `run --once`, per database")
    parser.add_argument("--write-faults", type=int, default=30, help="faulted platform writes (Meta, LinkedIn)")
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"],
                        choices=["sqlite", "postgresql"])
    parser.add_argument("--commands", nargs="+", default=["run", "execute"], choices=["run", "execute"],
                        help="what the kills hit: `run --once` (auto execution), `actions execute` (approved)")
    parser.add_argument("--campaigns", type=int, default=2, help="campaigns per simulated account")
    parser.add_argument("--ad-sets-per-campaign", type=int, default=3)
    parser.add_argument("--history-days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=20261204)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> Table:
    args = parse(argv)
    databases = list(args.databases)
    if "postgresql" in databases and not postgres_answers():
        print("PostgreSQL does not answer (BENCH_PG_URL): SQLite only", flush=True)
        databases.remove("postgresql")
    world = World(args.campaigns, args.ad_sets_per_campaign, args.history_days)
    results: Table = {}
    started = time.monotonic()
    if args.kills > 0:
        results.update(kill_points(args.kills, databases, args.commands, world, args.seed))
        print(f"  kill points done ({time.monotonic() - started:.0f} s)", flush=True)
    if args.pairs > 0:
        results.update(concurrent_pairs(args.pairs, databases, world))
        print(f"  concurrent pairs done ({time.monotonic() - started:.0f} s)", flush=True)
    if args.write_faults > 0:
        results.update(write_faults(args.write_faults, world, args.seed))
        print(f"  write faults done ({time.monotonic() - started:.0f} s)", flush=True)
    print(f"\n== fault injection ({machine()}, {time.monotonic() - started:.0f} s)")
    print(render(results), flush=True)
    return results


if __name__ == "__main__":
    try:
        main()
    except HarnessError as error:
        print(f"chaos bench: the harness broke: {error}", file=sys.stderr)
        sys.exit(2)
