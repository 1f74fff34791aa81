"""Copy per segment through the real cycle: the breakdowns the pull stored reach the copywriter."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from agent.copywriter.language import detect_language
from agent.cycle.run import run_cycle
from agent.storage.action_states import list_actions
from tests.integration.conftest import make_world


def _new_ads(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return [a for a in list_actions(connection) if a["kind"] == "new_ad"]


def test_a_cycle_drafts_copy_for_a_configured_segment_from_stored_breakdowns(engine: Engine,
                                                                            database_url: str) -> None:
    # The offline drafter writes for a segment when it has something specific to it: here its language.
    segment = {"name": "mobile", "description": "People on their phones between two things",
               "dimension": "device", "segment": "mobile", "min_spend_share": 0.01, "language": "de"}
    world = make_world(engine, database_url, defaults={"copywriter": {
        "low_ctr_ratio": 0.99, "low_ctr_min_impressions": 0, "segments": [segment]}})
    run_cycle(world.engine, world.config, world.connectors, world.clock, dry_run=True)  # pull, store, draft
    drafted = _new_ads(world.engine)
    for_segment = [a for a in drafted if (a["evidence"].get("segment") or {}).get("name") == "mobile"]
    assert for_segment, [a["rationale"] for a in drafted]
    action = for_segment[0]
    assert action["state"] == "reported"  # dry run: nothing is created
    delivery = action["evidence"]["segment"]["delivery"]
    assert delivery["impressions"] > 0 and 0 < delivery["spend_share"] < 1  # read from the stored breakdowns
    assert "New copy for segment 'mobile' (device mobile)" in action["rationale"]
    assert action["evidence"]["language"] == "de" and detect_language(action["change"]["to"]["description"]) == "de"
    low, high = action["evidence"]["predicted_ctr"]["interval"]
    assert low < action["evidence"]["predicted_ctr"]["ctr"] < high
