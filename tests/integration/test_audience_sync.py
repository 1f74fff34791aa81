"""`sync_audience` end to end on a real database: proposed per account audience, gated, sent through
the real SDKs to wire-level fakes, exactly once across a crash, with consent and forgetting respected."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select

from agent.audiences.gate import gate_audience_syncs
from agent.audiences.plan import desired_members
from agent.audiences.proposals import audience_proposals
from agent.audiences.sync import run_audience_actions, sync_audience
from agent.clock import FixedClock
from agent.config import AgentConfig, parse_config
from agent.cycle.run import run_cycle
from agent.execution.executor import execute_approved
from agent.execution.reconcile import reconcile
from agent.storage.action_states import get_action, list_actions, transition
from agent.storage.audience_ledger import audience_batches, audience_members, audience_summary
from agent.storage.models import AuditEvent
from connectors.audience_members import AudienceSyncer, AudienceTarget, BatchAnswer, MemberKey, Operation
from connectors.errors import WritesStopped
from connectors.google_ads.audience_members import GoogleAudienceSyncer
from connectors.linkedin.connector import LinkedInConnector, LinkedInOptions
from connectors.linkedin.dmp_segment_users import LinkedInAudienceSyncer
from connectors.linkedin.reports import LinkedInAccount
from connectors.linkedin.transport import RestClient
from connectors.meta.connector import MetaAccount, MetaConnector, MetaOptions
from connectors.meta.custom_audience_users import MetaAudienceSyncer, session_id_of
from connectors.meta.usage import UsageThrottle
from tests.fakes.audience_http_servers import FakeLinkedInDmpSegments, FakeMetaAudiences
from tests.fakes.google_audiences_server import FakeGoogleAudiences
from tests.integration.conftest import make_world, small_config
from tests.unit.audiences.test_sync_plan import Member

NOW = datetime(2026, 12, 5, 2, tzinfo=UTC)
CUSTOMER, USER_LIST, META_AUDIENCE, DMP_SEGMENT = "1234567890", "555", "2384", "9001"


def email(name: str) -> MemberKey:
    return "email", hashlib.sha256(f"{name}@example.com".encode()).hexdigest()


class Segments:
    """The CRM segments as the sync reads them: each a set of (kind, sha256), consent applied."""

    def __init__(self, **segments: frozenset[MemberKey]) -> None:
        self.segments = dict(segments)

    def __call__(self, _connection: Connection, segment: str) -> frozenset[MemberKey] | None:
        return self.segments.get(segment)


def config_for(engine: Engine, permission: str = "auto") -> AgentConfig:
    raw = small_config(engine.url.render_as_string(hide_password=False))
    raw["accounts"].append({"id": "b2b", "platform": "simulator", "simulate": "linkedin", "currency": "USD"})
    audiences = {"shop-search": {"customers": int(USER_LIST)}, "shop-meta": {"customers": META_AUDIENCE},
                 "b2b": {"customers": DMP_SEGMENT}}
    for account in raw["accounts"]:
        account["credentials"] = {"access_token": "TOKEN", "developer_token": "DEV"}
        account["audiences"] = audiences[account["id"]]
        if account["id"] == "shop-search":
            account["platform_account_id"] = "123-456-7890"
    raw["defaults"] = {"permissions": {"sync_audience": permission}}
    return parse_config(raw, environ={})


def claimed(engine: Engine, config: AgentConfig, account_id: str, segments: Segments) -> dict[str, Any]:
    """Gate the account's audience sync (auto) and claim it, as the executor does."""
    states = gate_audience_syncs(engine, config, NOW, segments, account_ids=(account_id,))
    [state] = states.values()
    action_id = int(state.split("action ")[1].rstrip(")"))
    with engine.begin() as connection:
        transition(connection, action_id, "executing", actor="test", reason="claimed", now=NOW, expected="approved")
        return dict(get_action(connection, action_id) or {})


def run(engine: Engine, config: AgentConfig, account_id: str, syncer: AudienceSyncer, segments: Segments
        ) -> dict[str, Any]:
    action = claimed(engine, config, account_id, segments)
    outcomes: list[str] = []
    run_audience_actions(engine, config.account(account_id), syncer, segments, [action], FixedClock(NOW), "test",
                         outcomes.append)
    with engine.connect() as connection:
        return dict(get_action(connection, action["id"]) or {})


def ledger(engine: Engine) -> dict[MemberKey, str]:
    with engine.connect() as connection:
        return {(r.kind, r.sha256): r.state for r in connection.execute(select(audience_members))}


def test_google_sync_adds_and_removes_exactly_what_differs(engine: Engine) -> None:
    config = config_for(engine)
    with FakeGoogleAudiences({CUSTOMER: {USER_LIST}}) as google:
        syncer = GoogleAudienceSyncer(google.channel_factory())
        segments = Segments(customers=frozenset({email("ann"), email("bob"), email("cy")}))
        assert run(engine, config, "shop-search", syncer, segments)["decision_reason"] == "3 added"
        assert google.members[(CUSTOMER, USER_LIST)] == {email("ann"), email("bob"), email("cy")}
        assert google.consent[(CUSTOMER, USER_LIST)] == ("CONSENT_GRANTED", "CONSENT_GRANTED")
        segments.segments["customers"] = frozenset({email("bob"), email("cy"), email("dee")})
        [proposal] = audience_proposals(engine, config.account("shop-search"), segments)
        assert (proposal.change["to"]["add"], proposal.change["to"]["remove"]) == (1, 1)
        before = len(google.requests)
        assert run(engine, config, "shop-search", syncer, segments)["decision_reason"] == "1 added, 1 removed"
        removed, added = (request for _, request in google.requests[before:])
        assert [m.user_data.user_identifiers[0].email_address for m in removed.audience_members] == [email("ann")[1]]
        assert [m.user_data.user_identifiers[0].email_address for m in added.audience_members] == [email("dee")[1]]
        assert google.members[(CUSTOMER, USER_LIST)] == {email("bob"), email("cy"), email("dee")}
        assert ledger(engine) == {m: "present" for m in (email("bob"), email("cy"), email("dee"))}
        assert audience_proposals(engine, config.account("shop-search"), segments) == []


class DiesAfterSending:
    """The process dies between the platform's answer and our record of it."""

    def __init__(self, inner: AudienceSyncer) -> None:
        self.inner, self.platform, self.max_batch = inner, inner.platform, inner.max_batch

    def send(self, target: AudienceTarget, operation: Operation, batch_id: str, members: Sequence[MemberKey]
             ) -> BatchAnswer:
        self.inner.send(target, operation, batch_id, members)
        raise SystemExit("killed")

    def received(self, target: AudienceTarget, operation: Operation, batch_id: str, members: Sequence[MemberKey]
                 ) -> bool | None:
        return self.inner.received(target, operation, batch_id, members)


def test_meta_exactly_once_across_a_crash_between_the_call_and_the_ledger(engine: Engine) -> None:
    config = config_for(engine)
    account = config.account("shop-meta")
    segments = Segments(customers=frozenset({email("ann"), email("bob")}))
    with FakeMetaAudiences({META_AUDIENCE}) as meta:
        syncer = MetaAudienceSyncer(UsageThrottle(lambda _s: None), graph_url=meta.url)
        action = claimed(engine, config, "shop-meta", segments)
        with pytest.raises(SystemExit):
            sync_audience(engine, action, account, DiesAfterSending(syncer), segments, NOW)
        assert ledger(engine) == {email("ann"): "adding", email("bob"): "adding"}
        with engine.connect() as connection:
            [batch] = connection.execute(select(audience_batches)).mappings().all()
        assert batch["state"] == "sending"
        # start-up: the interrupted action is settled from the ledger, not re-run
        connector = MetaConnector([MetaAccount("shop-meta", "act_1", "shop", {"access_token": "TOKEN"})],
                                  now=lambda: NOW, options=MetaOptions(graph_url=meta.url))
        report = reconcile(engine, {"simulator": connector}, config, FixedClock(NOW))
        assert report.outcomes["failed"] == 1
        # the next sync first asks Meta whether it received that batch (its upload session): it did, so
        # the batch is settled without sending it again, and nothing new is planned
        final = run(engine, config, "shop-meta", syncer, segments)
        assert meta.sessions == {session_id_of(batch["batch_id"]): 1}
        assert [method for method, _ in meta.requests] == ["POST", "GET"]
        assert meta.members[META_AUDIENCE] == {email("ann")[1], email("bob")[1]}
        assert final["decision_reason"] == "2 confirmed_added"
        assert ledger(engine) == {email("ann"): "present", email("bob"): "present"}
        assert audience_proposals(engine, account, segments) == []


def test_a_lost_answer_is_resent_as_the_same_batch_and_a_forgotten_member_is_not(engine: Engine) -> None:
    config = config_for(engine)
    segments = Segments(customers=frozenset({email("ann"), email("bob")}))
    with FakeGoogleAudiences({CUSTOMER: {USER_LIST}}) as google:
        syncer = GoogleAudienceSyncer(google.channel_factory())
        google.faults.inject("drop_answer", "ingest_members")
        first = run(engine, config, "shop-search", syncer, segments)
        assert "no answer for a batch" in first["decision_reason"]
        assert ledger(engine) == {email("ann"): "adding", email("bob"): "adding"}
        segments.segments["customers"] = frozenset({email("bob")})  # ann asked to be forgotten meanwhile
        second = run(engine, config, "shop-search", syncer, segments)
        assert second["decision_reason"] == "1 removed, 1 resent_added"
        resent = google.requests[1][1]
        assert [m.user_data.user_identifiers[0].email_address for m in resent.audience_members] == [email("bob")[1]]
        assert google.members[(CUSTOMER, USER_LIST)] == {email("bob")}
        assert ledger(engine) == {email("bob"): "present"}  # ann's hash is gone from the ledger too


def test_consent_is_respected_and_a_forgotten_person_leaves_at_the_next_sync(engine: Engine) -> None:
    config = config_for(engine)
    crm = [Member(*email("ann"), consent=True), Member(*email("bob"), consent=False),
           Member(*email("cy"), consent=True)]
    segments = Segments(customers=desired_members(crm))
    with FakeMetaAudiences({META_AUDIENCE}) as meta:
        syncer = MetaAudienceSyncer(UsageThrottle(lambda _s: None), graph_url=meta.url)
        run(engine, config, "shop-meta", syncer, segments)
        assert meta.members[META_AUDIENCE] == {email("ann")[1], email("cy")[1]}  # bob never uploaded
        segments.segments["customers"] = desired_members(crm, forgotten={email("cy")})
        assert run(engine, config, "shop-meta", syncer, segments)["decision_reason"] == "1 removed"
        assert meta.members[META_AUDIENCE] == {email("ann")[1]}
        assert [m for m, _ in meta.requests] == ["POST", "DELETE"]
        assert email("cy") not in ledger(engine) and email("bob") not in ledger(engine)


def test_dry_run_and_propose_send_nothing(engine: Engine) -> None:
    segments = Segments(customers=frozenset({email("ann")}))
    with FakeMetaAudiences({META_AUDIENCE}) as meta:
        clock = FixedClock(NOW)
        connector = MetaConnector([MetaAccount("shop-meta", "act_1", "shop", {"access_token": "TOKEN"})],
                                  now=clock.now, options=MetaOptions(graph_url=meta.url))
        dry = gate_audience_syncs(engine, config_for(engine), NOW, segments, dry_run=True, account_ids=("shop-meta",))
        assert list(dry.values())[0].startswith("reported")
        proposed = gate_audience_syncs(engine, config_for(engine, "propose"), NOW, segments,
                                       account_ids=("shop-meta",))
        assert list(proposed.values())[0].startswith("pending_approval")
        report = execute_approved(engine, {"simulator": connector}, config_for(engine, "propose"), clock)
        assert report.outcomes["executed"] == 0
        assert meta.requests == [] and ledger(engine) == {}


def test_an_approved_sync_runs_through_the_executor_once_and_is_audited(engine: Engine,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    config = config_for(engine)
    segments = Segments(customers=frozenset({email("ann"), email("bob")}))
    # the CRM segments store is the seam the executor reads the desired members from
    monkeypatch.setattr("agent.execution.executor.crm_segment_source", segments)
    clock = FixedClock(NOW)
    with FakeMetaAudiences({META_AUDIENCE}) as meta:
        connector = MetaConnector([MetaAccount("shop-meta", "act_1", "shop", {"access_token": "TOKEN"})],
                                  now=clock.now, options=MetaOptions(graph_url=meta.url))
        [state] = gate_audience_syncs(engine, config, NOW, segments, account_ids=("shop-meta",)).values()
        assert state.startswith("approved")
        report = execute_approved(engine, {"simulator": connector}, config, clock)
        assert report.outcomes["executed"] == 1
        assert execute_approved(engine, {"simulator": connector}, config, clock).outcomes["executed"] == 0
        assert len(meta.requests) == 1 and meta.members[META_AUDIENCE] == {email("ann")[1], email("bob")[1]}
        with engine.connect() as connection:
            [action] = list_actions(connection, "executed")
            messages = connection.execute(select(AuditEvent.message).where(
                AuditEvent.action_id == action["id"])).scalars().all()
        assert action["decision_reason"] == "2 added"
        assert messages and not any(email("ann")[1] in (m or "") for m in messages)  # no hash in the audit
        assert email("ann")[1] not in str(action["change"])


def test_a_skipped_linkedin_sync_is_in_the_cycles_report(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    config = config_for(engine)
    segments = Segments(customers=frozenset({email("ann")}))
    monkeypatch.setattr("agent.execution.executor.crm_segment_source", segments)
    with FakeLinkedInDmpSegments({DMP_SEGMENT}, permitted=False) as linkedin:
        connector = LinkedInConnector([LinkedInAccount("b2b", "urn:li:sponsoredAccount:1", "b2b", "UTC",
                                                       {"access_token": "TOKEN"})], now=lambda: NOW,
                                      options=LinkedInOptions(base_url=linkedin.url))
        gate_audience_syncs(engine, config, NOW, segments, account_ids=("b2b",))
        report = execute_approved(engine, {"simulator": connector}, config, FixedClock(NOW))
    assert report.outcomes["executed"] == 1 and report.outcomes["failed"] == 0
    [line] = report.write_problems
    assert line.startswith("b2b: sync_audience 9001 skipped: ") and "rw_dmp_segments" in line


def test_linkedin_without_the_partner_permission_is_skipped_with_a_message(engine: Engine) -> None:
    config = config_for(engine)
    segments = Segments(customers=frozenset({email("ann")}))
    with FakeLinkedInDmpSegments({DMP_SEGMENT}, permitted=False) as linkedin:
        syncer = LinkedInAudienceSyncer(RestClient(base_url=linkedin.url, version="202608", transport=None,
                                                   timeout=10.0, now=lambda: NOW))
        action = run(engine, config, "b2b", syncer, segments)
        assert action["state"] == "executed"  # skipped, nothing failed
        assert action["decision_reason"].startswith("skipped: ") and "rw_dmp_segments" in action["decision_reason"]
        assert ledger(engine) == {}
        with engine.connect() as connection:
            [summary] = audience_summary(connection, "b2b")
        assert summary["last_state"] == "not_permitted" and "partner permission" in str(summary["last_error"])
        assert audience_proposals(engine, config.account("b2b"), segments) == []  # not proposed again
        # until a person asks again (`audiences sync`), e.g. once LinkedIn has granted the permission
        linkedin.permitted = True
        [again] = audience_proposals(engine, config.account("b2b"), segments, retry_refused=True)
        assert again.change["to"]["add"] == 1


def test_linkedin_with_the_permission_syncs_by_difference(engine: Engine) -> None:
    config = config_for(engine)
    segments = Segments(customers=frozenset({email("ann"), email("bob")}))
    with FakeLinkedInDmpSegments({DMP_SEGMENT}) as linkedin:
        syncer = LinkedInAudienceSyncer(RestClient(base_url=linkedin.url, version="202608", transport=None,
                                                   timeout=10.0, now=lambda: NOW))
        run(engine, config, "b2b", syncer, segments)
        segments.segments["customers"] = frozenset({email("bob")})
        assert run(engine, config, "b2b", syncer, segments)["decision_reason"] == "1 removed"
        assert linkedin.members[DMP_SEGMENT] == {email("bob")[1]}


@pytest.mark.parametrize(("permission", "dry_run", "state"), [
    ("observe", False, "reported"), ("propose", False, "pending_approval"), ("auto", True, "reported")])
def test_each_cycle_proposes_the_sync_through_the_gate(engine: Engine, database_url: str, permission: str,
                                                      dry_run: bool, state: str, monkeypatch: pytest.MonkeyPatch
                                                      ) -> None:
    segments = Segments(customers=frozenset({email("ann"), email("bob")}))
    monkeypatch.setattr("agent.cycle.account_turn.crm_segment_source", segments)
    world = make_world(engine, database_url, defaults={"permissions": {"sync_audience": permission}})
    account = world.config.account("shop-meta").model_copy(update={"audiences": {"customers": META_AUDIENCE}})
    config = world.config.model_copy(update={"accounts": (account, world.config.account("shop-search"))})
    run_cycle(engine, config, world.connectors, world.clock, dry_run=dry_run)
    with engine.connect() as connection:
        [action] = [a for s in ("reported", "pending_approval") for a in list_actions(connection, s)
                    if a["kind"] == "sync_audience"]
    assert action["state"] == state and action["entity_id"] == META_AUDIENCE
    assert (action["change"]["to"]["add"], action["change"]["to"]["remove"]) == (2, 0)
    assert ledger(engine) == {}


def test_meta_batch_that_never_arrived_is_sent_again_not_lost(engine: Engine) -> None:
    config = config_for(engine)
    segments = Segments(customers=frozenset({email("ann")}))
    with FakeMetaAudiences({META_AUDIENCE}) as meta:
        syncer = MetaAudienceSyncer(UsageThrottle(lambda _s: None), graph_url=meta.url)
        meta.faults.inject("server_error", "meta_add")  # a 500: Meta applied nothing
        first = run(engine, config, "shop-meta", syncer, segments)
        assert "no answer for a batch" in first["decision_reason"] and META_AUDIENCE not in meta.members
        second = run(engine, config, "shop-meta", syncer, segments)
        assert second["decision_reason"] == "1 resent_added"
        assert [method for method, _ in meta.requests] == ["POST", "GET", "POST"]
        assert meta.members[META_AUDIENCE] == {email("ann")[1]}
        assert ledger(engine) == {email("ann"): "present"}


def test_the_kill_switch_is_read_before_every_batch(engine: Engine) -> None:
    config = config_for(engine)
    segments = Segments(customers=frozenset({email("ann"), email("bob"), email("cy")}))
    checks: list[int] = []

    def kill_after_the_first_batch() -> None:
        checks.append(1)
        if len(checks) > 1:
            raise WritesStopped("held: the kill switch is on")

    with FakeGoogleAudiences({CUSTOMER: {USER_LIST}}) as google:
        syncer = GoogleAudienceSyncer(google.channel_factory())
        syncer.max_batch = 1
        action = claimed(engine, config, "shop-search", segments)
        outcomes: list[str] = []
        run_audience_actions(engine, config.account("shop-search"), syncer, segments, [action], FixedClock(NOW),
                             "test", outcomes.append, guard=kill_after_the_first_batch)
        assert outcomes == ["held"] and google.sent("ingest_members") == 1
        with engine.connect() as connection:
            assert dict(get_action(connection, action["id"]) or {})["state"] == "approved"
        assert sorted(ledger(engine).values()) == ["present"]  # the one batch sent is recorded; no intent left


def test_google_refusing_the_customer_skips_the_sync_and_says_why(engine: Engine) -> None:
    config = config_for(engine)
    segments = Segments(customers=frozenset({email("ann")}))
    with FakeGoogleAudiences({CUSTOMER: {USER_LIST}}, denied={CUSTOMER}) as google:
        action = run(engine, config, "shop-search", GoogleAudienceSyncer(google.channel_factory()), segments)
        assert action["state"] == "executed" and action["decision_reason"].startswith("skipped: Data Manager API")
        assert ledger(engine) == {} and google.members == {}


def test_a_segment_that_changed_after_approval_is_not_sent_but_planned_anew(engine: Engine) -> None:
    config = config_for(engine, "auto")
    segments = Segments(customers=frozenset({email("ann")}))
    with FakeGoogleAudiences({CUSTOMER: {USER_LIST}}) as google:
        action = claimed(engine, config, "shop-search", segments)
        segments.segments["customers"] = frozenset({email("ann"), email("bob")})  # after the approval
        outcomes: list[str] = []
        run_audience_actions(engine, config.account("shop-search"), GoogleAudienceSyncer(google.channel_factory()),
                             segments, [action], FixedClock(NOW), "test", outcomes.append)
        assert outcomes == ["superseded"] and google.requests == [] and ledger(engine) == {}
        [proposal] = audience_proposals(engine, config.account("shop-search"), segments)
        assert proposal.change["to"]["add"] == 2
