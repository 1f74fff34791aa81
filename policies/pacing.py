"""Monthly budget pacing: project month-end spend with day-of-week seasonality and correct budgets.

Projection = spent to date + sum over the remaining days (today included) of each budget holder's
de-seasonalised run rate x that weekday's factor. Weekday factors are mean spend per weekday over
mean spend, over recent weeks, shrunk towards 1 when there are few weeks of data. A run rate is the
mean of spend_d / factor(weekday_d) over recent days (only days after the holder's last budget
change), capped at the current budget.

Response model for a budget change: a budget-limited holder (spends >= 90% of its budget) spends in
proportion to its budget; a demand-limited one keeps spending its run rate unless the budget falls
below it. The factor k, applied to every adjustable budget when lowering and to budget-limited
ones when raising (more budget would not be spent by the others), is found by bisection so that the
projection lands on the monthly budget, within +/- (`max_change_pct` - `learning_margin_pct`) per day
(exact Decimal, rounded toward the current budget: policies/budget_limits.py); tomorrow's run
repeats the exercise with fresh data, so the month converges even when one day's cap binds.

Diminishing returns: a raise goes only as far as the holder's marginal ROAS still clears the
target (policies/marginal_returns.py: value = a x spend^b, fitted on the holder's own days). Money
left unspent that way is under-spending by choice: the report says "marginal return below target"
and how much is held back, and tomorrow's run does not chase it.
"""

from __future__ import annotations

import calendar
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from connectors.records import quantize_money
from policies.base import Proposal, Snapshot
from policies.budget_churn import churn_state, smallest_move
from policies.budget_holders import BudgetHolder, budget_change, budget_holders, daily_spend
from policies.budget_limits import bounded_budget, change_limit
from policies.marginal_returns import MAX_WORTHWHILE_FACTOR, ResponseCurve
from policies.money import money_str
from policies.protection import is_protected
from policies.settings import BudgetChurnSettings, PacingSettings

POLICY_NAME = "pacing"
LIMITED_UTILISATION = 0.9
BELOW_TARGET = "marginal return below target"
WEEKDAY_SHRINK_WEEKS = 2.0


@dataclass(frozen=True)
class HolderPace:
    """One budget holder's contribution to the projection."""

    holder: BudgetHolder
    run_rate: Decimal  # de-seasonalised spend per day
    budget_limited: bool
    adjustable: bool
    floor: Decimal = Decimal(0)  # no cut below (the evidence floor)
    may_raise: bool = True  # hysteresis (policies/budget_churn.py): not within days of a cut
    may_lower: bool = True  # ... nor a cut within days of a raise
    smallest_move: Decimal = Decimal(0)  # smaller moves are not made
    worthwhile_factor: float = MAX_WORTHWHILE_FACTOR  # no raise beyond: marginal ROAS below target

    def rate_at(self, budget: Decimal) -> Decimal:
        """Expected de-seasonalised spend per day with `budget` as the daily budget."""
        current = self.holder.daily_budget
        if self.budget_limited and current > 0:
            return self.run_rate * budget / current
        return min(self.run_rate, budget)


@dataclass(frozen=True)
class PacingReport:
    """The weekly pacing report's numbers for one account and month (money in `currency`)."""

    account_id: str
    currency: str
    today: date
    month_start: date
    month_end: date
    monthly_budget: Decimal
    spent_to_date: Decimal
    projected_month_end_spend: Decimal
    variance: Decimal  # projected minus budget: positive means overspend
    variance_pct: float
    days_elapsed: int
    days_remaining: int  # today included
    current_daily_budget: Decimal
    recommended_daily_budget: Decimal
    required_daily_spend: Decimal
    status: str  # "on_track", "over" or "under"
    weekday_factors: tuple[float, ...]
    budget_factor: float  # k applied to adjustable budgets (1.0 when on track)
    held_back: Decimal = Decimal(0)  # projected under-spend chosen because more would not pay
    underspend_reason: str | None = None  # BELOW_TARGET when `held_back` > 0


def _account_daily_spend(snapshot: Snapshot, start: date, end: date) -> dict[date, Decimal]:
    ids = [e.entity_id for e in snapshot.entities.values() if e.level == "ad_set"]
    return daily_spend(snapshot, ids, start, end)


def weekday_factors(snapshot: Snapshot, weeks: int) -> tuple[float, ...]:
    """Mean spend per weekday / mean spend, Monday first, shrunk towards 1 and normalised to mean 1."""
    ad_sets = tuple(e.entity_id for e in snapshot.entities.values() if e.level == "ad_set")
    # Anomalies and pacing both ask, on the same rows: computed once per snapshot.
    return snapshot.index.memo(("weekday_factors", weeks, ad_sets), lambda: _weekday_factors(snapshot, weeks))


def _weekday_factors(snapshot: Snapshot, weeks: int) -> tuple[float, ...]:
    end = snapshot.today - timedelta(days=1)
    spend = _account_daily_spend(snapshot, end - timedelta(days=7 * weeks - 1), end)
    if not spend:
        return (1.0,) * 7
    overall = float(sum(spend.values(), Decimal(0))) / len(spend)
    if overall <= 0:
        return (1.0,) * 7
    factors = []
    for weekday in range(7):
        values = [float(v) for d, v in spend.items() if d.weekday() == weekday]
        raw = (sum(values) / len(values) / overall) if values else 1.0
        factors.append((len(values) * raw + WEEKDAY_SHRINK_WEEKS) / (len(values) + WEEKDAY_SHRINK_WEEKS))
    mean = sum(factors) / 7
    return tuple(f / mean for f in factors)


def _holder_paces(snapshot: Snapshot, settings: PacingSettings, factors: tuple[float, ...],
                  evidence_floor: Decimal, churn: BudgetChurnSettings,
                  returns: Returns | None) -> list[HolderPace]:
    end = snapshot.today - timedelta(days=1)
    start = end - timedelta(days=settings.run_rate_days - 1)
    paces = []
    for holder in budget_holders(snapshot):
        full = daily_spend(snapshot, holder.ad_set_ids, start, end)
        last_change = max((d for d in snapshot.recent_changes.get(holder.entity_id, ()) if d <= end), default=None)
        spend = {d: v for d, v in full.items() if last_change is None or d >= last_change}
        # Changed today: yesterday's delivery still tells whether demand or budget is the limit.
        spend = spend or full
        if spend:
            deseasonalised = sum(float(v) / factors[d.weekday()] for d, v in spend.items()) / len(spend)
            run_rate = min(Decimal(str(round(deseasonalised, 6))), holder.daily_budget)
        else:
            run_rate = holder.daily_budget  # no delivery yet: assume it spends its budget
        limited = holder.daily_budget > 0 and run_rate >= holder.daily_budget * Decimal(str(LIMITED_UTILISATION))
        state = churn_state(snapshot, holder.entity_id, churn)
        adjustable = not is_protected(snapshot, holder.entity_id) and not state.saturated(churn)
        worthwhile = MAX_WORTHWHILE_FACTOR
        if returns is not None:
            response = returns.curves.get(holder.entity_id)
            worthwhile = response.worthwhile_factor(returns.target_roas) if response else 1.0
        paces.append(HolderPace(holder, run_rate, limited, adjustable, evidence_floor, not state.recently_cut,
                                not state.recently_raised, smallest_move(holder.daily_budget, churn), worthwhile))
    return paces


def _new_budget(pace: HolderPace, factor: float, settings: PacingSettings, currency: str) -> Decimal:
    if not pace.adjustable or (factor > 1 and not pace.budget_limited):
        return pace.holder.daily_budget  # more budget would not be spent by a demand-limited holder
    if (factor > 1 and not pace.may_raise) or (factor < 1 and not pace.may_lower):
        return pace.holder.daily_budget
    before = pace.holder.daily_budget
    limit = change_limit(settings.max_change_pct, settings.learning_margin_pct)
    if factor > 1:
        factor = min(factor, pace.worthwhile_factor)  # no spend where the next unit returns too little
    budget = bounded_budget(before, before * Decimal(str(round(factor, 9))), limit, currency)  # 1 - 0.295 in float is 0.70500000000000007
    floor = max(quantize_money(settings.min_daily_budget, currency), pace.floor)
    if budget < before and budget < floor:
        budget = max(min(before, floor), Decimal(0))  # a cut stops at the floor, which never raises a budget
    return before if abs(budget - before) < pace.smallest_move else budget  # else not a material move


def _projected_remaining(paces: list[HolderPace], budgets: list[Decimal], remaining_weight: float) -> Decimal:
    rate = sum((p.rate_at(b) for p, b in zip(paces, budgets, strict=True)), Decimal(0))
    return rate * Decimal(str(remaining_weight))


def _solve_factor(paces: list[HolderPace], settings: PacingSettings, currency: str, needed: Decimal,
                  remaining_weight: float) -> float:
    """The budget factor within the daily cap whose projection is closest to `needed`."""
    limit = float(change_limit(settings.max_change_pct, settings.learning_margin_pct))
    low, high = 1.0 - limit, 1.0 + limit

    def projected(k: float) -> Decimal:
        return _projected_remaining(paces, [_new_budget(p, k, settings, currency) for p in paces], remaining_weight)

    if projected(high) <= needed:
        return high if projected(high) > projected(1.0) else 1.0
    if projected(low) >= needed:
        return low if projected(low) < projected(1.0) else 1.0
    for _ in range(60):
        middle = (low + high) / 2
        if projected(middle) < needed:
            low = middle
        else:
            high = middle
    return low if abs(projected(low) - needed) <= abs(projected(high) - needed) else high


@dataclass(frozen=True)
class Returns:
    """The holders' response curves and the target their marginal ROAS must clear."""

    curves: Mapping[str, ResponseCurve]
    target_roas: float


def _analyse(snapshot: Snapshot, settings: PacingSettings, evidence_floor: Decimal = Decimal(0),
             churn: BudgetChurnSettings | None = None, returns: Returns | None = None,
             ) -> tuple[PacingReport, list[HolderPace], list[Decimal]] | None:
    if snapshot.monthly_budget is None:
        return None
    currency = snapshot.currency
    today = snapshot.today
    month_start = today.replace(day=1)
    month_end = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    spent = sum(_account_daily_spend(snapshot, month_start, today - timedelta(days=1)).values(), Decimal(0))
    factors = weekday_factors(snapshot, settings.seasonality_weeks)
    remaining_days = [today + timedelta(days=i) for i in range((month_end - today).days + 1)]
    remaining_weight = sum(factors[d.weekday()] for d in remaining_days)
    churn = churn or BudgetChurnSettings()
    paces = _holder_paces(snapshot, settings, factors, evidence_floor, churn, returns)
    current = [p.holder.daily_budget for p in paces]
    projected = spent + _projected_remaining(paces, current, remaining_weight)
    budget = snapshot.monthly_budget
    variance = projected - budget
    tolerance = budget * Decimal(str(settings.tolerance_pct))
    factor = 1.0
    recommended = current
    if budget > 0 and abs(variance) >= budget * Decimal(str(churn.decisive_variance_pct)):
        # The month is far off: the evidence has flipped decisively, reversals are allowed.
        paces = [dataclasses.replace(p, may_raise=True, may_lower=True) for p in paces]
    if abs(variance) > tolerance and paces:
        needed = max(budget - spent, Decimal(0))
        factor = _solve_factor(paces, settings, currency, needed, remaining_weight)
        recommended = [_new_budget(p, factor, settings, currency) for p in paces]
    held_back = Decimal(0)
    if variance < -tolerance and returns is not None:
        # what the same plan would spend if returns did not limit it, minus what it will spend
        unlimited = [dataclasses.replace(p, worthwhile_factor=MAX_WORTHWHILE_FACTOR) for p in paces]
        chosen = _projected_remaining(paces, recommended, remaining_weight)
        possible = min(_projected_remaining(unlimited, [_new_budget(p, factor, settings, currency) for p in unlimited],
                                            remaining_weight), max(budget - spent, Decimal(0)))
        held_back = max(possible - chosen, Decimal(0))
    status = "on_track" if abs(variance) <= tolerance else ("over" if variance > 0 else "under")
    report = PacingReport(
        account_id=snapshot.account_id,
        currency=currency,
        today=today,
        month_start=month_start,
        month_end=month_end,
        monthly_budget=budget,
        spent_to_date=quantize_money(spent, currency),
        projected_month_end_spend=quantize_money(projected, currency),
        variance=quantize_money(variance, currency),
        variance_pct=float(variance / budget) if budget > 0 else 0.0,
        days_elapsed=(today - month_start).days,
        days_remaining=len(remaining_days),
        current_daily_budget=quantize_money(sum(current, Decimal(0)), currency),
        recommended_daily_budget=quantize_money(sum(recommended, Decimal(0)), currency),
        required_daily_spend=quantize_money(max(budget - spent, Decimal(0)) / len(remaining_days), currency),
        status=status,
        weekday_factors=tuple(round(f, 4) for f in factors),
        budget_factor=factor,
        held_back=quantize_money(held_back, currency),
        underspend_reason=BELOW_TARGET if held_back > 0 else None,
    )
    return report, paces, recommended


def pacing_report(snapshot: Snapshot, settings: PacingSettings, evidence_floor: Decimal = Decimal(0),
                  churn: BudgetChurnSettings | None = None, returns: Returns | None = None) -> PacingReport | None:
    """The pacing numbers for the account's current month (None without a monthly budget): the
    projection the pacing policy proposes from, given the same arguments."""
    analysis = _analyse(snapshot, settings, evidence_floor, churn, returns)
    return analysis[0] if analysis else None


def projected_with_budgets(snapshot: Snapshot, settings: PacingSettings, budgets: dict[str, Decimal]) -> Decimal:
    """Month-end projection if the holders had `budgets` from today (for checks and tests)."""
    analysis = _analyse(snapshot, settings)
    if analysis is None:
        raise ValueError("the snapshot has no monthly budget to pace against")
    report, paces, _ = analysis
    factors = report.weekday_factors
    weight = sum(factors[(snapshot.today + timedelta(days=i)).weekday()] for i in range(report.days_remaining))
    chosen = [budgets.get(p.holder.entity_id, p.holder.daily_budget) for p in paces]
    return report.spent_to_date + _projected_remaining(paces, chosen, weight)


def propose_pacing(snapshot: Snapshot, settings: PacingSettings) -> list[Proposal]:
    """set_budget proposals that bring the projected month-end spend back to the monthly budget."""
    return propose_pacing_with_report(snapshot, settings)[0]


def propose_pacing_with_report(snapshot: Snapshot, settings: PacingSettings, evidence_floor: Decimal = Decimal(0),
                               churn: BudgetChurnSettings | None = None, returns: Returns | None = None,
                               ) -> tuple[list[Proposal], PacingReport | None]:
    """`propose_pacing` and, when it proposes anything, the `pacing_report` behind it (one analysis).
    No budget is cut below `evidence_floor` (policies/evidence_floor.py), nor raised past the point
    where its marginal ROAS falls below `returns.target_roas` (policies/marginal_returns.py)."""
    if not settings.enabled:
        return [], None
    analysis = _analyse(snapshot, settings, evidence_floor, churn, returns)
    if analysis is None:
        return [], None
    report, paces, recommended = analysis
    if report.status == "on_track":
        return [], None
    currency = snapshot.currency
    proposals = []
    for pace, after in zip(paces, recommended, strict=True):
        before = pace.holder.daily_budget
        if after == before:
            continue
        entity = pace.holder.entity
        proposals.append(
            Proposal.about(
                snapshot.account_id, entity,
                kind="set_budget",
                policy=POLICY_NAME,
                change=budget_change(before, after, currency),
                rationale=(
                    f"The month is projected to end at {money_str(report.projected_month_end_spend, currency)} "
                    f"{currency} against a budget of {money_str(report.monthly_budget, currency)} "
                    f"({report.variance_pct:+.1%}, tolerance {settings.tolerance_pct:.0%}); "
                    f"{money_str(report.spent_to_date, currency)} spent so far with {report.days_remaining} days "
                    f"left. Scaling budgets by {report.budget_factor:.3f}: this one "
                    f"{money_str(before, currency)} -> {money_str(after, currency)} {currency}."
                    + (f" {money_str(report.held_back, currency)} {currency} of the month is left unspent by "
                       f"choice: {BELOW_TARGET} on the other holders." if report.held_back > 0 else "")
                ),
                evidence={
                    "month": report.month_start.strftime("%Y-%m"),
                    "monthly_budget": money_str(report.monthly_budget, currency),
                    "spent_to_date": money_str(report.spent_to_date, currency),
                    "projected_month_end_spend": money_str(report.projected_month_end_spend, currency),
                    "variance_pct": round(report.variance_pct, 4),
                    "days_remaining": report.days_remaining,
                    "budget_factor": round(report.budget_factor, 4),
                    "run_rate": money_str(pace.run_rate, currency),
                    "budget_limited": pace.budget_limited,
                    "weekday_factors": list(report.weekday_factors),
                    "held_back": money_str(report.held_back, currency),
                    "underspend_reason": report.underspend_reason,
                    "test": "day-of-week seasonal run-rate projection vs monthly budget, tolerance band",
                },
            )
        )
    return proposals, (report if proposals else None)
