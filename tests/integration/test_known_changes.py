"""Known changes reach the policies' snapshot: our own executed actions and people's annotations."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from click.testing import CliRunner

from agent.cli import main
from agent.decisions.snapshots import load_snapshot
from agent.execution.executor import execute_approved
from agent.storage.annotation_store import add_annotation
from tests.e2e.test_cli import write_config
from tests.integration.conftest import TODAY, SimWorld, pause_proposal


def test_our_executed_pause_is_a_known_change_in_the_snapshot(sim_world: SimWorld) -> None:
    ad_set = sim_world.active_ad_sets("shop-meta")[0]
    sim_world.queue(pause_proposal(ad_set))
    execute_approved(sim_world.engine, sim_world.connectors, sim_world.config, sim_world.clock)

    account = sim_world.config.account("shop-meta")
    known = load_snapshot(sim_world.engine, account, TODAY, sim_world.clock).known_changes

    ours = [k for k in known if k.entity_id == ad_set.entity_id]
    assert len(ours) == 1
    assert ours[0].source == "agent" and ours[0].direction == "down" and ours[0].start == TODAY
    assert "pause" in ours[0].description


def test_annotate_adds_lists_and_refuses_bad_input(tmp_path: Path, database_url: str) -> None:
    config = str(write_config(tmp_path, database_url))
    runner = CliRunner()

    added = runner.invoke(main, ["annotate", "acme-social", "--from", "2026-11-27", "--to", "2026-11-30",
                                 "Black Friday promo", "--config", config])
    listed = runner.invoke(main, ["annotate", "--list", "--config", config])
    backwards = runner.invoke(main, ["annotate", "acme-social", "--from", "2026-11-30", "--to", "2026-11-27", "x",
                                     "--config", config])
    unknown = runner.invoke(main, ["annotate", "nobody", "--from", "2026-11-27", "x", "--config", config])

    assert added.exit_code == 0, added.output
    assert "Black Friday promo" in listed.output and "2026-11-27" in listed.output
    assert backwards.exit_code == 2 and "before --from" in backwards.output
    assert unknown.exit_code == 2 and "no account 'nobody'" in unknown.output


def test_an_annotation_is_a_known_change_of_its_days(sim_world: SimWorld) -> None:
    with sim_world.engine.begin() as connection:
        add_annotation(connection, "shop-meta", date(2026, 11, 20), date(2026, 11, 22), "promo", by="cli:ann",
                       now=sim_world.clock.now())
    known = load_snapshot(sim_world.engine, sim_world.config.account("shop-meta"), TODAY, sim_world.clock).known_changes
    assert [(k.start, k.end, k.source) for k in known] == [(date(2026, 11, 20), date(2026, 11, 22), "annotation")]
    assert "promo" in known[0].description
