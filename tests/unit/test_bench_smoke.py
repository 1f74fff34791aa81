"""Each benchmark runs at a tiny size and prints its figures. No timing is asserted: the figures
mean something only at full size on a known machine (see docs/performance.md)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bench import cycle, evaluate, ingest, memory, requests
from bench.common import Report

TINY: dict[str, tuple[Callable[[list[str] | None], Report], list[str]]] = {
    "ingest": (ingest.main, ["--sizes", "200", "400", "--days", "10", "--backends", "sqlite"]),
    "evaluate": (evaluate.main, ["--ad-sets", "10", "20", "--days", "30"]),
    "cycle": (cycle.main, ["--accounts", "3", "--latency-ms", "1", "--campaigns", "1",
                           "--ad-sets-per-campaign", "2", "--ads-per-ad-set", "1"]),
    "requests": (requests.main, ["--accounts", "3", "--campaigns", "1", "--ad-sets-per-campaign", "2",
                                 "--ads-per-ad-set", "1"]),
    "memory": (memory.main, ["--rows", "300", "600", "--rows-per-account", "300"]),
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
