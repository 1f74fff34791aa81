"""Randomized holdouts of the agent's own actions: which proposals may be held out, and the draw.

Pure: the caller passes the seed material (account, entity, kind, the moment of the draw) and the
share; the same inputs always give the same arm, so anyone can re-derive a recorded assignment.

Actions that guard spend are never held out: holding back a pause of runaway spend, or a budget cut
that stops a month overshooting its cap, to measure it would cost real money for a known answer.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any

from policies.base import Proposal

TREATED = "treated"
HELD_OUT = "held_out"
ARMS = (TREATED, HELD_OUT)
# the unit of randomization: each entity draws its own arm, or a campaign draws one arm for all its entities
ENTITY = "entity"
CAMPAIGN = "campaign"
UNITS = (ENTITY, CAMPAIGN)
# policies whose proposals guard spend, whatever their kind
SPEND_GUARD_POLICIES = frozenset({"anomalies"})


@dataclass(frozen=True)
class Draw:
    """One recorded assignment: the seed, the uniform number it gave, the share, and the arm."""

    seed: int
    uniform: float
    share: float
    arm: str


def draw_seed(base_seed: int, account_id: str, entity_id: str, kind: str, drawn_at: str, unit: str = ENTITY) -> int:
    """A 63-bit seed from the configured base seed and what identifies the draw: for a campaign's draw,
    `entity_id` is the campaign's id (and the unit is part of the material, so a campaign's draw
    never coincides with an entity draw of the same id)."""
    prefix = "" if unit == ENTITY else f"{unit}:"
    material = f"{base_seed}:{account_id}:{prefix}{entity_id}:{kind}:{drawn_at}".encode()
    return int.from_bytes(hashlib.sha256(material).digest()[:8], "big") >> 1


def draw_arm(seed: int, share: float) -> Draw:
    """Held out with probability `share`, else treated; the same seed always gives the same arm."""
    uniform = random.Random(seed).random()
    return Draw(seed=seed, uniform=uniform, share=share, arm=HELD_OUT if uniform < share else TREATED)


def _over_cap_pacing(evidence: Any) -> bool:
    if not isinstance(evidence, dict):
        return False
    try:
        return float(evidence.get("variance_pct", 0)) > 0
    except (TypeError, ValueError):
        return False


def guards_spend(proposal: Proposal) -> bool:
    """Whether the proposal protects spend: a runaway-spend pause, or pacing that cuts budgets because
    the month is projected over its cap (alone or merged into a reallocation)."""
    if proposal.policy in SPEND_GUARD_POLICIES:
        return True
    evidence = dict(proposal.evidence)
    if "pacing" in proposal.policy.split("+"):
        return _over_cap_pacing(evidence.get("pacing", evidence)) or _over_cap_pacing(evidence)
    return False
