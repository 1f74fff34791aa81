"""Move daily budget from holders with low marginal return to budget-limited holders with high return.

Marginal ROAS of a holder = elasticity x average ROAS. With value = a * spend^b the return on the
next unit of spend is b * value / spend; b comes from a log-log regression of lag-completed daily
value on daily spend, shrunk towards `prior_elasticity` (day-to-day spend rarely varies enough to
identify it alone). Average ROAS is the lag-corrected posterior mean of `roas_evidence`.

A holder that did not spend its budget recently gains nothing from the unused part: that part is
the first money given away (marginal return 0). Only holders that spend at least
`headroom_utilisation` of their budget can receive. Pairs (richest receiver, poorest donor) are
matched greedily while the receiver beats the donor by `min_improvement`; each move respects the
per-change cap, floors and ceilings, and the per-day cap on money moved. The total is conserved
exactly: every cent taken from a donor is given to a receiver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from connectors.records import floor_money, minor_unit
from policies.base import Proposal, Snapshot
from policies.budget_churn import ChurnState, churn_state, smallest_move
from policies.budget_holders import (
    BudgetHolder,
    budget_change,
    budget_holders,
    changed_since,
    changes_in_last_week,
    recent_utilisation,
)
from policies.budget_limits import change_limit
from policies.budget_plan import PLAN_KEY, Leg, plan_evidence, round_legs
from policies.conversion_lag import LagCurve, lag_curve
from policies.marginal_returns import spend_elasticity
from policies.money import money_str
from policies.protection import is_protected
from policies.roas_evidence import (
    ad_set_ids,
    collect_window,
    estimate_value_cv,
    roas_posterior,
    window_bounds,
)
from policies.settings import BudgetChurnSettings, ReallocationSettings

POLICY_NAME = "reallocation"
UNUSED_BUDGET_SLACK = 1.2  # keep 20% above recent spend when giving away unused budget


@dataclass
class _Candidate:
    holder: BudgetHolder
    average_roas: float
    elasticity: float
    utilisation: float | None
    change_cap: Decimal
    floor: Decimal = Decimal(0)  # no cut below: the settings' floor or the evidence floor
    churn: ChurnState = ChurnState(0, False, False)
    delta: Decimal = Decimal(0)
    transfers: list[dict[str, str]] = field(default_factory=list)

    @property
    def marginal_roas(self) -> float:
        return self.elasticity * self.average_roas


def _candidates(snapshot: Snapshot, settings: ReallocationSettings, curve: LagCurve,
                churn: BudgetChurnSettings) -> list[_Candidate]:
    start, end = window_bounds(snapshot.today, settings.window_days)
    account = collect_window(snapshot, ad_set_ids(snapshot), start, end, curve)
    value_cv = estimate_value_cv(snapshot, start, end)
    result: list[_Candidate] = []
    for holder in budget_holders(snapshot):
        entity_id = holder.entity_id
        if is_protected(snapshot, entity_id) or holder.entity.learning:
            continue
        if changes_in_last_week(snapshot, entity_id) >= settings.max_changes_per_week:
            continue
        state = churn_state(snapshot, entity_id, churn)
        if state.saturated(churn):
            continue
        if changed_since(snapshot, entity_id, 3):  # recent delivery reflects the old budget
            continue
        window = collect_window(snapshot, holder.ad_set_ids, start, end, curve)
        if window.spend < settings.min_spend or window.spend <= 0:
            continue
        posterior = roas_posterior(window, account, 1.0, value_cv)
        cap = holder.daily_budget * change_limit(settings.max_change_pct, settings.learning_margin_pct)
        if settings.max_change_amount is not None:
            cap = min(cap, settings.max_change_amount)
        result.append(
            _Candidate(
                holder=holder,
                average_roas=posterior.mean,
                elasticity=spend_elasticity(snapshot, holder, settings.window_days, settings.prior_elasticity, curve),
                utilisation=recent_utilisation(snapshot, holder),
                change_cap=floor_money(cap, snapshot.currency),
                churn=state,
            )
        )
    return result


def _donor_room(candidate: _Candidate, settings: ReallocationSettings, currency: str) -> Decimal:
    budget = candidate.holder.daily_budget
    room = min(candidate.change_cap + candidate.delta, budget + candidate.delta - candidate.floor)
    return floor_money(max(room, Decimal(0)), currency)


def _receiver_room(candidate: _Candidate, settings: ReallocationSettings, currency: str) -> Decimal:
    room = candidate.change_cap - candidate.delta
    if settings.max_daily_budget is not None:
        room = min(room, settings.max_daily_budget - candidate.holder.daily_budget - candidate.delta)
    return floor_money(max(room, Decimal(0)), currency)


def _unused_budget(candidate: _Candidate, settings: ReallocationSettings) -> Decimal:
    """Budget above recent spend (with slack) that a non-limited holder does not use."""
    if candidate.utilisation is None or candidate.utilisation >= settings.headroom_utilisation:
        return Decimal(0)
    used = candidate.holder.daily_budget * Decimal(str(candidate.utilisation)) * Decimal(str(UNUSED_BUDGET_SLACK))
    return max(candidate.holder.daily_budget - used, Decimal(0))


def _plan(candidates: list[_Candidate], settings: ReallocationSettings, snapshot: Snapshot,
          churn: BudgetChurnSettings) -> Decimal:
    """Greedy transfers between candidates (mutates their deltas); returns the money moved."""
    currency = snapshot.currency
    total_budget = sum((h.daily_budget for h in budget_holders(snapshot)), Decimal(0))
    day_cap = floor_money(total_budget * Decimal(str(settings.max_daily_shift_pct)), currency)
    receivers = sorted(
        (c for c in candidates if c.utilisation is not None and c.utilisation >= settings.headroom_utilisation
         and c.marginal_roas >= settings.min_receiver_marginal_roas),
        key=lambda c: -c.marginal_roas,
    )
    # A donor's unused budget has marginal return 0; its used budget returns its marginal ROAS.
    tranches: list[tuple[float, _Candidate, Decimal | None]] = []
    for candidate in candidates:
        unused = _unused_budget(candidate, settings)
        if unused > 0:
            tranches.append((0.0, candidate, unused))
        tranches.append((candidate.marginal_roas, candidate, None))
    tranches.sort(key=lambda t: (t[0], t[1].holder.entity_id))
    moved = Decimal(0)
    smallest = max(settings.min_change_amount, minor_unit(currency))
    for receiver in receivers:
        # Rooms only shrink (a donor's delta only falls, a receiver's only rises, `moved` only
        # grows), so a side that cannot give or take `smallest` never will again: dropping such
        # tranches and stopping early keeps the result identical and the loop linear, not
        # receivers x tranches. A receiver that has already given money takes none.
        if day_cap - moved < smallest:
            break
        if receiver.delta < 0:
            continue
        live: list[tuple[float, _Candidate, Decimal | None]] = []
        scanned = len(tranches)
        for position, tranche in enumerate(tranches):
            donor_roas, donor, tranche_limit = tranche
            if donor.delta > 0 or _donor_room(donor, settings, currency) < smallest or (
                    tranche_limit is not None and floor_money(tranche_limit + donor.delta, currency) < smallest):
                continue  # exhausted (or now a receiver) for good
            live.append(tranche)
            if donor is receiver:
                continue
            if receiver.marginal_roas < donor_roas * (1 + settings.min_improvement) or receiver.marginal_roas <= 0:
                scanned = position + 1
                break
            reversal = receiver.churn.recently_cut or donor.churn.recently_raised
            if reversal and (tranche_limit is not None
                             or receiver.marginal_roas < donor_roas * (1 + churn.decisive_improvement)):
                # Undoing last week's move needs the evidence to have flipped decisively; budget left
                # unused is no such evidence (delivery takes days to follow a raise, and any receiver
                # beats its zero return, so it would undo every recent raise that is not spent yet).
                continue
            if _receiver_room(receiver, settings, currency) < smallest:
                scanned = position + 1
                break
            amount = min(_donor_room(donor, settings, currency), _receiver_room(receiver, settings, currency),
                         day_cap - moved)
            if tranche_limit is not None:
                amount = min(amount, floor_money(tranche_limit + donor.delta, currency))
            material = max(settings.min_change_amount,
                           smallest_move(donor.holder.daily_budget, churn) if donor.delta == 0 else Decimal(0),
                           smallest_move(receiver.holder.daily_budget, churn) if receiver.delta == 0 else Decimal(0))
            if amount <= 0 or amount < material:
                continue
            donor.delta -= amount
            receiver.delta += amount
            moved += amount
            note = {"amount": money_str(amount, currency), "marginal_roas_from": f"{donor_roas:.3f}",
                    "marginal_roas_to": f"{receiver.marginal_roas:.3f}"}
            donor.transfers.append({"to": receiver.holder.entity_id, **note})
            receiver.transfers.append({"from": donor.holder.entity_id, **note})
        if len(live) < scanned:
            tranches[:scanned] = live  # only the scanned part can hold exhausted tranches
    return moved


def _fund_increases(candidates: list[_Candidate], settings: ReallocationSettings, snapshot: Snapshot,
                    churn: BudgetChurnSettings) -> None:
    """With `allow_total_increase`, raise strong budget-limited holders without a donor, within a pool."""
    currency = snapshot.currency
    total_budget = sum((h.daily_budget for h in budget_holders(snapshot)), Decimal(0))
    pool = floor_money(total_budget * Decimal(str(settings.max_total_increase_pct)), currency)
    for receiver in sorted(candidates, key=lambda c: -c.marginal_roas):
        if receiver.delta < 0 or receiver.utilisation is None or receiver.utilisation < settings.headroom_utilisation:
            continue
        if receiver.marginal_roas < settings.min_receiver_marginal_roas:
            break
        amount = min(_receiver_room(receiver, settings, currency), pool)
        material = max(settings.min_change_amount,
                       smallest_move(receiver.holder.daily_budget, churn) if receiver.delta == 0 else Decimal(0))
        if amount < material or amount <= 0 or receiver.churn.recently_cut:
            continue
        receiver.delta += amount
        pool -= amount
        receiver.transfers.append({"from": "new budget", "amount": money_str(amount, currency),
                                   "marginal_roas_to": f"{receiver.marginal_roas:.3f}"})


def _rationale(candidate: _Candidate, before: Decimal, after: Decimal, currency: str, window: str) -> str:
    direction = "Raise" if candidate.delta > 0 else "Lower"
    partners = ", ".join(t.get("to") or t.get("from") or "" for t in candidate.transfers)
    funded = any(t.get("from") == "new budget" for t in candidate.transfers)
    total = "the account's total daily budget grows (allowed by settings)" if funded else (
        "the account's total daily budget is unchanged")
    return (
        f"{direction} the daily budget from {money_str(before, currency)} to {money_str(after, currency)} "
        f"{currency}: marginal ROAS {candidate.marginal_roas:.2f} (elasticity {candidate.elasticity:.2f} x average "
        f"ROAS {candidate.average_roas:.2f} over {window}), {(candidate.utilisation or 0.0):.0%} of the budget "
        f"spent recently; money moved {'from' if candidate.delta > 0 else 'to'} {partners}; {total}."
    )


def _leg(candidate: _Candidate, settings: ReallocationSettings) -> Leg:
    """The candidate's part of the plan, with the budgets its caps allow."""
    before = candidate.holder.daily_budget
    highest = before + candidate.change_cap if candidate.delta > 0 else before
    if candidate.delta > 0 and settings.max_daily_budget is not None:
        highest = min(highest, settings.max_daily_budget)
    lowest = before if candidate.delta > 0 else max(before - candidate.change_cap, candidate.floor)
    return Leg(candidate.holder.entity_id, before, before + candidate.delta, lowest, highest)


def propose_reallocations(
    snapshot: Snapshot, settings: ReallocationSettings, curve: LagCurve | None = None,
    evidence_floor: Decimal = Decimal(0), churn: BudgetChurnSettings | None = None,
) -> list[Proposal]:
    """set_budget proposals moving money towards the highest marginal return; the total is conserved.
    The proposals are the legs of one plan (`evidence["plan"]`, policies/budget_plan.py): they run
    together or not at all. No budget is cut below `min_daily_budget` nor `evidence_floor`."""
    if not settings.enabled:
        return []
    curve = curve or lag_curve(snapshot)
    churn = churn or BudgetChurnSettings()
    candidates = _candidates(snapshot, settings, curve, churn)
    for candidate in candidates:
        candidate.floor = max(settings.min_daily_budget, evidence_floor)
    _plan(candidates, settings, snapshot, churn)
    if settings.allow_total_increase and settings.max_total_increase_pct > 0:
        _fund_increases(candidates, settings, snapshot, churn)
    currency = snapshot.currency
    start, end = window_bounds(snapshot.today, settings.window_days)
    moving = [c for c in candidates if c.delta != 0]
    legs = [_leg(c, settings) for c in moving]
    afters = round_legs(legs, currency)
    if afters is None:  # the rounding residual fits no leg's caps: better no plan than a broken total
        return []
    plan = plan_evidence(snapshot.account_id, snapshot.today, currency, legs, afters)
    proposals: list[Proposal] = []
    for candidate in moving:
        entity = candidate.holder.entity
        before = candidate.holder.daily_budget
        after = afters[entity.entity_id]
        proposals.append(
            Proposal.about(
                snapshot.account_id, entity,
                kind="set_budget",
                policy=POLICY_NAME,
                change=budget_change(before, after, currency),
                rationale=_rationale(candidate, before, after, currency, f"{start}..{end}"),
                evidence={
                    "window": [start.isoformat(), end.isoformat()],
                    "marginal_roas": round(candidate.marginal_roas, 4),
                    "average_roas": round(candidate.average_roas, 4),
                    "elasticity": round(candidate.elasticity, 4),
                    "budget_utilisation": None if candidate.utilisation is None else round(candidate.utilisation, 4),
                    "transfers": candidate.transfers,
                    "max_change": money_str(candidate.change_cap, currency),
                    "floor": money_str(candidate.floor, currency),
                    "test": "greedy marginal-ROAS matching, elasticity by shrunk log-log regression",
                    PLAN_KEY: plan,
                },
            )
        )
    return proposals
