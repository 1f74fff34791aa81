"""`upload_conversions` end to end on a real database: proposed per account, gated, sent once
through the real SDKs to the fakes even across a crash between the upload and its record."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import Engine, insert, select

from agent.cli import main
from agent.clock import FixedClock
from agent.config import AgentConfig, parse_config
from agent.console.changes import change_lines, headline
from agent.cycle.run import run_cycle
from agent.decisions.gate import context_for, decide
from agent.errors import ConfigError
from agent.execution.executor import execute_approved
from agent.execution.reconcile import reconcile
from agent.outcomes.models import Attribution, ConversionUpload, Outcome
from agent.outcomes.records import RejectedRow, build_record
from agent.outcomes.uploads import upload_proposals
from agent.outcomes.uploads_execute import upload_batch
from agent.outcomes.uploads_gate import gate_uploads
from agent.storage.action_states import create_action, get_action, transition
from agent.storage.models import Action, AuditEvent
from connectors.conversion_uploads import ConversionEvent, UploadResult, UploadTarget
from connectors.google_ads.offline_conversions import GoogleConversionUploader
from connectors.meta.connector import MetaAccount, MetaConnector, MetaOptions
from connectors.meta.offline_conversions import MetaConversionUploader
from connectors.meta.usage import UsageThrottle
from tests.fakes.conversions_http_servers import FakeMetaConversions
from tests.fakes.google_conversions_server import FakeGoogleConversions
from tests.integration.conftest import make_world, small_config
from tests.integration.test_outcomes_import import GCLID, seed_platform_data

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)
EMAIL = hashlib.sha256(b"ann@example.com").hexdigest()


def config_for(engine: Engine, permission: str = "auto") -> AgentConfig:
    raw = small_config(engine.url.render_as_string(hide_password=False), outcomes={"uploads": {
        "shop-meta": {"stages": {"sql": "QualifiedLead", "won": "Purchase"}, "dataset_id": "555"},
        "shop-search": {"stages": {"sql": "111", "won": "222"}, "ad_user_data": "granted"}}})
    raw["defaults"] = {**raw.get("defaults", {}), "permissions": {"upload_conversions": permission}}
    for account in raw["accounts"]:
        account["credentials"] = {"access_token": "TOKEN", "developer_token": "DEV"}
        if account["id"] == "shop-search":
            account["platform_account_id"] = "1234567890"
    return parse_config(raw, environ={})


def seed(engine: Engine, records: Sequence[tuple[str, str, str, datetime, dict[str, Any]]]) -> None:
    """(crm id, stage, account, stage time, extra columns), attributed to the account, clicked a day before."""
    with engine.begin() as connection:
        for crm_id, stage, account, at, extra in records:
            outcome_id = connection.execute(insert(Outcome).values(
                crm_id=crm_id, stage=stage, stage_at=at, imported_at=NOW, source="test", email_sha256=EMAIL,
                **extra).returning(Outcome.id)).scalar_one()
            connection.execute(insert(Attribution).values(
                outcome_id=outcome_id, method="click_id", platform="meta", account_id=account, campaign_id="c",
                ad_set_id="a", click_day=(at - timedelta(days=1)).date(), computed_at=NOW))


def ledger(engine: Engine) -> dict[tuple[str, str], str]:
    with engine.connect() as connection:
        return {(r.crm_id, r.stage): r.state for r in connection.execute(select(ConversionUpload))}


class DiesAfterSending:
    """The process dies between the platform's answer and our record of it."""

    def __init__(self, inner: MetaConversionUploader) -> None:
        self.inner, self.platform, self.supports_retraction = inner, inner.platform, False

    def too_old(self, event: ConversionEvent, now: datetime) -> str | None:
        return self.inner.too_old(event, now)

    def upload(self, target: UploadTarget, events: Sequence[ConversionEvent]) -> list[UploadResult]:
        self.inner.upload(target, events)
        raise SystemExit("killed")

    def retract(self, target: UploadTarget, events: Sequence[ConversionEvent], now: datetime) -> list[UploadResult]:
        return []


def test_meta_upload_exactly_once_across_a_crash_and_old_stages_skipped(engine: Engine) -> None:
    config = config_for(engine)
    account = config.account("shop-meta")
    seed(engine, [("L-1", "sql", "shop-meta", NOW - timedelta(days=2), {"fbclid": "IwAR1"}),
                  ("L-2", "lead", "shop-meta", NOW - timedelta(days=2), {}),
                  ("L-3", "sql", "shop-meta", NOW - timedelta(days=20), {})])
    with FakeMetaConversions({"555"}, now=lambda: NOW) as meta:
        uploader = MetaConversionUploader(UsageThrottle(lambda _s: None), graph_url=meta.url)
        [proposal] = upload_proposals(engine, account, config, NOW)
        assert proposal.evidence["by_stage"] == {"sql": 2}  # lead is not mapped
        action = {"id": 1, "change": dict(proposal.change)}
        with pytest.raises(SystemExit):
            upload_batch(engine, action, account, config.outcomes.uploads["shop-meta"], DiesAfterSending(uploader),
                         NOW)
        assert ledger(engine) == {("L-1", "sql"): "sending", ("L-3", "sql"): "skipped"}
        [again] = upload_proposals(engine, account, config, NOW)
        assert again.evidence["resends"] == 1
        counts = upload_batch(engine, {"id": 2, "change": dict(again.change)}, account,
                              config.outcomes.uploads["shop-meta"], uploader, NOW)
        assert counts["uploaded"] == 1
        assert len(meta.requests) == 2 and len(meta.counted) == 1  # sent twice, counted once
        assert ledger(engine)[("L-1", "sql")] == "uploaded"
        assert upload_proposals(engine, account, config, NOW) == []


def test_the_gate_observe_reports_only_and_dry_run_would_not_send(engine: Engine) -> None:
    seed(engine, [("L-1", "sql", "shop-meta", NOW - timedelta(days=1), {})])
    for permission, dry_run, state in (("observe", False, "reported"), ("auto", True, "reported"),
                                       ("auto", False, "approved"), ("propose", False, "pending_approval")):
        config = config_for(engine, permission)
        account = config.account("shop-meta")
        [proposal] = upload_proposals(engine, account, config, NOW)
        with engine.connect() as connection:
            ctx = context_for(connection, account, config, NOW, {})
        decision = decide(proposal, account, config, dry_run=dry_run, settings=config.guardrail_settings(account),
                          ctx=ctx)
        assert decision.state == state, (permission, dry_run, decision)
    assert ledger(engine) == {}


def test_consent_columns_are_read_from_the_crm_file() -> None:
    fields = {"crm_id": "L-1", "stage": "sql", "stage_at": "2026-11-02", "ad_user_data": "Yes",
              "ad_personalization": "denied"}
    record = build_record(fields)
    assert (record.ad_user_data, record.ad_personalization) == ("granted", "denied")
    with pytest.raises(RejectedRow, match="ad_user_data 'maybe' is not granted or denied"):
        build_record({**fields, "ad_user_data": "maybe"})


def test_google_upload_with_consent_then_a_lost_deal_is_retracted(engine: Engine) -> None:
    config = config_for(engine)
    account = config.account("shop-search")
    settings = config.outcomes.uploads["shop-search"]
    seed(engine, [("D-1", "won", "shop-search", NOW - timedelta(days=3),
                   {"gclid": "Cj0-1", "amount": Decimal("1500"), "currency": "USD", "ad_personalization": "denied"})])
    with FakeGoogleConversions({"1234567890": {"111", "222"}}, now=lambda: NOW) as google:
        uploader = GoogleConversionUploader(google.channel_factory())
        [proposal] = upload_proposals(engine, account, config, NOW)
        assert upload_batch(engine, {"id": 1, "change": dict(proposal.change)}, account, settings, uploader,
                            NOW)["uploaded"] == 1
        [counted] = google.counted.values()
        # ad_user_data from the account's setting, ad_personalization from the CRM record
        assert (counted["ad_user_data"], counted["ad_personalization"]) == ("CONSENT_GRANTED", "CONSENT_DENIED")
        assert counted["value"] == 1500.0
        seed(engine, [("D-1", "lost", "shop-search", NOW - timedelta(days=1), {})])
        [retraction] = upload_proposals(engine, account, config, NOW)
        assert retraction.change["to"] == {"uploads": [], "retractions": [["D-1", "won"]]}
        counts = upload_batch(engine, {"id": 2, "change": dict(retraction.change)}, account, settings, uploader, NOW)
        assert counts["retracted"] == 1 and len(google.retracted) == 1
        assert ledger(engine) == {("D-1", "won"): "retracted"}


def test_an_approved_upload_action_runs_through_the_executor_once_and_is_audited(engine: Engine) -> None:
    config = config_for(engine, "auto")
    account = config.account("shop-meta")
    seed(engine, [("L-1", "sql", "shop-meta", NOW - timedelta(days=1), {"fbc": "fb.1.1.IwAR9"})])
    clock = FixedClock(NOW)
    with FakeMetaConversions({"555"}, now=lambda: NOW) as meta:
        connector = MetaConnector([MetaAccount("shop-meta", "act_1", "shop", {"access_token": "TOKEN"})],
                                  now=clock.now, options=MetaOptions(graph_url=meta.url))
        action_ids: list[int] = []
        for _ in range(2):  # the same batch approved twice (e.g. by two people): sent once
            [proposal] = upload_proposals(engine, account, config, NOW)
            with engine.begin() as connection:
                action_id = create_action(connection, proposal, cycle_id=None, permission="auto", dry_run=False,
                                          now=NOW, key_salt=str(len(action_ids)))
                transition(connection, action_id, "approved", actor="gate", reason="permission auto", now=NOW)
            action_ids.append(action_id)
        report = execute_approved(engine, {"simulator": connector}, config, clock)
        assert report.outcomes["executed"] == 2
        assert len(meta.counted) == 1 and len(meta.requests) == 1
        with engine.connect() as connection:
            first, second = (dict(get_action(connection, i) or {}) for i in action_ids)
            audited = connection.execute(select(AuditEvent.action_id).where(
                AuditEvent.action_id.in_(action_ids))).scalars().all()
        assert first["state"] == second["state"] == "executed"
        assert {first["decision_reason"], second["decision_reason"]} == {"1 uploaded", "nothing left to send"}
        assert set(audited) == set(action_ids)


def test_config_check_names_a_bad_upload_mapping(engine: Engine) -> None:
    raw = small_config(engine.url.render_as_string(hide_password=False), outcomes={"uploads": {
        "shop-meta": {"stages": {"sql": "QualifiedLead"}},
        "shop-search": {"stages": {"sql": "not-an-id"}},
        "nowhere": {"stages": {"sql": "1"}}}})
    with pytest.raises(ConfigError) as error:
        parse_config(raw, environ={})
    message = "\n".join(error.value.problems)
    assert "outcomes.uploads.shop-meta: dataset_id (the Meta pixel id) is required" in message
    assert "outcomes.uploads.shop-search.stages.sql: 'not-an-id' is not a conversion action id" in message
    assert "outcomes.uploads.nowhere: no such account" in message


@pytest.mark.parametrize(("permission", "dry_run", "state"), [
    ("observe", False, "reported"), ("propose", False, "pending_approval"), ("auto", False, "failed"),
    ("auto", True, "reported")])
def test_each_cycle_proposes_the_upload_through_the_gate(engine: Engine, database_url: str, permission: str,
                                                         dry_run: bool, state: str) -> None:
    world = make_world(engine, database_url, defaults={"permissions": {"upload_conversions": permission}},
                       outcomes={"uploads": {"shop-meta": {"stages": {"sql": "QualifiedLead"}, "dataset_id": "555"}}})
    seed(engine, [("L-1", "sql", "shop-meta", world.clock.now() - timedelta(days=1), {})])
    run_cycle(engine, world.config, world.connectors, world.clock, dry_run=dry_run)
    with engine.connect() as connection:
        [action] = connection.execute(select(Action).where(Action.kind == "upload_conversions")).mappings()
    if dry_run:
        assert action["dry_run"] and "dry-run: would have executed it" in action["decision_reason"]
    assert action["state"] == state and action["account_id"] == "shop-meta"
    assert action["evidence"]["by_stage"] == {"sql": 1}
    if state == "failed":  # auto: executed at once, and the simulator has no conversions API
        assert action["decision_reason"] == "simulator has no offline-conversion upload"
    assert ledger(engine) == {}


def test_an_import_proposes_the_upload_at_once_and_not_twice(engine: Engine, tmp_path: Path) -> None:
    seed_platform_data(engine)
    raw = small_config(engine.url.render_as_string(hide_password=False),
                       outcomes={"uploads": {"shop-search": {"stages": {"sql": "111"}}}},
                       defaults={"permissions": {"upload_conversions": "propose"}})
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(raw))
    crm = tmp_path / "crm.csv"
    crm.write_text(f"crm_id,stage,stage_at,gclid\nL-1,lead,2026-11-02,{GCLID}\nL-1,sql,2026-11-09,{GCLID}\n")
    first = CliRunner().invoke(main, ["outcomes", "import", str(crm), "--config", str(config_path)])
    assert first.exit_code == 0, first.output
    assert "upload_conversions for shop-search: pending_approval (action " in first.output
    again = CliRunner().invoke(main, ["outcomes", "import", str(crm), "--config", str(config_path), "--json"])
    assert json.loads(again.output)["uploads"]["shop-search"].startswith("already pending_approval")
    crm.write_text(crm.read_text() + f"L-2,sql,2026-11-10,{GCLID}\n")  # a later export: one more SQL
    later = CliRunner().invoke(main, ["outcomes", "import", str(crm), "--config", str(config_path), "--json"])
    assert json.loads(later.output)["uploads"]["shop-search"].startswith("pending_approval")
    with engine.connect() as connection:
        actions = connection.execute(select(Action.state, Action.change).where(
            Action.kind == "upload_conversions").order_by(Action.id)).all()
    assert [state for state, _ in actions] == ["superseded", "pending_approval"]
    assert actions[1].change["to"]["uploads"] == [["L-1", "sql"], ["L-2", "sql"]]


def test_an_upload_action_a_crash_left_executing_is_settled_and_does_not_block_the_next(engine: Engine) -> None:
    config = config_for(engine, "auto")
    account = config.account("shop-meta")
    seed(engine, [("L-1", "sql", "shop-meta", NOW - timedelta(days=1), {})])
    [proposal] = upload_proposals(engine, account, config, NOW)
    with engine.begin() as connection:
        action_id = create_action(connection, proposal, cycle_id=None, permission="auto", dry_run=False, now=NOW)
        transition(connection, action_id, "approved", actor="gate", reason="auto", now=NOW)
        transition(connection, action_id, "executing", actor="executor", reason="claimed", now=NOW,
                   claimed_by="")  # its process died
    connector = MetaConnector([MetaAccount("shop-meta", "act_1", "shop", {"access_token": "TOKEN"})],
                              now=lambda: NOW, options=MetaOptions(graph_url="http://127.0.0.1:9"))
    reconcile(engine, {"simulator": connector}, config, FixedClock(NOW))
    with engine.connect() as connection:
        action = get_action(connection, action_id)
    assert action is not None and action["state"] == "failed"
    assert "re-sent with the same event ids" in action["decision_reason"]
    assert gate_uploads(engine, config, NOW)["shop-meta"].startswith("approved (action ")


def test_the_console_shows_counts_not_crm_ids() -> None:
    change = {"from": {}, "to": {"uploads": [["L-1", "sql"], ["L-2", "won"]], "retractions": [["D-1", "won"]]}}
    assert change_lines("upload_conversions", change, "USD") == [
        "send 2 CRM stage(s) as offline conversions, retract 1 of deals since lost"]
    action = {"entity_level": "account", "entity_name": "shop", "kind": "upload_conversions", "change": change}
    assert headline(action, "USD").startswith("Send CRM outcomes back to the ")
