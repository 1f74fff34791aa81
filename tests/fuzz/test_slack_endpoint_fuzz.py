"""Property: whatever arrives at `POST /slack/interactions`, signed or not, the answer is never a 500.

Inputs: arbitrary bodies and headers, and Slack-shaped payloads with any field replaced by any JSON
value, signed with the real secret (so the payload checks are reached) or not. Bounded in the suite
(FUZZ_MAX_EXAMPLES, default 200); `make fuzz` runs many more.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from agent.approvals import records
from agent.approvals.settings import AccountApprovals, ApprovalSettings, SlackSettings
from agent.approvals.slack import SlackApprovals
from agent.approvals.slack_endpoint import PATH, create_app
from agent.approvals.slack_signature import sign
from agent.storage import db, store
from tests.fakes.slack_server import FakeSlack
from tests.fuzz.settings import FUZZ_EXAMPLES
from tests.integration.conftest import SimWorld, make_world, pause_proposal
from tests.integration.test_slack_approvals import ALICE, META_CHANNEL, SECRET, TOKEN, button_body

MAX_EXAMPLES = FUZZ_EXAMPLES
FIELDS = ["type", "user", "channel", "container", "team", "actions", "trigger_id", "api_app_id"]
ELEMENT_FIELDS = ["action_id", "value", "action_ts", "type", "block_id"]


class Rig:
    def __init__(self, world: SimWorld, http: TestClient, action_id: int) -> None:
        self.world, self.http, self.action_id = world, http, action_id


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'agent.db'}"
    engine = store.make_engine(url)
    db.upgrade(engine)
    records.create_tables(engine)
    fake = FakeSlack(token=TOKEN).start()
    try:
        world = make_world(engine, url)
        settings_ = ApprovalSettings(
            slack=SlackSettings(bot_token=TOKEN, signing_secret=SECRET, base_url=fake.base_url),  # type: ignore[arg-type]
            accounts={"shop-meta": AccountApprovals(slack_channel=META_CHANNEL, slack_approvers=(ALICE,))})
        assert settings_.slack is not None
        app = create_app(engine, world.config, world.clock, settings_, SlackApprovals(engine, settings_.slack),
                         connectors_factory=lambda: world.connectors)
        action_id = world.queue(pause_proposal(world.active_ad_sets("shop-meta")[0]), state="pending_approval")
        with TestClient(app) as http:
            yield Rig(world, http, action_id)
    finally:
        fake.stop()
        engine.dispose()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=10**30, max_value=10**60)
    | st.floats(allow_nan=False) | st.text(max_size=30) | st.sampled_from([ALICE, META_CHANNEL, "approve", "7"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@st.composite
def slack_shaped(draw: st.DrawFn, action_id: int) -> bytes:
    payload = json.loads(parse_qs(button_body(action_id, ALICE, "approve", META_CHANNEL).decode())["payload"][0])
    for key, value in draw(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=3)).items():
        payload[key] = value
    if isinstance(payload.get("actions"), list) and payload["actions"] and isinstance(payload["actions"][0], dict):
        payload["actions"][0].update(draw(st.dictionaries(st.sampled_from(ELEMENT_FIELDS), json_values, max_size=2)))
    for key in draw(st.lists(st.sampled_from(FIELDS), max_size=2)):
        payload.pop(key, None)
    return urlencode({"payload": json.dumps(payload)}).encode()


def bodies(action_id: int) -> st.SearchStrategy[bytes]:
    return st.one_of(
        slack_shaped(action_id),
        st.binary(max_size=512),
        st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),
        json_values.map(lambda value: urlencode({"payload": json.dumps(value)}).encode()),
        st.sampled_from([b"payload=" + b"[" * 50_000, b"payload=" + b"9" * 6000, b"payload=%ff"]),
    )


header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
timestamps = st.one_of(st.none(), header_text, st.sampled_from(["1" + "0" * 400, "-1", "1e9", " 1", "0x10"]),
                       st.integers(min_value=-(10**20), max_value=10**20).map(str))


@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(data=st.data())
def test_the_slack_endpoint_never_answers_500(rig: Rig, data: st.DataObject) -> None:
    body = data.draw(bodies(rig.action_id), label="body")
    headers: dict[str, Any] = data.draw(st.dictionaries(
        st.sampled_from(["Content-Type", "X-Slack-Signature", "X-Slack-Request-Timestamp", "X-Forwarded-For",
                         "Cookie", "Authorization"]), header_text, max_size=3), label="headers")
    if data.draw(st.booleans(), label="signed"):
        timestamp = str(int(rig.world.clock.now().timestamp()) - data.draw(st.integers(-400, 400), label="age"))
        if not _utf8(body):  # Slack's bodies are text: sign what Slack could have sent
            body = body.decode("utf-8", "replace").encode()
        headers["X-Slack-Request-Timestamp"] = timestamp
        headers["X-Slack-Signature"] = sign(SECRET, timestamp, body)
    else:
        timestamp_value = data.draw(timestamps, label="timestamp")
        if timestamp_value is not None:
            headers["X-Slack-Request-Timestamp"] = timestamp_value
    answer = rig.http.post(PATH, content=body, headers=headers)
    assert answer.status_code < 500, answer.text


def _utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
