"""`POST /outcomes` on the real app: signed deliveries only, each accepted once, same rules as a file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from agent.auth.tokens import new_secret
from agent.auth.webhooks import WebhookSignature
from agent.config import parse_config
from agent.outcomes.models import Attribution, Outcome
from agent.outcomes.webhook import BODY_LIMIT, PATH, outcome_routes
from agent.runtime.server import ServiceStatus, build_app
from agent.storage import store
from connectors.records import Entity
from connectors.simulator.click_ids import SimulatedClick, encode_click_id
from tests.integration.conftest import small_config

SECRET = new_secret()
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
GCLID = encode_click_id(SimulatedClick("shop-search", "s-c1", "s-as1", date(2026, 11, 20), 1))
RECORDS = {"records": [
    {"crm_id": "w1", "stage": "lead", "stage_at": "2026-11-21T09:00:00Z", "gclid": GCLID, "email": "W1@Example.com"},
    {"crm_id": "w1", "stage": "opportunity", "stage_at": "2026-11-22", "amount": 9000, "currency": "USD"},
    {"crm_id": "w2", "stage": "promoted", "stage_at": "2026-11-22"},
]}


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    raw = small_config(engine.url.render_as_string(hide_password=False),
                       outcomes={"webhook_secret": SECRET}, service={"api_tokens": {"ops": new_secret()}})
    config = parse_config(raw, environ={})
    app = build_app(engine, config, ServiceStatus(), extra_routes=outcome_routes(engine, config, lambda: NOW),
                    signed_paths={PATH: BODY_LIMIT}, now=lambda: NOW)
    with TestClient(app) as test_client:
        yield test_client


def signed(body: bytes, secret: str = SECRET, at: datetime = NOW) -> dict[str, str]:
    return {**WebhookSignature(secret).headers_for(body, at), "Content-Type": "application/json"}


def count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(Outcome)).scalar_one())


def test_a_signed_delivery_is_imported_with_its_rejected_records_listed(client: TestClient, engine: Engine) -> None:
    body = json.dumps(RECORDS).encode()
    answer = client.post(PATH, content=body, headers=signed(body))
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["inserted"], result["attribution"]) == (2, {"click_id": 2})
    assert result["rejected"] == [{"record": 3, "reason": "unknown stage 'promoted' (one of lead, mql, sql, "
                                                          "opportunity, won, lost)"}]
    with engine.connect() as connection:
        assert connection.execute(select(Attribution.ad_set_id).distinct()).scalars().all() == ["s-as1"]
        assert "w1@example.com" not in str(connection.execute(select(Outcome.__table__)).all())


def test_the_same_delivery_again_is_refused_as_a_replay(client: TestClient, engine: Engine) -> None:
    body = json.dumps(RECORDS).encode()
    headers = signed(body)
    assert client.post(PATH, content=body, headers=headers).status_code == 200
    replay = client.post(PATH, content=body, headers=headers)
    assert replay.status_code == 409 and "replay" in replay.text
    # the same records sent again as a new delivery (new timestamp, new signature) change nothing
    again = client.post(PATH, content=body, headers=signed(body, at=NOW + timedelta(seconds=5)))
    assert again.status_code == 200 and (again.json()["inserted"], again.json()["unchanged"]) == (0, 2)
    assert count(engine) == 2


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer whatever"},
    "wrong-secret",
    "stale",
    "other-body",
])
def test_unsigned_or_badly_signed_deliveries_are_refused_and_write_nothing(
        client: TestClient, engine: Engine, headers: object) -> None:
    body = json.dumps(RECORDS).encode()
    if headers == "wrong-secret":
        headers = signed(body, secret=new_secret())
    elif headers == "stale":
        headers = signed(body, at=NOW - timedelta(minutes=10))
    elif headers == "other-body":
        headers = signed(b'{"records": []}')
    answer = client.post(PATH, content=body, headers=headers)  # type: ignore[arg-type]
    assert answer.status_code == 401
    assert count(engine) == 0


def test_a_delivery_of_only_bad_records_writes_nothing(client: TestClient, engine: Engine) -> None:
    body = json.dumps({"records": [{"crm_id": "", "stage": "lead", "stage_at": "2026-11-01"}, 7]}).encode()
    answer = client.post(PATH, content=body, headers=signed(body))
    assert answer.status_code == 422
    assert answer.json()["rejected"] == [{"record": 1, "reason": "crm_id is empty"},
                                         {"record": 2, "reason": "not a JSON object"}]
    assert count(engine) == 0
    for bad in (b"not json", b'{"rows": []}', b"[]"):
        assert client.post(PATH, content=bad, headers=signed(bad)).status_code == 400


def test_without_a_webhook_secret_there_is_no_unauthenticated_route(engine: Engine) -> None:
    config = parse_config(small_config(engine.url.render_as_string(hide_password=False)), environ={})
    assert outcome_routes(engine, config, lambda: NOW) == []
    app = build_app(engine, config, ServiceStatus(), now=lambda: NOW)
    with TestClient(app) as test_client:
        assert test_client.post(PATH, content=b"{}").status_code == 401


def test_a_later_delivery_that_maps_a_click_id_attributes_the_earlier_record(engine: Engine) -> None:
    with engine.begin() as connection:
        store.upsert_entities(connection, [
            Entity("simulator", "shop-search", "campaign", "s-c1", None, "c", "ACTIVE", "USD"),
            Entity("simulator", "shop-search", "ad_set", "s-as1", "s-c1", "a", "ACTIVE", "USD"),
        ], NOW)
    raw = small_config(engine.url.render_as_string(hide_password=False), outcomes={
        "webhook_secret": SECRET, "utm_templates": {"shop-search": {"utm_source": "google", "utm_content": "{ad_set_id}"}}})
    config = parse_config(raw, environ={})
    app = build_app(engine, config, ServiceStatus(), extra_routes=outcome_routes(engine, config, lambda: NOW),
                    signed_paths={PATH: BODY_LIMIT}, now=lambda: NOW)
    won_only = {"records": [{"crm_id": "deal-7", "stage": "won", "stage_at": "2026-11-20", "amount": 700,
                             "currency": "USD", "gclid": "Cj0KCQ-real"}]}
    lead = {"records": [{"crm_id": "form-7", "stage": "lead", "stage_at": "2026-11-02", "gclid": "Cj0KCQ-real",
                         "utm_source": "google", "utm_content": "s-as1"}]}
    with TestClient(app) as test_client:
        for payload in (won_only, lead):
            body = json.dumps(payload).encode()
            assert test_client.post(PATH, content=body, headers=signed(body)).status_code == 200
    with engine.connect() as connection:
        rows = connection.execute(select(Outcome.crm_id, Attribution.method, Attribution.ad_set_id)
                                  .join(Attribution, Attribution.outcome_id == Outcome.id).order_by(Outcome.crm_id))
        assert [tuple(row) for row in rows] == [("deal-7", "click_id", "s-as1"), ("form-7", "click_id", "s-as1")]
