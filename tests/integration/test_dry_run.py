"""Dry-run audit mode: everything computed and recorded, nothing changed anywhere."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner
from sqlalchemy import Engine

from agent.cli import main
from agent.cycle.run import run_cycle
from connectors.records import MUTATION_KINDS
from tests.integration.conftest import make_world, small_config

EVERYTHING_AUTO = {"permissions": {kind: "auto" for kind in MUTATION_KINDS}}


def test_dry_run_with_every_permission_auto_makes_no_mutating_call(
    tmp_path: Path, database_url: str, engine: Engine
) -> None:
    world = make_world(engine, database_url, defaults=EVERYTHING_AUTO)
    summary = run_cycle(engine, world.config, world.connectors, world.clock, dry_run=True)
    assert sum(summary.proposals_by_kind.values()) > 0, "the seeded world has losers to propose pausing"
    assert world.simulator.mutating_calls == 0
    assert world.simulator.mutation_log() == []
    assert set(summary.actions_by_state) == {"reported"}

    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(small_config(database_url, defaults=EVERYTHING_AUTO)))
    out = tmp_path / "audit.jsonl"
    result = CliRunner().invoke(main, ["audit", "export", "--config", str(config_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    would_have = [r for r in records if r["event"] == "state:reported"]
    assert len(would_have) == sum(summary.proposals_by_kind.values())
    assert all(r["dry_run"] and "dry-run: would have executed it" in r["message"] for r in would_have)
    assert all(r["rationale"] and r["evidence"] for r in would_have)


def test_the_same_cycle_live_with_auto_executes(tmp_path: Path, database_url: str, engine: Engine) -> None:
    world = make_world(engine, database_url, defaults=EVERYTHING_AUTO)
    summary = run_cycle(engine, world.config, world.connectors, world.clock)
    executed = summary.execution["executed"]
    assert executed == summary.actions_by_state["approved"] > 0
    assert world.simulator.mutating_calls >= 1
    assert len(world.simulator.mutation_log()) == executed
