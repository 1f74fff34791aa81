"""CRM segments feed the platform audiences: a customer list imported with `segments import` reaches a
Meta Custom Audience (consenting members only, hashed), and `privacy forget` takes the person out of the
database and, at the next sync, out of the platform's audience."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from agent.audiences.desired import crm_segment_source
from agent.audiences.gate import gate_audience_syncs
from agent.audiences.sync import run_audience_actions
from agent.clock import FixedClock
from agent.config import AgentConfig, parse_config
from agent.customers.importing import import_customer_list
from agent.customers.privacy import forget, identifier_of
from agent.storage.action_states import get_action, transition
from connectors.meta.custom_audience_users import MetaAudienceSyncer
from connectors.meta.usage import UsageThrottle
from tests.fakes.audience_http_servers import FakeMetaAudiences
from tests.integration.conftest import small_config

NOW = datetime(2026, 12, 5, 2, tzinfo=UTC)
AUDIENCE = "2384"
ANN, BOB, CAROL = "Ann.Lee@Example.com", "bob@example.org", "carol@example.net"
CUSTOMERS = ("id,email,amount,currency,last_purchase,marketing_consent\n"
             f"C1,{ANN},2500,USD,2026-11-01,yes\n"
             f"C2,{BOB},300,USD,2026-10-10,no\n"
             f"C3,{CAROL},1200,USD,2026-10-01,yes\n")


def config_for(engine: Engine) -> AgentConfig:
    raw = small_config(engine.url.render_as_string(hide_password=False),
                       segments=[{"name": "customers", "kind": "existing_customers"}])
    for account in raw["accounts"]:
        if account["id"] == "shop-meta":
            account["audiences"] = {"customers": AUDIENCE}
            account["credentials"] = {"access_token": "TOKEN"}
    raw["defaults"] = {"permissions": {"sync_audience": "auto"}}
    return parse_config(raw, environ={})


def sync(engine: Engine, config: AgentConfig, syncer: MetaAudienceSyncer, now: datetime) -> dict[str, Any]:
    """One gated sync of shop-meta's audience, read from the CRM segments, claimed and run as the executor does."""
    states = gate_audience_syncs(engine, config, now, crm_segment_source, account_ids=("shop-meta",))
    [state] = states.values()
    action_id = int(state.split("action ")[1].rstrip(")"))
    with engine.begin() as connection:
        transition(connection, action_id, "executing", actor="test", reason="claimed", now=now, expected="approved")
        action = dict(get_action(connection, action_id) or {})
    run_audience_actions(engine, config.account("shop-meta"), syncer, crm_segment_source, [action], FixedClock(now),
                         "test", lambda _line: None)
    with engine.connect() as connection:
        return dict(get_action(connection, action_id) or {})


def test_a_crm_list_reaches_the_audience_and_a_forgotten_person_leaves_it(engine: Engine, tmp_path: Path) -> None:
    config = config_for(engine)
    path = tmp_path / "customers.csv"
    path.write_text(CUSTOMERS)
    import_customer_list(engine, config, path, "csv", "customers", NOW)
    ann, bob, carol = (identifier_of(e)[1] for e in (ANN, BOB, CAROL))
    with FakeMetaAudiences({AUDIENCE}) as meta:
        syncer = MetaAudienceSyncer(UsageThrottle(lambda _s: None), graph_url=meta.url)
        first = sync(engine, config, syncer, NOW)
        assert (first["state"], first["decision_reason"]) == ("executed", "2 added")
        assert meta.members[AUDIENCE] == {ann, carol}  # Bob gave no marketing consent: never uploaded
        forgotten = forget(engine, config, ANN, NOW)
        assert forgotten is not None
        second = sync(engine, config, syncer, NOW.replace(hour=3))
        assert (second["state"], second["decision_reason"]) == ("executed", "1 removed")
        assert meta.members[AUDIENCE] == {carol}
        assert bob not in repr(meta.requests) and ANN.lower() not in repr(meta.requests)
