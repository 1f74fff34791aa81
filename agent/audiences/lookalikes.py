"""Lookalike audiences seeded by synced high-value segments (Meta): the `create_lookalike` action.

Proposed once per configured seed (account `lookalikes: {segment: {country, ratio}}`) when the
segment's synced audience holds at least 100 members (Meta's smallest seed) and no lookalike of
that seed, country and ratio exists yet. Creating is not idempotent: the intent is recorded
(`creating`, with a deterministic name) before the request; an attempt whose answer was lost is
settled by looking the name up on the platform before anything is created again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from agent.audiences.proposals import platform_of
from agent.audiences.sync import target_for
from agent.config import AccountConfig
from agent.storage.audience_ledger import held_count, lookalike_of, settle_lookalike, start_lookalike
from connectors.audience_members import LookalikeAnswer, LookalikeCreator, LookalikeRequest
from policies.base import Proposal

log = logging.getLogger(__name__)
LOOKALIKE_KIND = "create_lookalike"
MIN_SEED_MEMBERS = 100  # Meta: a seed needs at least 100 people


def lookalike_name(segment: str, country: str, ratio: str) -> str:
    return f"paid-media-agent lookalike of {segment} ({country}, {ratio})"


def lookalike_proposals(engine: Engine, account: AccountConfig) -> list[Proposal]:
    """A `create_lookalike` proposal per configured seed that is ready and has none yet."""
    proposals: list[Proposal] = []
    if not account.lookalikes or platform_of(account) != "meta":
        return proposals
    with engine.connect() as connection:
        for segment, spec in sorted(account.lookalikes.items()):
            seed, ratio = account.audiences[segment], format(spec.ratio, "f")
            existing = lookalike_of(connection, account.id, seed, spec.country, ratio)
            if existing is not None and existing["state"] in ("created", "rejected"):
                continue  # made; or refused, as `audiences status` shows (a new ratio or country is a new seed)
            members = held_count(connection, account.id, seed)
            if members < MIN_SEED_MEMBERS:
                continue
            proposals.append(Proposal(
                kind=LOOKALIKE_KIND, policy="audience_sync", account_id=account.id, entity_id=seed,
                entity_level="account", entity_name=f"{segment} audience",
                change={"from": {}, "to": {"segment": segment, "seed_audience_id": seed, "country": spec.country,
                                           "ratio": ratio, "name": lookalike_name(segment, spec.country, ratio)}},
                rationale=(f"seed a lookalike audience in {spec.country} ({float(spec.ratio):.0%} most similar) "
                           f"with the {members} synced members of segment {segment!r}"),
                evidence={"seed_members": members, "resume_unanswered": existing is not None}))
    return proposals


def create_lookalike(engine: Engine, action: Mapping[str, Any], account: AccountConfig, creator: LookalikeCreator,
                     now: datetime, guard: Callable[[], None] = lambda: None) -> tuple[str, str]:
    """Create the action's lookalike once; (the action's final state, the reason)."""
    to = action["change"].get("to", {})
    request = LookalikeRequest(str(to["name"]), str(to["seed_audience_id"]), str(to["country"]), str(to["ratio"]))
    target = target_for(account, request.seed_audience_id)
    key = (account.id, request.seed_audience_id, request.country, request.ratio)
    with engine.connect() as connection:
        row = lookalike_of(connection, *key)
    if row is not None and row["state"] == "created":
        return "executed", f"lookalike {row['lookalike_id']} already exists"
    if row is not None and row["state"] == "creating":  # an earlier attempt went unanswered: look before creating
        try:
            found = creator.find(target, request)
        except Exception as error:  # cannot tell: create nothing until it can
            return "executed", f"no answer looking up an earlier attempt ({type(error).__name__}); tried again later"
        if found is not None:
            with engine.begin() as connection:
                settle_lookalike(connection, row["id"], "created", found, None, now)
            return "executed", f"lookalike {found} was created by an earlier attempt whose answer was lost"
    guard()
    with engine.begin() as connection:
        start_lookalike(connection, account_id=account.id, seed_audience_id=request.seed_audience_id,
                        country=request.country, ratio=request.ratio, name=request.name, action_id=action.get("id"),
                        now=now)
        row_id = int((lookalike_of(connection, *key) or {"id": 0})["id"])
    try:
        answer = creator.create(target, request)
    except Exception as error:  # may have been created: found by name before the next attempt
        log.warning("create_lookalike %s: no answer (%s)", request.seed_audience_id, type(error).__name__)
        answer = LookalikeAnswer("unknown", error=f"no answer: {type(error).__name__}")
    if answer.status == "unknown":
        return "executed", (f"{answer.error}; the next attempt looks it up by name before creating anything")
    with engine.begin() as connection:
        settle_lookalike(connection, row_id, answer.status, answer.lookalike_id, answer.error, now)
    if answer.status == "rejected":
        return "failed", answer.error or "refused"
    return "executed", f"created lookalike {answer.lookalike_id} of audience {request.seed_audience_id}"
