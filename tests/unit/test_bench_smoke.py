"""Each benchmark runs at a tiny size and prints its figures. No timing is asserted: the figures
mean something only at full size on a known machine (see docs/performance.md)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bench import (
    audience_sync,
    chaos,
    copy_tests,
    crm_segments,
    cycle,
    evaluate,
    ingest,
    memory,
    requests,
    transitions,
    worker_costs,
)
from bench.common import Report

TINY: dict[str, tuple[Callable[[list[str] | None], Report], list[str]]] = {
    "audience_sync": (audience_sync.main, ["--members", "300", "--backends", "sqlite"]),
    "ingest": (ingest.main, ["--sizes", "200", "400", "--days", "10", "--backends", "sqlite"]),
    "evaluate": (evaluate.main, ["--ad-sets", "10", "20", "--days", "30"]),
    "cycle": (cycle.main, ["--accounts", "3", "--latency-ms", "1", "--campaigns", "1",
                           "--ad-sets-per-campaign", "2", "--ads-per-ad-set", "1"]),
    "cycle_steady": (cycle.main, ["--steady", "--fakes", "inline", "--accounts", "3", "--latency-ms", "1", "--campaigns", "1",
                                  "--ad-sets-per-campaign", "1", "--ads-per-ad-set", "1", "--history-days", "7",
                                  "--requests-per-second", "50"]),
    "requests": (requests.main, ["--accounts", "3", "--campaigns", "1", "--ad-sets-per-campaign", "2", "--weeks", "1",
                                 "--every-days", "7",
                                 "--ads-per-ad-set", "1"]),
    "memory": (memory.main, ["--accounts", "2", "4", "--in-flight", "2", "--days", "10", "--campaigns", "1",
                             "--ad-sets-per-campaign", "2", "--ads-per-ad-set", "1", "--sqlite"]),
    "worker_costs": (worker_costs.main, ["--accounts", "3", "--cycle-accounts", "2"]),
    "crm_segments": (crm_segments.main, ["--sizes", "50", "--backends", "sqlite"]),
    "copy_tests": (copy_tests.main, ["--seeds", "1", "--days", "2"]),
    "transitions": (transitions.main, ["--actions", "3", "--rounds", "2"]),
}


@pytest.mark.parametrize("name", sorted(TINY))
def test_benchmark_runs_and_prints_its_figures(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    run, argv = TINY[name]
    report = run(argv)
    printed = capsys.readouterr().out
    assert report.figures, f"{name} measured nothing"
    assert f"== {report.title}" in printed
    for figure in report.figures:
        assert figure.name in printed
        assert figure.value == figure.value  # a number, not NaN


def test_fault_injection_bench_runs_and_prints_its_table(capsys: pytest.CaptureFixture[str]) -> None:
    """Tiny sizes, SQLite only, no concurrent pair (each agent process costs ~2 s of imports). The
    counts are not asserted: they are what the bench measures, and they are not all zero today."""
    results = chaos.main(["--kills", "1", "--commands", "run", "--pairs", "0", "--write-faults", "1",
                          "--databases", "sqlite", "--campaigns", "1", "--ad-sets-per-campaign", "2",
                          "--history-days", "10"])
    printed = capsys.readouterr().out
    assert "== fault injection" in printed
    assert "| scenario | database | injections |" in printed
    assert {scenario for scenario, _ in results} == {"kill: run", "write faults: meta", "write faults: linkedin"}
    assert results[("kill: run", "sqlite")].injections >= 1
    assert sum(c.injections for (scenario, _), c in results.items() if scenario.startswith("write")) >= 1
    for (scenario, database), counts in results.items():
        assert f"| {scenario} | {database} | {counts.injections} |" in printed
