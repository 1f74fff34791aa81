"""The issue-19 figures of the decision-quality bench, on a short backtest and by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from agent.backtesting.arms import run_backtest
from bench.decision_figures import calibrated_cutoff, compute_figures, ideal_test_rejects, render
from connectors.simulator.dynamics import AppliedMutation
from policies.robust_baseline import poisson_cdf


def test_the_ideal_test_is_a_one_sided_poisson_test_at_the_given_false_alarm_rate() -> None:
    # 1000 spent, 100 a conversion: at ROAS 2 it would have 20 conversions; 10 has P(N <= 10) = 1.1%
    assert poisson_cdf(10, 20) == pytest.approx(0.0108, abs=0.0005)
    assert ideal_test_rejects(1000, 10, 1000, 2.0, alpha=0.025, fallback_value_per_conversion=100)
    assert not ideal_test_rejects(1000, 10, 1000, 2.0, alpha=0.01, fallback_value_per_conversion=100)
    # no conversion at all: the account's value per conversion prices the expectation
    assert ideal_test_rejects(1000, 0, 0, 2.0, alpha=0.01, fallback_value_per_conversion=100)


def test_the_ideal_tests_cut_off_allows_it_no_more_false_alarms_than_the_policy_made() -> None:
    above = [0.5, 0.0001, 0.3, 0.002, 0.00005, 0.9, 0.01, 0.2, 0.04, 0.7]  # ten ad sets above target
    # the policy paused one of ten wrongly: the ideal test may reject one, the one with the smallest p
    cutoff = calibrated_cutoff(above, 0.1)
    assert cutoff == 0.0001 and sum(p < cutoff for p in above) == 1
    # none allowed: below the smallest p-value, whatever the nominal level would say
    assert calibrated_cutoff(above, 0.05) == 0.00005
    assert sum(p < calibrated_cutoff(above, 0.3) for p in above) == 3
    assert calibrated_cutoff(above, 1.0) > 1.0  # every ad set may be rejected


def test_figures_of_a_short_backtest_count_churn_and_reversals() -> None:
    report = run_backtest(1, days=16, policies=["underperformers"])
    figures = compute_figures([report])
    assert figures.surplus_median == report.surplus_captured
    assert figures.budget_changes == 0 and figures.reversals == 0  # pauses only
    assert figures.clear_losers == sum(1 for r in report.true_roas_at_oracle_day.values() if r <= 1.0)
    assert 0 <= figures.ideal_matched <= figures.ideal_rejections <= figures.clear_losers
    assert 0 <= figures.nominal_matched <= figures.nominal_rejections <= figures.clear_losers
    # a raise undone by a cut three days later is one reversal among two changes
    holder = "sim-meta-de-c1-s1"
    day = report.start + timedelta(days=8)
    moves = (AppliedMutation("set_budget", "sim-meta-de", holder, {"daily_budget": "100000"}, day),
             AppliedMutation("set_budget", "sim-meta-de", holder, {"daily_budget": "1"}, day + timedelta(days=3)))
    churned = compute_figures([replace(report, agent_mutations=moves)])
    assert (churned.budget_changes, churned.reversals, churned.reversal_share) == (2, 1, 0.5)
    printed = "\n".join(render(churned))
    assert "reversals within 7 days: 1/2 = 50.0%" in printed and "false pauses per 50 ad sets" in printed
    # the 7th day counts as within the week; the 8th does not
    for gap, reversals in ((7, 1), (8, 0)):
        later = (moves[0], replace(moves[1], effective_day=day + timedelta(days=gap)))
        assert compute_figures([replace(report, agent_mutations=later)]).reversals == reversals


def test_each_figure_gets_a_90_percent_interval_over_seeds() -> None:
    report = run_backtest(1, days=16, policies=["underperformers"])
    # two seeds: one with a false pause, one without (the same report, its pause log emptied)
    false_pause = replace(report.pause_log[0], true_roas=5.0) if report.pause_log else None
    assert false_pause is not None
    with_false = replace(report, pause_log=(false_pause,), arms={
        **report.arms, "agent": replace(report.arms["agent"], false_pauses=1)})
    without = replace(report, seed=2, pause_log=(), arms={**report.arms, "agent": replace(report.arms["agent"],
                                                                                          false_pauses=0)})
    figures = compute_figures([with_false, without], resamples=200)
    low, high = figures.intervals["false_pauses_per_50"]
    # resampling two seeds: none, one or two copies of the seed with the false pause
    assert low == pytest.approx(0.0) and high == pytest.approx(50 / report.ad_sets)
    assert low <= figures.false_pauses_per_50 <= high
    assert "[90% interval over seeds 0.00-" in "\n".join(render(figures))
    assert compute_figures([with_false]).intervals == {}  # one seed: no interval
