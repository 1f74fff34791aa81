"""Holdouts drawn per campaign: one seeded, recorded draw per (campaign, kind) whose arm every ad set
of the campaign takes for the horizon, across restarts; shown with its unit in `actions list`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import yaml
from click.testing import CliRunner
from sqlalchemy import Engine

from agent.approvals.decisions import decide_action
from agent.cli import main
from agent.execution.executor import execute_approved
from agent.execution.recovery import recover
from agent.experiments.assign import hold_out
from agent.experiments.settings import ExperimentSettings
from agent.experiments.store import experiments_since, record_draw
from agent.storage import audit_trail, store
from agent.storage.action_states import create_action, list_actions
from connectors.records import Entity, MetricRow
from policies.base import Proposal
from policies.holdout import CAMPAIGN, ENTITY, HELD_OUT, TREATED, Draw, draw_arm, draw_seed
from tests.integration.conftest import SimWorld, budget_proposal, make_world, small_config

ACCOUNT = "shop-meta"  # ad-set budgets, two campaigns of two ad sets
SHARE = 0.5


def settings(seed: int) -> ExperimentSettings:
    return ExperimentSettings(holdout_share={"set_budget": SHARE}, holdout_unit={"set_budget": "campaign"},
                              seed=seed, horizon_days=14)


def campaigns(world: SimWorld) -> dict[str, list[Entity]]:
    by_campaign: dict[str, list[Entity]] = {}
    for ad_set in sorted(world.budget_holders(ACCOUNT), key=lambda e: e.entity_id):
        assert ad_set.level == "ad_set" and ad_set.parent_id
        by_campaign.setdefault(ad_set.parent_id, []).append(ad_set)
    return by_campaign


def propose(world: SimWorld, engine: Engine, proposal: Proposal, experiment: ExperimentSettings) -> tuple[int, bool]:
    now = world.clock.now()
    with engine.begin() as connection:
        action_id = create_action(connection, proposal, cycle_id=None, permission="auto", dry_run=False, now=now)
        held = hold_out(connection, proposal, action_id, experiment, cycle_id=None, now=now)
    return action_id, held


def seed_where(campaign: str, held_out_campaign: bool, second: Entity, later: datetime, now: datetime) -> int:
    """A base seed whose campaign draw has the wanted arm while the second ad set's own draw, had it
    drawn alone later, would be treated: the second ad set's arm can only come from its campaign."""
    for seed in range(1000):
        campaign_arm = draw_arm(draw_seed(seed, ACCOUNT, campaign, "set_budget", now.isoformat(), CAMPAIGN), SHARE)
        own_arm = draw_arm(draw_seed(seed, ACCOUNT, second.entity_id, "set_budget", later.isoformat(), ENTITY), SHARE)
        if (campaign_arm.arm == HELD_OUT) == held_out_campaign and own_arm.arm == TREATED:
            return seed
    raise AssertionError("no seed found")


def test_a_second_ad_set_of_a_held_out_campaign_is_held_out_too_and_stays_so_after_restart(
        tmp_path: Path, database_url: str, engine: Engine) -> None:
    world = make_world(engine, database_url)
    (campaign, (first, second)), *_ = campaigns(world).items()
    now, later = world.clock.now(), world.clock.now() + timedelta(days=3)
    experiment = settings(seed_where(campaign, True, second, later, now))

    first_id, first_held = propose(world, engine, budget_proposal(first, "1.2"), experiment)
    assert first_held
    with engine.connect() as connection:
        (row,) = experiments_since(connection)
        # recorded and reproducible: the campaign's seed gives the recorded arm
        assert (row["unit"], row["cluster_id"], row["entity_id"], row["arm"]) == (CAMPAIGN, campaign,
                                                                                   first.entity_id, HELD_OUT)
        assert int(row["draw_seed"]) == draw_seed(experiment.seed, ACCOUNT, campaign, "set_budget",
                                                  now.isoformat(), CAMPAIGN)
        assert draw_arm(int(row["draw_seed"]), row["share"]).arm == HELD_OUT
        events = [e["event"] for e in audit_trail.action_events(connection, first_id)]
        assert events.index("experiment_draw") < events.index("state:held_out")

    world.clock.advance(timedelta(days=3))
    second_id, second_held = propose(world, engine, budget_proposal(second, "1.3"), experiment)
    assert second_held, "the second ad set of a held-out campaign was not held out"

    engine.dispose()  # a restart: a new process, a new connection pool
    restarted = store.make_engine(database_url)
    try:
        world.clock.advance(timedelta(days=2))
        again_id, again_held = propose(world, restarted, budget_proposal(second, "1.5"), experiment)
        assert again_held
        for action_id in (first_id, second_id, again_id):
            assert not decide_action(restarted, action_id, "approve", approver="someone", channel="cli",
                                     now=world.clock.now()).ok
        execute_approved(restarted, world.connectors, world.config, world.clock)
        recover(restarted, world.connectors, world.config, world.clock)
        assert not world.simulator.mutation_log()
        with restarted.connect() as connection:
            rows = experiments_since(connection)
            states = {a["id"]: a["state"] for a in list_actions(connection)}
        assert {states[i] for i in (first_id, second_id, again_id)} == {HELD_OUT}
        assert [(r["entity_id"], r["arm"]) for r in rows] == [(first.entity_id, HELD_OUT), (second.entity_id, HELD_OUT)]
        assert len({(r["draw_seed"], r["horizon_end"], r["cluster_id"]) for r in rows}) == 1, "a second draw"

        config_path = tmp_path / "config.yaml"
        config_path.write_text(yaml.safe_dump(small_config(database_url)))
        result = CliRunner().invoke(main, ["actions", "list", "--status", "held_out", "--json", "--config",
                                           str(config_path)])
        assert result.exit_code == 0, result.output
        listed = {a["id"]: a["experiment"] for a in json.loads(result.output)}
        assert set(listed) == {first_id, second_id, again_id}
        assert all(e["unit"] == CAMPAIGN and e["cluster_id"] == campaign and e["arm"] == HELD_OUT
                   and e["draw_seed"] == rows[0]["draw_seed"] for e in listed.values())
        table = CliRunner().invoke(main, ["actions", "list", "--status", "held_out", "--config", str(config_path)])
        assert table.exit_code == 0 and "campaign" in table.output

        # after the campaign's horizon a proposal draws afresh
        world.clock.advance(timedelta(days=10))
        propose(world, restarted, budget_proposal(second, "1.1"), experiment)
        with restarted.connect() as connection:
            newest = experiments_since(connection)[-1]
        assert newest["draw_seed"] != rows[0]["draw_seed"] and newest["unit"] == CAMPAIGN
    finally:
        restarted.dispose()


def test_every_ad_set_of_a_treated_campaign_is_treated_with_its_one_draw(database_url: str, engine: Engine) -> None:
    world = make_world(engine, database_url)
    (campaign, (first, second)), *_ = campaigns(world).items()
    now, later = world.clock.now(), world.clock.now() + timedelta(days=1)
    experiment = settings(seed_where(campaign, False, second, later, now))
    assert not propose(world, engine, budget_proposal(first, "1.2"), experiment)[1]
    world.clock.advance(timedelta(days=1))
    assert not propose(world, engine, budget_proposal(second, "1.2"), experiment)[1]
    with engine.connect() as connection:
        rows = experiments_since(connection)
    assert [r["arm"] for r in rows] == [TREATED, TREATED]
    assert rows[0]["draw_seed"] == rows[1]["draw_seed"] and {r["cluster_id"] for r in rows} == {campaign}


def test_a_kind_drawn_per_entity_keeps_its_own_draws(database_url: str, engine: Engine) -> None:
    world = make_world(engine, database_url)
    (campaign, (first, second)), *_ = campaigns(world).items()
    experiment = ExperimentSettings(holdout_share={"set_budget": SHARE}, holdout_unit={"set_budget": "entity"}, seed=0)
    propose(world, engine, budget_proposal(first, "1.2"), experiment)
    propose(world, engine, budget_proposal(second, "1.2"), experiment)
    with engine.connect() as connection:
        rows = experiments_since(connection)
    assert [(r["unit"], r["cluster_id"]) for r in rows] == [(ENTITY, None), (ENTITY, None)]
    assert rows[0]["draw_seed"] != rows[1]["draw_seed"]


def test_the_impact_report_counts_campaigns_drawn_whole(tmp_path: Path, database_url: str, engine: Engine) -> None:
    """Twelve ad sets in four campaigns drawn whole (two held out): the report gives the entities and
    the campaigns per arm, and "few held out" is about campaigns."""
    drawn = datetime(2026, 10, 20, 12, tzinfo=UTC)
    rows = []
    with engine.begin() as connection:
        for i in range(12):
            campaign = f"c{i // 3}"
            arm = HELD_OUT if i // 3 in (0, 2) else TREATED
            record_draw(connection, action_id=i + 1, account_id=ACCOUNT, entity_id=f"s{i}", entity_level="ad_set",
                        kind="set_budget", draw=Draw(i // 3, 0.3, 0.5, arm), drawn_at=drawn,
                        horizon_end=drawn + timedelta(days=14), measure_after=drawn + timedelta(days=21),
                        unit=CAMPAIGN, cluster_id=campaign)
            for offset in range(-14, 14):
                value = Decimal(250 + (i * 7 + offset * 3) % 11) + (Decimal(30) if arm == TREATED and offset >= 0
                                                                     else Decimal(0))
                rows.append(MetricRow(platform="simulator", account_id=ACCOUNT, level="ad_set", entity_id=f"s{i}",
                                      day=drawn.date() + timedelta(days=offset), currency="EUR", spend=Decimal(100),
                                      impressions=1000, clicks=50, conversions=5.0, conversion_value=value))
        store.upsert_metrics(connection, rows, drawn)
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(small_config(database_url)))
    result = CliRunner().invoke(main, ["report", "impact", "--format", "json", "--config", str(config_path),
                                       "--today", "2026-11-23"])
    assert result.exit_code == 0, result.output
    (kind,) = json.loads(result.output)["kinds"]
    assert (kind["n_treated"], kind["n_held_out"], kind["n_treated_clusters"], kind["n_held_out_clusters"]) == \
        (6, 6, 2, 2)
    assert kind["few_held_out"] and float(kind["low"]) < float(kind["effect_per_month"]) < float(kind["high"])
    text = CliRunner().invoke(main, ["report", "impact", "--config", str(config_path), "--today", "2026-11-23"])
    assert "units drawn: 2 treated, 2 held out" in text.output and "few held out" in text.output
