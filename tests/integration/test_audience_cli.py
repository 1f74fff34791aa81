"""`config check` and `audiences status` about audiences: bad ids refused in one line, LinkedIn's
partner permission named before anything is sent, and a skipped LinkedIn sync reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import Engine, select

from agent.cli import main
from agent.storage.audience_ledger import (
    audience_batches,
    lookalike_of,
    open_batch,
    settle_batch,
    settle_lookalike,
    start_lookalike,
)
from tests.integration.conftest import small_config
from tests.integration.test_audience_sync import NOW, Segments, email


def write_config(engine: Engine, tmp_path: Path, audiences: dict[str, Any]) -> Path:
    raw = small_config(engine.url.render_as_string(hide_password=False))
    raw["accounts"].append({"id": "b2b", "platform": "simulator", "simulate": "linkedin", "currency": "USD"})
    for account in raw["accounts"]:
        if account["id"] in audiences:
            account["audiences"] = audiences[account["id"]]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_config_check_refuses_a_bad_audience_id_in_one_line(engine: Engine, tmp_path: Path) -> None:
    path = write_config(engine, tmp_path, {"shop-meta": {"customers": "not-an-id"}})
    result = CliRunner().invoke(main, ["config", "check", "--config", str(path)])
    assert result.exit_code == 2
    assert "audience id 'not-an-id' must be the platform's numeric audience id" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_config_check_names_linkedins_partner_permission(engine: Engine, tmp_path: Path) -> None:
    path = write_config(engine, tmp_path, {"b2b": {"customers": 9001}, "shop-search": {"customers": 555}})
    result = CliRunner().invoke(main, ["config", "check", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "account b2b: LinkedIn audience sync" in result.output and "rw_dmp_segments" in result.output
    assert "sync_audience" in result.output  # a column of the permission matrix
    assert "account shop-search" not in result.output


def test_audiences_status_reports_a_skipped_linkedin_sync(engine: Engine, tmp_path: Path) -> None:
    path = write_config(engine, tmp_path, {"b2b": {"customers": "9001"}})
    with engine.begin() as connection:
        open_batch(connection, batch_id="ab" * 16, account_id="b2b", platform="linkedin", audience_id="9001",
                   segment="customers", operation="add", members=[("email", "0" * 64)], action_id=None, now=NOW)
        settle_batch(connection, "ab" * 16, "not_permitted", NOW, "the app lacks rw_dmp_segments")
    result = CliRunner().invoke(main, ["audiences", "status", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "b2b customers -> 9001: 0 members" in result.output
    assert "SKIPPED: the app lacks rw_dmp_segments" in result.output
    as_json = CliRunner().invoke(main, ["audiences", "status", "--json", "--config", str(path)])
    assert '"last_batch": "not_permitted"' in as_json.output


def test_audiences_status_lists_lookalikes(engine: Engine, tmp_path: Path) -> None:
    path = write_config(engine, tmp_path, {"shop-meta": {"vip": "2384"}})
    with engine.begin() as connection:
        start_lookalike(connection, account_id="shop-meta", seed_audience_id="2384", country="DE", ratio="0.02",
                        name="paid-media-agent lookalike of vip (DE, 0.02)", action_id=None, now=NOW)
        row = lookalike_of(connection, "shop-meta", "2384", "DE", "0.02")
        assert row is not None
        settle_lookalike(connection, row["id"], "created", "238000", None, NOW)
    result = CliRunner().invoke(main, ["audiences", "status", "--config", str(path)])
    assert "shop-meta lookalike of 2384 (DE, 0.02): created: 238000" in result.output, result.output


def test_one_audience_follows_one_segment(engine: Engine, tmp_path: Path) -> None:
    path = write_config(engine, tmp_path, {"shop-meta": {"customers": "2384", "vip": "2384"}})
    result = CliRunner().invoke(main, ["config", "check", "--config", str(path)])
    assert result.exit_code == 2 and "audience 2384 is named for more than one segment" in result.output


def test_audiences_sync_dry_run_says_what_it_would_do_and_sends_nothing(
        engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(engine, tmp_path, {"shop-meta": {"customers": "2384", "lapsed": "2385"}})
    # the CRM segments store is the seam the command reads members from
    monkeypatch.setattr("agent.commands.audiences.crm_segment_source",
                        Segments(customers=frozenset({email("ann")})))
    result = CliRunner().invoke(main, ["audiences", "sync", "--dry-run", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "sync_audience shop-meta/2384: reported" in result.output
    assert "shop-meta: no CRM segment 'lapsed' to sync from" in result.output
    with engine.connect() as connection:
        assert connection.execute(select(audience_batches)).first() is None
