"""Budget moves stay a margin below the learning threshold, and the guardrail agrees with the policies."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.config import AccountConfig, AgentConfig
from agent.decisions.guardrails import GuardrailContext, check
from agent.settings import GuardrailSettings
from policies import evaluate
from policies.base import Proposal
from policies.budget_limits import bounded_budget, change_limit
from policies.pacing import propose_pacing
from policies.settings import PacingSettings, PolicySettings
from tests.unit.policies.builders import entity, rows, snapshot

NOW = datetime(2024, 6, 20, 12, 0, tzinfo=UTC)


def _limit_violations(proposal: Proposal, entities: dict[str, Any], settings: GuardrailSettings) -> list[str]:
    ctx = GuardrailContext(now=NOW, timezone="UTC", entities=entities, history=[])
    violations = check(kind=proposal.kind, entity_id=proposal.entity_id, change=proposal.change, evidence={},
                       policy=proposal.policy, settings=settings, ctx=ctx)
    return [v.rule for v in violations if v.rule in {"max_budget_change_pct", "max_daily_budget_change_pct"}]


def _amount(currency: str) -> st.SearchStrategy[Decimal]:
    if currency == "JPY":
        return st.integers(min_value=100, max_value=5_000_000).map(Decimal)
    return st.integers(min_value=500, max_value=10_000_000).map(lambda cents: Decimal(cents).scaleb(-2))


def test_pacing_at_its_cap_rounds_toward_the_current_budget_and_passes_the_guardrail() -> None:
    # 342.43 * 1.2 = 410.916: half-up gave 410.92 (20.001%), which the guardrail rejects.
    ad_set = entity("A", budget="342.43")
    heavy_underspend = snapshot([ad_set], rows("A", 60, spend=342.43), monthly_budget=Decimal("30000"))
    (proposal,) = propose_pacing(heavy_underspend, PacingSettings())
    after = Decimal(proposal.change["to"]["daily_budget"])
    assert after == Decimal("409.20")  # 342.43 * 1.195 = 409.20385, rounded down toward 342.43
    assert _limit_violations(proposal, {"A": ad_set}, GuardrailSettings()) == []


def test_the_guardrail_compares_exactly() -> None:
    ad_set = entity("A", budget="342.43")

    def rules(after: str) -> list[str]:
        proposal = Proposal.about("acct", ad_set, kind="set_budget", policy="pacing", rationale="", evidence={},
                                  change={"from": {"daily_budget": "342.43"}, "to": {"daily_budget": after}})
        return _limit_violations(proposal, {"A": ad_set}, GuardrailSettings())

    assert rules("410.92") == ["max_budget_change_pct"]
    assert rules("410.91") == []  # 19.9986%


@settings(max_examples=150, deadline=None)
@given(currency=st.sampled_from(["USD", "JPY"]), data=st.data(),
       factor=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5"), places=6),
       threshold=st.sampled_from([0.1, 0.2, 0.25]), margin=st.sampled_from([0.0, 0.005, 0.01]))
def test_no_bounded_budget_exceeds_the_limit(currency: str, data: st.DataObject, factor: Decimal,
                                             threshold: float, margin: float) -> None:
    before = data.draw(_amount(currency))
    limit = change_limit(threshold, margin)
    after = bounded_budget(before, before * factor, limit, currency)
    assert abs(after - before) <= before * limit
    assert (after - before) * (before * factor - before) >= 0  # same direction, never overshooting
    assert after == after.quantize(Decimal(1) if currency == "JPY" else Decimal("0.01"))


@settings(max_examples=40, deadline=None)
@given(currency=st.sampled_from(["USD", "JPY"]), data=st.data(), over=st.booleans(),
       roas=st.tuples(st.floats(min_value=2.5, max_value=6.0), st.floats(min_value=2.5, max_value=6.0)))
def test_no_proposed_budget_change_exceeds_the_guardrail_at_the_cap(
        currency: str, data: st.DataObject, over: bool, roas: tuple[float, float]) -> None:
    """Pacing pushed to its cap (monthly budget far off) together with reallocation: every budget the
    policies propose passes the account's guardrail, whose limit is the same 20%."""
    budgets = [data.draw(_amount(currency)) for _ in roas]
    entities = [entity(f"h{i}", budget=str(b), currency=currency) for i, b in enumerate(budgets)]
    metric_rows = []
    for i, (budget, ratio) in enumerate(zip(budgets, roas, strict=True)):
        spend = float(budget)
        metric_rows += rows(f"h{i}", 60, spend=spend, conversions=max(ratio * spend / 100, 0.1), value=ratio * spend,
                            currency=currency)
    month = sum(budgets) * (Decimal("5") if not over else Decimal("0.5")) * 30
    account = snapshot(entities, metric_rows, currency=currency, monthly_budget=month)
    guardrails = GuardrailSettings()
    account_config = AccountConfig.model_validate({  # the evidence floor would keep small budgets from a cut
        "id": "acct", "platform": "meta", "currency": currency,
        "policies": {"underperformers": {"evidence_floor_conversions": 0},
                     "budget_churn": {"min_change_amount": "0.01"}}})  # 19.5% of 5.00 is under 1
    policy_settings = AgentConfig.model_validate({"accounts": [account_config.model_dump()]}).policy_settings(
        account_config)
    proposals = [p for p in evaluate(account, policy_settings) if p.kind == "set_budget"]
    assert proposals  # pacing at its cap always moves something
    by_id = {e.entity_id: e for e in entities}
    for proposal in proposals:
        assert _limit_violations(proposal, by_id, guardrails) == [], proposal.change


def test_policy_limits_never_aim_above_the_guardrail() -> None:
    settings = PolicySettings(pacing=PacingSettings(max_change_pct=0.5)).within_change_limit(0.15)
    assert settings.pacing.max_change_pct == 0.15 and settings.reallocation.max_change_pct == 0.15
