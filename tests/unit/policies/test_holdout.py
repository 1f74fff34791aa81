"""Which proposals can be held out, and the seeded draw."""

from __future__ import annotations

from policies.base import Proposal
from policies.holdout import HELD_OUT, TREATED, draw_arm, draw_seed, guards_spend


def proposal(policy: str, kind: str = "pause", evidence: dict[str, object] | None = None) -> Proposal:
    return Proposal(kind=kind, policy=policy, account_id="a", entity_id="e", entity_level="ad_set", entity_name="e",
                    change={}, rationale="r", evidence=evidence or {})


def test_the_draw_is_reproducible_from_its_seed_and_close_to_the_share() -> None:
    seeds = [draw_seed(0, "a", f"e{i}", "pause", "2026-12-01T00:00:00+00:00") for i in range(4000)]
    arms = [draw_arm(seed, 0.1).arm for seed in seeds]
    assert arms == [draw_arm(seed, 0.1).arm for seed in seeds]
    assert 0.08 < arms.count(HELD_OUT) / len(arms) < 0.12
    assert {draw_arm(seed, 0.0).arm for seed in seeds} == {TREATED}


def test_runaway_pauses_and_pacing_over_the_cap_guard_spend() -> None:
    assert guards_spend(proposal("anomalies"))
    assert guards_spend(proposal("pacing", "set_budget", {"variance_pct": 0.2}))
    assert guards_spend(proposal("reallocation+pacing", "set_budget", {"pacing": {"variance_pct": 0.05}}))
    assert not guards_spend(proposal("pacing", "set_budget", {"variance_pct": -0.2}))
    assert not guards_spend(proposal("underperformers"))
    assert not guards_spend(proposal("reallocation", "set_budget"))
