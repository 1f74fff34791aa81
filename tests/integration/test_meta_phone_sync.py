"""A CRM segment synced to a Meta custom audience carries phones as Meta matches them: imported from
a customer list, hashed (digits, no `+`) next to the email, uploaded under the multi-key schema's
PHONE key, removed by the same key once forgotten. A member without marketing consent is never
uploaded, and no request or row holds a clear phone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from agent.audiences.desired import crm_segment_source
from agent.audiences.gate import gate_audience_syncs
from agent.audiences.sync import run_audience_actions
from agent.clock import FixedClock
from agent.customers.privacy import forget
from agent.outcomes.records import sha256_hex
from agent.storage.action_states import get_action, transition
from agent.storage.crm_segments import crm_phone_forms
from connectors.meta.custom_audience_users import MetaAudienceSyncer
from connectors.meta.usage import UsageThrottle
from tests.fakes.audience_http_servers import FakeMetaAudiences
from tests.integration.test_crm_segments import (
    ANN,
    ANN_PHONE,
    BOB,
    CUSTOMERS,
    NOW,
    config_for,
    database_text,
    import_list,
    write,
)

AUDIENCE = "2384"
ANN_DIGITS = sha256_hex("491701234567")  # ANN_PHONE as Meta hashes it
BOB_PHONE = "+44 20 7946 0958"


def sync(engine: Engine, config: Any, syncer: MetaAudienceSyncer, at: Any) -> dict[str, Any]:
    [state] = gate_audience_syncs(engine, config, at, crm_segment_source, account_ids=("shop-meta",)).values()
    action_id = int(state.split("action ")[1].rstrip(")"))
    with engine.begin() as connection:
        transition(connection, action_id, "executing", actor="test", reason="claimed", now=at, expected="approved")
        action = dict(get_action(connection, action_id) or {})
    run_audience_actions(engine, config.account("shop-meta"), syncer, crm_segment_source, [action], FixedClock(at),
                         "test", lambda _outcome: None)
    with engine.connect() as connection:
        return dict(get_action(connection, action_id) or {})


def test_phones_reach_meta_hashed_as_meta_matches_them_and_consent_is_respected(engine: Engine,
                                                                                  tmp_path: Path) -> None:
    config = config_for(engine, accounts=[{
        "id": "shop-meta", "platform": "simulator", "simulate": "meta", "currency": "EUR",
        "credentials": {"access_token": "TOKEN"}, "audiences": {"existing-customers": AUDIENCE}}],
        defaults={"permissions": {"sync_audience": "auto"}})
    # Bob, without marketing consent, has a phone now too: neither his email nor his phone may go
    customers = [CUSTOMERS[0], CUSTOMERS[1].replace(f"{BOB},,", f"{BOB},{BOB_PHONE},")]
    import_list(engine, config, write(tmp_path, "crm.csv", customers))
    with engine.connect() as connection:
        forms = dict(connection.execute(select(crm_phone_forms.c.phone_sha256, crm_phone_forms.c.digits_sha256)).all())
    assert forms[sha256_hex("+491701234567")] == ANN_DIGITS and len(forms) == 2

    with FakeMetaAudiences({AUDIENCE}) as meta:
        syncer = MetaAudienceSyncer(UsageThrottle(lambda _s: None), graph_url=meta.url)
        assert sync(engine, config, syncer, NOW)["state"] == "executed"
        ann_email = sha256_hex("ann.lee@example.com")
        assert meta.members[AUDIENCE] == {ann_email, ANN_DIGITS}  # Bob never uploaded; no E.164 hash
        assert meta.keys[AUDIENCE] == {ann_email: "EMAIL", ANN_DIGITS: "PHONE"}
        everything = database_text(engine) + repr(meta.requests)
        for raw in ("1701234567", "2079460958", ANN.lower(), BOB):
            assert raw not in everything

        forget(engine, config, ANN_PHONE, NOW)  # erased here; removed from Meta by both keys at the next sync
        result = sync(engine, config, syncer, NOW.replace(hour=13))
        assert result["state"] == "executed" and result["result"]["counts"] == {"removed": 2}, result
        assert meta.members[AUDIENCE] == set()
    with engine.connect() as connection:
        assert connection.execute(select(crm_phone_forms.c.phone_sha256)).scalars().all() == [
            sha256_hex("+442079460958")]  # Ann's form went with her
