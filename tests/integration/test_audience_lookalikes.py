"""`create_lookalike`: a Meta lookalike seeded by a synced segment, gated, created exactly once even
when the answer to the creation is lost."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select

from agent.audiences.gate import gate_audience_syncs
from agent.audiences.lookalikes import lookalike_proposals
from agent.clock import FixedClock
from agent.config import AgentConfig, parse_config
from agent.errors import ConfigError
from agent.execution.executor import execute_approved
from agent.storage.action_states import list_actions
from agent.storage.audience_ledger import audience_lookalikes
from connectors.meta.connector import MetaAccount, MetaConnector, MetaOptions
from connectors.meta.custom_audience_users import MetaAudienceSyncer
from connectors.meta.usage import UsageThrottle
from tests.fakes.audience_http_servers import FakeMetaAudiences
from tests.integration.conftest import small_config
from tests.integration.test_audience_sync import META_AUDIENCE, NOW, Segments, email, run

HIGH_VALUE = frozenset(email(f"vip{i}") for i in range(120))


def config_with_lookalikes(engine: Engine, permission: str = "auto", **meta_account: Any) -> AgentConfig:
    raw = small_config(engine.url.render_as_string(hide_password=False))
    for account in raw["accounts"]:
        account["credentials"] = {"access_token": "TOKEN"}
        if account["id"] == "shop-meta":
            account.update({"platform_account_id": "act_1", "audiences": {"high_value": META_AUDIENCE},
                            "lookalikes": {"high_value": {"country": "DE", "ratio": "0.02"}}, **meta_account})
    raw["defaults"] = {"permissions": {"sync_audience": "auto", "create_lookalike": permission}}
    return parse_config(raw, environ={})


def connector_for(meta: FakeMetaAudiences) -> MetaConnector:
    return MetaConnector([MetaAccount("shop-meta", "act_1", "shop", {"access_token": "TOKEN"})],
                         now=lambda: NOW, options=MetaOptions(graph_url=meta.url))


def lookalike_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [dict(r) for r in connection.execute(select(audience_lookalikes)).mappings()]


def test_a_lookalike_waits_for_a_seed_of_100_then_is_created_once(engine: Engine) -> None:
    config = config_with_lookalikes(engine)
    account = config.account("shop-meta")
    with FakeMetaAudiences({META_AUDIENCE}) as meta:
        assert lookalike_proposals(engine, account) == []  # nothing synced yet: no seed
        run(engine, config, "shop-meta", MetaAudienceSyncer(UsageThrottle(lambda _s: None), graph_url=meta.url),
            Segments(high_value=HIGH_VALUE))
        [proposal] = lookalike_proposals(engine, account)
        assert proposal.evidence["seed_members"] == 120 and proposal.change["to"]["country"] == "DE"
        clock = FixedClock(NOW)
        [state] = gate_audience_syncs(engine, config, NOW, Segments(high_value=HIGH_VALUE),
                                      account_ids=("shop-meta",)).values()
        assert state.startswith("approved")
        execute_approved(engine, {"simulator": connector_for(meta)}, config, clock)
        [made] = meta.lookalikes.values()
        assert (made["origin"], made["country"], made["ratio"]) == (META_AUDIENCE, "DE", 0.02)
        [row] = lookalike_rows(engine)
        assert row["state"] == "created" and row["lookalike_id"] in meta.lookalikes
        assert lookalike_proposals(engine, account) == []
        assert execute_approved(engine, {"simulator": connector_for(meta)}, config, clock).outcomes["executed"] == 0


def test_a_lost_answer_is_settled_by_name_not_created_twice(engine: Engine) -> None:
    config = config_with_lookalikes(engine)
    account = config.account("shop-meta")
    clock = FixedClock(NOW)
    with FakeMetaAudiences({META_AUDIENCE}) as meta:
        run(engine, config, "shop-meta", MetaAudienceSyncer(UsageThrottle(lambda _s: None), graph_url=meta.url),
            Segments(high_value=HIGH_VALUE))
        meta.faults.inject("drop_answer", "meta_lookalike")  # created, then the answer is lost
        gate_audience_syncs(engine, config, NOW, Segments(high_value=HIGH_VALUE), account_ids=("shop-meta",))
        execute_approved(engine, {"simulator": connector_for(meta)}, config, clock)
        assert len(meta.lookalikes) == 1 and lookalike_rows(engine)[0]["state"] == "creating"
        [again] = lookalike_proposals(engine, account)
        assert again.evidence["resume_unanswered"] is True
        later = FixedClock(NOW.replace(hour=3))
        gate_audience_syncs(engine, config, later.now(), Segments(high_value=HIGH_VALUE), account_ids=("shop-meta",))
        execute_approved(engine, {"simulator": connector_for(meta)}, config, later)
        assert len(meta.lookalikes) == 1  # found by its name, not created again
        assert [m for m, path in meta.requests if "customaudiences" in path] == ["POST", "GET"]
        [row] = lookalike_rows(engine)
        assert row["state"] == "created" and row["lookalike_id"] in meta.lookalikes
        with engine.connect() as connection:
            reasons = [a["decision_reason"] for a in list_actions(connection, "executed")
                       if a["kind"] == "create_lookalike"]
        assert any("earlier attempt whose answer was lost" in r for r in reasons)


def test_propose_waits_for_a_person(engine: Engine) -> None:
    config = config_with_lookalikes(engine, permission="propose")
    with FakeMetaAudiences({META_AUDIENCE}) as meta:
        run(engine, config, "shop-meta", MetaAudienceSyncer(UsageThrottle(lambda _s: None), graph_url=meta.url),
            Segments(high_value=HIGH_VALUE))
        states = gate_audience_syncs(engine, config, NOW, Segments(high_value=HIGH_VALUE), account_ids=("shop-meta",))
        assert states[f"shop-meta/{META_AUDIENCE} create_lookalike"].startswith("pending_approval")
        execute_approved(engine, {"simulator": connector_for(meta)}, config, FixedClock(NOW))
        assert meta.lookalikes == {} and lookalike_rows(engine) == []


def test_config_refuses_a_seed_that_is_not_synced_or_not_on_meta(engine: Engine) -> None:
    with pytest.raises(ConfigError, match="the seed must be a synced segment"):
        config_with_lookalikes(engine, audiences={})
    with pytest.raises(ConfigError, match="ratio"):
        config_with_lookalikes(engine, lookalikes={"high_value": {"country": "DE", "ratio": "0.5"}})
    with pytest.raises(ConfigError, match="on Meta only"):
        config_with_lookalikes(engine, simulate="google_ads")
