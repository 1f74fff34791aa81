"""bench/cycle_workers.py at its smallest: real Celery worker processes against the local Redis, the
fakes in processes of their own, a cold cycle, then an hourly and a day's first cycle. No figure is asserted but the ones that
must hold at any size: every account ran, no request over a platform's limits."""

from __future__ import annotations

import pytest
import redis

from bench import cycle_workers

BROKER = "redis://127.0.0.1:6379/9"


def test_the_workers_bench_runs_and_prints_its_figures_with_no_limit_violation(
        capsys: pytest.CaptureFixture[str]) -> None:
    try:
        redis.Redis.from_url(BROKER, socket_connect_timeout=3).ping()
    except redis.exceptions.ConnectionError:
        pytest.fail("the workers bench needs Redis at 127.0.0.1:6379 (apt-get install redis-server)", pytrace=False)
    report = cycle_workers.main(["--workers", "1", "--accounts", "3", "--campaigns", "1",
                                 "--ad-sets-per-campaign", "1", "--ads-per-ad-set", "1", "--history-days", "7",
                                 "--latency-ms", "5", "--broker", BROKER])
    printed = capsys.readouterr().out
    assert f"== {report.title}" in printed
    figures = {figure.name: figure for figure in report.figures}
    for name in figures:
        assert name in printed
    for cycle in ("steady cycle vs latency-and-quota bound", "day's first cycle (whole look-back re-read) vs its bound"):
        assert figures[cycle].value > 0 and (figures[cycle].limit or 0) > 0
    for cycle in ("hourly", "day's first"):
        assert figures[f"CPU per account, {cycle} (workers + coordinator) vs bound per account"].value > 0
    assert figures["limit violations (in flight over the cap, over the per-second quota)"].value == 0
    assert figures["accounts failed (cold + steady)"].value == 0
    assert "inputs for projections" in printed
