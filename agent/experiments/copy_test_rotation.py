"""Even ad rotation for a Google ad group while a copy test runs in it, and the advertiser's rotation
given back after.

Google serves the ads of an ad group by its ad rotation: `OPTIMIZE` (the default) gives the ad it
expects to do better most of the impressions, so a new ad can be starved for weeks before a test
has read enough of it; `ROTATE_FOREVER` serves them evenly. While a test is open in an ad group whose
rotation is `OPTIMIZE`, `plan_rotation` proposes `set_ad_rotation` to `ROTATE_FOREVER` (policy
`copy_test`, permission `set_ad_rotation`, one proposal per ad group however many tests it holds).
Once no test is open there, the rotation the agent changed is proposed back to what it was. Both are
ordinary proposals: gated, re-checked against the live ad group right before the write (a rotation a
person changed in between is not overwritten), recorded and undoable.

Asked again each cycle until it executes, like a launch; not asked again for the same test once a
person refused it or undid it. Nothing is given back that the agent did not change, nor a rotation a
person has since set otherwise. Meta and LinkedIn have no such setting: their ads share delivery as
the platform decides (docs/experiments.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping

from agent.experiments import copy_test_store as store
from agent.storage.action_states import as_utc
from connectors.records import OPTIMIZE, ROTATE_FOREVER
from policies.base import Proposal, Snapshot

KIND = "set_ad_rotation"
PLATFORM = "google_ads"
RETRIED = frozenset({"failed", "superseded", "expired"})  # never applied: asked again


def plan_rotation(connection: Connection, snapshot: Snapshot, open_tests: Iterable[Mapping[Any, Any]],
                  even_rotation: bool) -> list[Proposal]:
    """This cycle's rotation proposals for the account of `snapshot`. `open_tests`: the tests open
    after this cycle's own moves (ad set id, status, created_at)."""
    if snapshot.platform != PLATFORM:
        return []
    testing: dict[str, datetime] = {}
    for test in open_tests:
        created = as_utc(test["created_at"])
        testing[test["ad_set_id"]] = min(created, testing.get(test["ad_set_id"], created))
    if not testing and not any(e.attributes.get("ad_rotation") == ROTATE_FOREVER for e in snapshot.entities.values()
                               if e.level == "ad_set"):
        return []  # no test, nothing rotating evenly: nothing to ask or give back (most cycles)
    latest = store.latest_actions_of_kind(connection, snapshot.account_id, KIND)
    proposals = []
    for ad_set_id, since in sorted(testing.items()):
        ad_set = snapshot.entities.get(ad_set_id)
        if even_rotation and ad_set is not None and ad_set.attributes.get("ad_rotation") == OPTIMIZE \
                and _may_ask(latest.get(ad_set_id), since):
            proposals.append(_proposal(snapshot, ad_set_id, OPTIMIZE, ROTATE_FOREVER, "while the copy test runs"))
    for ad_set_id, action in sorted(latest.items()):
        ad_set = snapshot.entities.get(ad_set_id)
        if ad_set_id not in testing and ad_set is not None and ad_set.attributes.get("ad_rotation") == ROTATE_FOREVER \
                and _restore_due(action):
            proposals.append(_proposal(snapshot, ad_set_id, ROTATE_FOREVER, OPTIMIZE, "the copy tests here are over"))
    return proposals


def _restore_due(action: RowMapping) -> bool:
    """Whether the optimized rotation is to be (re)proposed after the tests, given the ad group's
    newest rotation action: the agent's even rotation executed, or its proposal to give the rotation
    back still waiting for a person or never applied. Not after a person refused that, nor when a
    person set the rotation (an undo, or a change of their own)."""
    if action["policy"] != store.POLICY:
        return False
    change = action["change"]
    after, before = (change.get("to") or {}).get("ad_rotation"), (change.get("from") or {}).get("ad_rotation")
    if after == ROTATE_FOREVER:
        return bool(action["state"] == "executed" and before == OPTIMIZE)
    return after == OPTIMIZE and (action["state"] == "pending_approval" or action["state"] in RETRIED)


def _may_ask(action: RowMapping | None, since: datetime) -> bool:
    """Whether even rotation may be (re)proposed for a test open since `since`: no rotation action on
    the ad group since then, one that never applied, or one waiting for a person (a pending question
    stays asked). Not while one is on its way, nor after a person refused it or set the rotation back."""
    if action is None or as_utc(action["created_at"]) < since or action["state"] in RETRIED:
        return True
    return action["policy"] == store.POLICY and action["state"] == "pending_approval"


def _proposal(snapshot: Snapshot, ad_set_id: str, before: str, after: str, why: str) -> Proposal:
    ad_set = snapshot.entities[ad_set_id]
    if after == ROTATE_FOREVER:
        rationale = (f"Rotate the ads of {ad_set.name!r} evenly {why}: with optimized rotation Google serves "
                     "the ad it expects to do better most of the impressions, and the new ad's test reads slowly. "
                     "The rotation is set back to optimized when the ad group's copy tests are over.")
    else:
        rationale = (f"Set the ad rotation of {ad_set.name!r} back to optimized: {why}, and the agent had "
                     "set it to even rotation for them.")
    return Proposal(
        kind=KIND, policy=store.POLICY, account_id=snapshot.account_id, entity_id=ad_set_id,
        entity_level="ad_set", entity_name=ad_set.name,
        change={"from": {"ad_rotation": before}, "to": {"ad_rotation": after}},
        rationale=rationale,
        evidence={"ad_rotation": {"live": before, "wanted": after, "reason": why}},
    )
