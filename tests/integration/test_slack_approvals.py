"""Slack approvals end to end: notify posts, a signed click decides, the executor runs, the message updates.

Real pieces throughout: the Starlette endpoint, slack_sdk's WebClient talking HTTP to a local fake
of Slack's Web API, the database (SQLite and PostgreSQL) and the simulator as the ad platform.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from agent.approvals import records
from agent.approvals.decisions import decide_action
from agent.approvals.notify import notify_pending
from agent.approvals.settings import AccountApprovals, ApprovalSettings, SlackSettings
from agent.approvals.slack import APPROVE_ACTION_ID, REJECT_ACTION_ID, SlackApprovals
from agent.approvals.slack_endpoint import PATH, create_app
from agent.approvals.slack_signature import sign
from agent.storage.action_states import expire_stale, get_action
from agent.storage.models import AuditEvent
from connectors.records import Mutation
from tests.fakes.mail_servers import free_port
from tests.fakes.slack_server import FakeSlack
from tests.integration.conftest import SimWorld, budget_proposal, make_world, pause_proposal

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-test-token"
ALICE, BOB, MALLORY = "U0ALICE", "U0BOB", "U0MALLORY"
META_CHANNEL, SEARCH_CHANNEL = "C0METAAPPR", "C0SEARCHAPPR"


@dataclass
class SlackRig:
    world: SimWorld
    fake: FakeSlack
    settings: ApprovalSettings
    slack: SlackApprovals
    http: TestClient

    def notify(self) -> Any:
        return notify_pending(self.world.engine, self.world.config, self.world.clock, settings=self.settings,
                              slack=self.slack)

    def pending_pause(self, account_id: str = "shop-meta") -> int:
        return self.world.queue(pause_proposal(self.world.active_ad_sets(account_id)[0]), state="pending_approval")

    def state(self, action_id: int) -> str:
        with self.world.engine.connect() as connection:
            action = get_action(connection, action_id)
        return str(action["state"]) if action is not None else "missing"

    def ts_of(self, action_id: int) -> str:
        with self.world.engine.connect() as connection:
            row = records.slack_message_of(connection, action_id)
        assert row is not None
        return str(row["ts"])

    def click(self, action_id: int | str, *, user: str = ALICE, verdict: str = "approve",
              channel: str = META_CHANNEL, age: int = 0, secret: str = SECRET, tamper: bool = False,
              body: bytes | None = None) -> Any:
        """POST what Slack posts when a button is clicked, signed (or not) like Slack signs it."""
        body = body if body is not None else button_body(action_id, user, verdict, channel)
        timestamp = str(int(self.world.clock.now().timestamp()) - age)
        signature = sign(secret, timestamp, body)
        sent = body.replace(b"approve", b"reject") if tamper else body
        return self.http.post(PATH, content=sent, headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature})


def button_body(action_id: int | str, user: str, verdict: str, channel: str) -> bytes:
    payload = {
        "type": "block_actions", "api_app_id": "A0APP", "trigger_id": "1337.42.abcdef",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0TEAM"},
        "team": {"id": "T0TEAM", "domain": "acme"}, "channel": {"id": channel, "name": "ads-approvals"},
        "container": {"type": "message", "message_ts": "1790000000.000001", "channel_id": channel},
        "response_url": "https://hooks.slack.com/actions/T0TEAM/1/x",
        "actions": [{"type": "button", "action_id": APPROVE_ACTION_ID if verdict == "approve" else REJECT_ACTION_ID,
                     "block_id": f"pma-{action_id}", "value": str(action_id), "action_ts": "1790000100.000200"}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


@pytest.fixture
def rig(engine: Engine, database_url: str) -> Iterator[SlackRig]:
    fake = FakeSlack(token=TOKEN).start()
    records.create_tables(engine)
    world = make_world(engine, database_url)
    settings = ApprovalSettings(
        slack=SlackSettings(bot_token=TOKEN, signing_secret=SECRET, base_url=fake.base_url),  # type: ignore[arg-type]
        accounts={"shop-meta": AccountApprovals(slack_channel=META_CHANNEL, slack_approvers=(ALICE,)),
                  "shop-search": AccountApprovals(slack_channel=SEARCH_CHANNEL, slack_approvers=(BOB,),
                                                  mode="digest")})
    assert settings.slack is not None
    slack = SlackApprovals(engine, settings.slack)
    app = create_app(engine, world.config, world.clock, settings, slack, connectors_factory=lambda: world.connectors)
    try:
        with TestClient(app) as http:
            yield SlackRig(world, fake, settings, slack, http)
    finally:
        fake.stop()


def decision_events(engine: Engine, action_id: int) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(AuditEvent.__table__).where(
            AuditEvent.action_id == action_id, AuditEvent.event.in_(["state:approved", "state:rejected"]))).all())


def test_approve_posts_decides_executes_and_updates_the_message(rig: SlackRig) -> None:
    ad_set = rig.world.active_ad_sets("shop-meta")[0]
    action_id = rig.pending_pause()
    assert rig.notify()["slack_messages"] == 1
    [posted] = rig.fake.named("chat.postMessage")
    assert posted.params["channel"] == META_CHANNEL
    buttons = [e for b in posted.params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {(b["action_id"], b["value"]) for b in buttons} == {(APPROVE_ACTION_ID, str(action_id)),
                                                              (REJECT_ACTION_ID, str(action_id))}
    answer = rig.click(action_id)
    assert answer.status_code == 200 and "Approved" in answer.json()["text"]
    assert rig.state(action_id) == "executed"
    assert rig.world.live("shop-meta")[ad_set.entity_id].status == "PAUSED"  # the simulator's world changed
    [event] = decision_events(rig.world.engine, action_id)
    assert event.actor == f"slack:{ALICE}"
    assert event.data["channel"] == "slack" and event.data["approver"] == ALICE
    assert event.data["reference"]["trigger_id"] == "1337.42.abcdef" and event.data["reference"]["body_sha256"]
    assert event.at is not None
    [update] = rig.fake.named("chat.update")
    assert update.params["ts"] == rig.ts_of(action_id) and update.params["channel"] == META_CHANNEL
    shown = json.dumps(update.params["blocks"])
    assert f"<@{ALICE}>" in shown and "Executed" in shown and APPROVE_ACTION_ID not in shown


def test_approval_goes_through_the_drift_check(rig: SlackRig) -> None:
    holder = rig.world.budget_holders("shop-meta")[0]
    action_id = rig.world.queue(budget_proposal(holder, "1.10"), state="pending_approval")
    rig.notify()
    rig.world.simulator.apply_as_human("shop-meta", Mutation(kind="set_budget", account_id="shop-meta",
                                                             entity_id=holder.entity_id,
                                                             params={"daily_budget": "77.00"},
                                                             idempotency_key="human-edit"))
    assert rig.click(action_id).status_code == 200
    assert rig.state(action_id) == "superseded"
    assert str(rig.world.live("shop-meta")[holder.entity_id].daily_budget) == "77.00"
    assert "drift" in json.dumps(rig.fake.named("chat.update")[-1].params["blocks"])


def test_reject_changes_nothing_and_says_who(rig: SlackRig) -> None:
    ad_set = rig.world.active_ad_sets("shop-meta")[0]
    action_id = rig.pending_pause()
    rig.notify()
    assert rig.click(action_id, verdict="reject").status_code == 200
    assert rig.state(action_id) == "rejected"
    assert rig.world.live("shop-meta")[ad_set.entity_id].status == "ACTIVE"
    assert rig.world.simulator.mutation_log() == []
    [event] = decision_events(rig.world.engine, action_id)
    assert event.data["approver"] == ALICE and event.data["channel"] == "slack"
    shown = json.dumps(rig.fake.named("chat.update")[-1].params["blocks"])
    assert f"Rejected by <@{ALICE}>" in shown


@pytest.mark.parametrize("case", ["wrong_secret", "tampered_body", "stale", "future", "no_headers"])
def test_unsigned_or_stale_requests_are_refused(rig: SlackRig, case: str) -> None:
    action_id = rig.pending_pause()
    if case == "no_headers":
        answer = rig.http.post(PATH, content=button_body(action_id, ALICE, "approve", META_CHANNEL))
    else:
        answer = rig.click(action_id, secret="not-the-secret" if case == "wrong_secret" else SECRET,
                           tamper=case == "tampered_body", age={"stale": 301, "future": -301}.get(case, 0))
    assert answer.status_code == 401
    assert rig.state(action_id) == "pending_approval"
    assert decision_events(rig.world.engine, action_id) == []


def test_a_huge_timestamp_is_refused_with_401_not_a_crash(rig: SlackRig) -> None:
    action_id = rig.pending_pause()
    body = button_body(action_id, ALICE, "approve", META_CHANNEL)
    answer = rig.http.post(PATH, content=body, headers={
        "X-Slack-Request-Timestamp": "1" + "0" * 400, "X-Slack-Signature": sign(SECRET, "1" + "0" * 400, body)})
    assert answer.status_code == 401 and "not Unix seconds" in answer.text
    assert rig.state(action_id) == "pending_approval"


def test_ten_megabytes_are_refused_before_the_signature_check(rig: SlackRig) -> None:
    answer = rig.http.post(PATH, content=b"payload=" + b"a" * (10 * 1024 * 1024), headers={
        "X-Slack-Request-Timestamp": "1", "X-Slack-Signature": "v0=0"})
    assert answer.status_code == 413


def payload_of(action_id: int) -> dict[str, Any]:
    return json.loads(parse_qs(button_body(action_id, ALICE, "approve", META_CHANNEL).decode())["payload"][0])


MALFORMED: list[tuple[Any, str]] = [
    (lambda p: p.update(user="U0ALICE"), "`user` must be an object"),
    (lambda p: p.pop("user"), "`user` must be an object (it is missing)"),
    (lambda p: p["user"].pop("id"), "`user.id` must be a non-empty string"),
    (lambda p: p["user"].update(id=42), "`user.id` must be a non-empty string"),
    (lambda p: p.update(channel="C0METAAPPR"), "`channel` must be an object"),
    (lambda p: p.update(container=["x"]), "`container` must be an object"),
    (lambda p: p.update(team="T0TEAM"), "`team` must be an object"),
    (lambda p: p["actions"][0].update(value="9" * 30), "not an action number"),
    (lambda p: p["actions"][0].update(value="2147483648"), "not an action number"),
    (lambda p: p["actions"][0].update(value="0000000000009999999999"), "not an action number"),
    (lambda p: p["actions"][0].update(value=7), "not an action number"),
    (lambda p: p["actions"][0].pop("value"), "not an action number"),
    (lambda p: p.update(actions="approve"), "`actions` must be a list"),
    (lambda p: p.update(actions=5), "`actions` must be a list"),
]


def test_signed_but_malformed_payloads_get_400_with_a_reason(rig: SlackRig) -> None:
    action_id = rig.pending_pause()
    for change, reason in MALFORMED:
        payload = payload_of(action_id)
        change(payload)
        answer = rig.click(action_id, body=urlencode({"payload": json.dumps(payload)}).encode())
        assert answer.status_code == 400, (reason, answer.text)
        assert reason in answer.text and "\n" not in answer.text.strip()
    for body in (b"payload=" + b"[" * 30_000, b"payload=" + b"1" * 5000, b"payload=%ff%fe", b"payload=[]"):
        assert rig.click(action_id, body=body).status_code == 400  # not an interaction at all
    assert rig.state(action_id) == "pending_approval"
    assert decision_events(rig.world.engine, action_id) == []


def test_a_request_just_inside_five_minutes_is_accepted(rig: SlackRig) -> None:
    action_id = rig.pending_pause()
    assert rig.click(action_id, age=299).status_code == 200
    assert rig.state(action_id) == "executed"


@pytest.mark.parametrize("user", [MALLORY, BOB])  # a stranger, and an approver of another account
def test_users_who_may_not_decide_get_403(rig: SlackRig, user: str) -> None:
    action_id = rig.pending_pause()
    answer = rig.click(action_id, user=user)
    assert answer.status_code == 403
    assert rig.state(action_id) == "pending_approval"
    with rig.world.engine.connect() as connection:
        refused = connection.execute(select(AuditEvent.__table__).where(
            AuditEvent.event == "approval_refused")).all()
    assert [e.actor for e in refused] == [f"slack:{user}"]


def test_a_replayed_click_does_not_approve_twice(rig: SlackRig) -> None:
    action_id = rig.pending_pause()
    rig.notify()
    body = button_body(action_id, ALICE, "approve", META_CHANNEL)
    first, second = rig.click(action_id, body=body), rig.click(action_id, body=body)
    assert first.status_code == second.status_code == 200
    assert "already executed" in second.json()["text"]
    assert len(rig.world.simulator.mutation_log()) == 1
    assert len(decision_events(rig.world.engine, action_id)) == 1
    [told] = rig.fake.named("chat.postEphemeral")
    assert told.params["user"] == ALICE and "already executed" in told.params["text"]


def test_unknown_action_is_answered_politely(rig: SlackRig) -> None:
    answer = rig.click(987654)
    assert answer.status_code == 200
    assert answer.json()["response_type"] == "ephemeral" and "no action #987654" in answer.json()["text"]


def test_an_action_decided_elsewhere_is_answered_politely(rig: SlackRig) -> None:
    action_id = rig.pending_pause()
    rig.notify()
    decide_action(rig.world.engine, action_id, "reject", approver="carol", channel="cli",
                  now=rig.world.clock.now(), reason="not now")
    answer = rig.click(action_id)
    assert answer.status_code == 200 and "already rejected" in answer.json()["text"]
    assert rig.state(action_id) == "rejected"
    shown = json.dumps(rig.fake.named("chat.update")[-1].params["blocks"])
    assert "Rejected by carol via cli" in shown and APPROVE_ACTION_ID not in shown


def test_digest_posts_one_message_and_updates_it_action_by_action(rig: SlackRig) -> None:
    first = rig.pending_pause("shop-search")
    second = rig.world.queue(pause_proposal(rig.world.active_ad_sets("shop-search")[1]), state="pending_approval")
    rig.notify()
    [posted] = rig.fake.named("chat.postMessage")
    assert posted.params["channel"] == SEARCH_CHANNEL
    assert rig.ts_of(first) == rig.ts_of(second)
    assert rig.click(first, user=BOB, channel=SEARCH_CHANNEL).status_code == 200
    blocks = rig.fake.named("chat.update")[-1].params["blocks"]
    still_open = [b["block_id"] for b in blocks if b["type"] == "actions"]
    assert still_open == [f"pma-{second}"]
    assert rig.notify()["slack_messages"] == 0  # nothing is posted twice


def test_expired_actions_are_shown_as_expired(rig: SlackRig) -> None:
    action_id = rig.pending_pause()
    rig.notify()
    rig.world.clock.advance(timedelta(hours=25))
    with rig.world.engine.begin() as connection:
        expire_stale(connection, rig.world.clock.now())
    assert rig.notify()["slack_refreshed"] == 1
    assert "expired" in json.dumps(rig.fake.named("chat.update")[-1].params["blocks"]).lower()
    answer = rig.click(action_id)
    assert answer.status_code == 200 and "already expired" in answer.json()["text"]


def test_slack_failures_do_not_stop_notify_and_are_retried(rig: SlackRig) -> None:
    action_id = rig.pending_pause()
    rig.fake.fail_next("chat.postMessage", "channel_not_found")
    assert rig.notify()["failures"] == 1
    assert rig.notify()["slack_messages"] == 1
    assert rig.ts_of(action_id)


def test_notify_is_a_no_op_without_channels(rig: SlackRig) -> None:
    rig.pending_pause()
    assert not notify_pending(rig.world.engine, rig.world.config, rig.world.clock, settings=ApprovalSettings())
    assert rig.fake.calls == []


def test_slack_gets_its_answer_before_execution_starts(rig: SlackRig) -> None:
    """Under a real server: the HTTP answer arrives while execution is still held back."""
    action_id = rig.pending_pause()
    release, started = threading.Event(), threading.Event()

    def slow_connectors() -> dict[str, Any]:
        started.set()
        release.wait(timeout=10)
        return rig.world.connectors

    app = create_app(rig.world.engine, rig.world.config, rig.world.clock, rig.settings, rig.slack,
                     connectors_factory=slow_connectors)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.01)
        body = button_body(action_id, ALICE, "approve", META_CHANNEL)
        timestamp = str(int(rig.world.clock.now().timestamp()))
        answer = httpx.post(f"http://127.0.0.1:{port}{PATH}", content=body, timeout=3.0, headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": sign(SECRET, timestamp, body)})
        assert answer.status_code == 200
        assert rig.state(action_id) == "approved"  # answered; execution not done yet
        assert started.wait(timeout=5)
        release.set()
        deadline = time.monotonic() + 10
        while rig.state(action_id) != "executed" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert rig.state(action_id) == "executed"
    finally:
        release.set()
        server.should_exit = True
        thread.join(timeout=10)
