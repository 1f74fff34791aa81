"""Importing CRM outcomes into a real database: idempotent, forward-moving, all-or-nothing per file,
no personal data in clear, attributed by click id and by UTM template, reported per channel."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, inspect, select, text

from agent.cli import main
from agent.clock import FixedClock
from agent.config import AgentConfig, parse_config
from agent.outcomes.importing import ImportResult, import_file
from agent.outcomes.mappings import load_mapping
from agent.outcomes.models import Attribution, Outcome
from agent.outcomes.report import ReportError, outcome_report
from agent.reports.dashboard import render_dashboard
from agent.storage import store
from connectors.records import Entity, MetricRow
from connectors.simulator.click_ids import SimulatedClick, encode_click_id
from tests.integration.conftest import small_config

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
RAW_EMAIL = "Jane.Roe+crm@Example.org"
HEADER = "crm_id,stage,stage_at,amount,currency,gclid,fbclid,li_fat_id,utm_source,utm_content,email\n"
GCLID = encode_click_id(SimulatedClick("shop-search", "s-c1", "s-as1", date(2026, 11, 2), 1))


def config_for(engine: Engine, **outcomes: Any) -> AgentConfig:
    raw = small_config(engine.url.render_as_string(hide_password=False),
                       reporting={"currency": "USD", "fx_rates": {"EUR": "1.10"}},
                       outcomes={"utm_templates": {"shop-meta": {"utm_source": "facebook",
                                                                 "utm_content": "as-{ad_set_id}"}}, **outcomes})
    return parse_config(raw, environ={})


def seed_platform_data(engine: Engine) -> None:
    """Two accounts' entities and spend, as a cycle would have stored them."""
    def entity(account: str, platform: str, level: str, entity_id: str, parent: str | None) -> Entity:
        return Entity(platform, account, level, entity_id, parent, entity_id, "ACTIVE", "USD")  # type: ignore[arg-type]

    def spend(account: str, entity_id: str, amount: str, currency: str, day: date) -> MetricRow:
        return MetricRow("simulator", account, "ad_set", entity_id, day, currency, Decimal(amount), 100, 10, 1.0,
                         Decimal(0))

    with engine.begin() as connection:
        store.upsert_entities(connection, [
            entity("shop-meta", "simulator", "campaign", "m-c1", None),
            entity("shop-meta", "simulator", "ad_set", "m-as1", "m-c1"),
            entity("shop-search", "simulator", "campaign", "s-c1", None),
            entity("shop-search", "simulator", "ad_set", "s-as1", "s-c1"),
        ], NOW)
        store.upsert_metrics(connection, [
            spend("shop-meta", "m-as1", "100", "EUR", date(2026, 11, 1)),
            spend("shop-search", "s-as1", "300", "USD", date(2026, 11, 1)),
            spend("shop-search", "s-as1", "50", "USD", date(2026, 10, 1)),
        ], NOW)


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(line + "\n" for line in lines))
    return path


def run_import(engine: Engine, config: AgentConfig, path: Path) -> ImportResult:
    return import_file(engine, config, path, "csv", load_mapping("plain"), NOW)


def table_dump(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(select(Outcome.__table__).order_by(Outcome.id)).all()
    return [tuple(row) for row in rows]


FIRST = [
    f"ann,lead,2026-11-02T10:00:00Z,,,{GCLID},,,,,",
    f"ann,sql,2026-11-09T10:00:00Z,,,{GCLID},,,,,",
    f"bo,lead,2026-11-03,,,,,,facebook,as-m-as1,{RAW_EMAIL}",
    "cy,lead,2026-11-04,,,,,,newsletter,,",
    "di,lead,2026-11-04,,,,IwAR-unknown,,,,",
]
LATER = [
    f"ann,sql,2026-11-09T10:00:00Z,,,{GCLID},,,,,",
    f"ann,opportunity,2026-11-15,20000,USD,{GCLID},,,,,",
    f"ann,won,2026-11-20,18000,USD,{GCLID},,,,,",
    f"bo,opportunity,2026-11-16,5000,EUR,,,,facebook,as-m-as1,{RAW_EMAIL}",
]


def test_re_import_changes_nothing_and_a_later_file_moves_records_forward(engine: Engine, tmp_path: Path) -> None:
    config = config_for(engine)
    first = run_import(engine, config, write(tmp_path, "first.csv", FIRST))
    assert (first.counts.inserted, first.counts.updated, first.counts.unchanged) == (5, 0, 0)
    before = table_dump(engine)
    again = run_import(engine, config, write(tmp_path, "first.csv", FIRST))
    assert (again.counts.inserted, again.counts.updated, again.counts.unchanged) == (0, 0, 5)
    assert table_dump(engine) == before
    later = run_import(engine, config, write(tmp_path, "later.csv", LATER))
    assert (later.counts.inserted, later.counts.unchanged) == (3, 1)
    with engine.connect() as connection:
        stages = connection.execute(select(Outcome.stage).where(Outcome.crm_id == "ann").order_by(Outcome.stage_at))
        assert list(stages.scalars()) == ["lead", "sql", "opportunity", "won"]


def test_attribution_by_click_id_then_utm_and_the_rest_counted(engine: Engine, tmp_path: Path) -> None:
    seed_platform_data(engine)
    config = config_for(engine)
    run_import(engine, config, write(tmp_path, "first.csv", FIRST))
    result = run_import(engine, config, write(tmp_path, "later.csv", LATER))
    assert result.attribution == {"click_id": 4, "utm": 2, "unattributed": 2}
    with engine.connect() as connection:
        rows = connection.execute(select(Outcome.crm_id, Attribution.method, Attribution.platform,
                                         Attribution.account_id, Attribution.campaign_id, Attribution.ad_set_id,
                                         Attribution.click_day, Attribution.reason)
                                  .join(Attribution, Attribution.outcome_id == Outcome.id)
                                  .where(Outcome.stage == "lead").order_by(Outcome.crm_id)).all()
    assert [tuple(row) for row in rows] == [
        ("ann", "click_id", "google_ads", "shop-search", "s-c1", "s-as1", date(2026, 11, 2), None),
        ("bo", "utm", "meta", "shop-meta", "m-c1", "m-as1", date(2026, 11, 3), None),
        ("cy", "unattributed", None, None, None, None, None, "UTM parameters match no account's template"),
        ("di", "unattributed", None, None, None, None, None, "click id not in the click map"),
    ]


def test_a_click_outside_the_window_is_not_attributed(engine: Engine, tmp_path: Path) -> None:
    config = config_for(engine, attribution_window_days=7)
    old = encode_click_id(SimulatedClick("shop-search", "s-c1", "s-as1", date(2026, 10, 1), 9))
    run_import(engine, config, write(tmp_path, "crm.csv", [f"old,lead,2026-11-02,,,{old},,,,,"]))
    with engine.connect() as connection:
        assert connection.execute(select(Attribution.reason)).scalar_one() == "click outside the attribution window"


def test_report_json_per_platform_blended_in_one_currency(engine: Engine, tmp_path: Path) -> None:
    seed_platform_data(engine)
    config = config_for(engine)
    run_import(engine, config, write(tmp_path, "first.csv", FIRST))
    run_import(engine, config, write(tmp_path, "later.csv", LATER))
    with engine.connect() as connection:
        report = outcome_report(connection, config, "platform")
        cohort = outcome_report(connection, config, "ad_set", since=date(2026, 11, 3))
    assert report == {
        "rows": [
            {"platform": "google_ads", "account": None, "campaign": None, "ad_set": None, "spend": "350.00",
             "leads": 1, "qualified_leads": 1, "cpql": "350.00", "opportunities": 1, "pipeline": "20000.00",
             "won": "18000.00", "pipeline_roas": 57.1429, "won_roas": 51.4286, "currency": "USD"},
            {"platform": "meta", "account": None, "campaign": None, "ad_set": None, "spend": "110.00",
             "leads": 1, "qualified_leads": 1, "cpql": "110.00", "opportunities": 1, "pipeline": "5500.00",
             "won": "0.00", "pipeline_roas": 50.0, "won_roas": 0.0, "currency": "USD"},
        ],
        "unattributed": {"leads": 2, "qualified_leads": 0, "opportunities": 0, "pipeline": "0.00", "won": "0.00",
                         "reasons": {"UTM parameters match no account's template": 1,
                                     "click id not in the click map": 1}, "currency": "USD"},
    }
    # a cohort from 3 Nov: ann clicked on 2 Nov and drops out; spend before 3 Nov too; no spend, no ROAS
    assert [(r["ad_set"], r["leads"], r["spend"], r["cpql"], r["pipeline_roas"]) for r in cohort["rows"]] == [
        ("m-as1", 1, "0.00", "0.00", None)]


def test_a_missing_exchange_rate_is_named(engine: Engine, tmp_path: Path) -> None:
    seed_platform_data(engine)
    raw = small_config(engine.url.render_as_string(hide_password=False))
    config = parse_config(raw, environ={})
    with engine.connect() as connection, pytest.raises(ReportError, match="reporting.fx_rates.EUR"):
        outcome_report(connection, config)


def test_the_raw_email_is_nowhere_in_the_database_or_the_logs(engine: Engine, tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    config = config_for(engine)
    bad = f"ev,lead,not-a-date,,,,,,,,{RAW_EMAIL}"
    run_import(engine, config, write(tmp_path, "crm.csv", [*FIRST, bad, "ev2,lead,2026-11-01,,,,,,,,not-an-email"]))
    needles = (RAW_EMAIL.lower(), RAW_EMAIL, "jane.roe")
    with engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                assert not any(needle in str(value) for value in row for needle in needles), table
        assert connection.execute(select(func.count()).where(Outcome.email_sha256.is_not(None))).scalar_one() == 1
    assert not any(needle in caplog.text for needle in needles)


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def config_file(tmp_path: Path, engine: Engine) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(small_config(engine.url.render_as_string(hide_password=False))))
    return path


def test_cli_reports_rejected_rows_with_line_numbers_and_exits_0(engine: Engine, tmp_path: Path) -> None:
    config = config_file(tmp_path, engine)
    path = write(tmp_path, "crm.csv", [*FIRST[:2], "zed,won,2026-11-03,12k,USD,,,,,,", ""])
    text_result = cli("outcomes", "import", str(path), "--config", str(config))
    assert text_result.exit_code == 0, text_result.output
    assert "rejected line 4: amount '12k' is not a number" in text_result.output
    json_result = cli("outcomes", "import", str(path), "--json", "--config", str(config))
    assert json_result.exit_code == 0
    answer = json.loads(json_result.output)
    assert answer["rejected"] == [{"line": 4, "reason": "amount '12k' is not a number"}]
    assert (answer["inserted"], answer["unchanged"]) == (0, 2)


@pytest.mark.parametrize("content", [b"\xff\xfe\x00\x01", b"crm_id,stage,stage_at\n,lead,x\nB,nope,2026-11-01\n",
                                     b"name,email\nann,a@b.c\n"])
def test_cli_unreadable_or_all_bad_file_exits_2_in_one_line_and_writes_nothing(
        engine: Engine, tmp_path: Path, content: bytes) -> None:
    config = config_file(tmp_path, engine)
    path = tmp_path / "crm.csv"
    path.write_bytes(content)
    for extra in ([], ["--json"]):
        result = cli("outcomes", "import", str(path), *extra, "--config", str(config))
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert len([line for line in result.output.splitlines() if line.strip()]) == 1, result.output
        assert result.output.startswith("error: ")
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Outcome)).scalar_one() == 0
        assert connection.execute(select(func.count()).select_from(Attribution)).scalar_one() == 0


def test_cli_report_outcomes_json_and_csv(engine: Engine, tmp_path: Path) -> None:
    seed_platform_data(engine)
    config = config_file(tmp_path, engine)
    cli("outcomes", "import", str(write(tmp_path, "crm.csv", FIRST)), "--config", str(config))
    result = cli("report", "outcomes", "--by", "account", "--format", "json", "--config", str(config))
    # the small config has no EUR rate: the report says which one to set
    assert result.exit_code == 2 and "reporting.fx_rates.EUR" in result.output
    raw = yaml.safe_load(config.read_text())
    raw["reporting"] = {"fx_rates": {"EUR": "1.1"}}
    config.write_text(yaml.safe_dump(raw))
    result = cli("report", "outcomes", "--by", "account", "--format", "json", "--config", str(config))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) == {"rows", "unattributed"}
    assert [(r["platform"], r["account"], r["leads"]) for r in report["rows"]] == [
        ("google_ads", "shop-search", 1), ("meta", "shop-meta", 0)]
    assert report["unattributed"]["leads"] == 3
    csv_result = cli("report", "outcomes", "--format", "csv", "--config", str(config))
    assert csv_result.output.splitlines()[0].startswith("platform,account,campaign,ad_set,spend,leads,qualified_leads,cpql")


def test_the_dashboard_shows_the_outcomes_of_the_accounts_its_reader_may_see(engine: Engine, tmp_path: Path) -> None:
    seed_platform_data(engine)
    config = config_for(engine)
    run_import(engine, config, write(tmp_path, "first.csv", FIRST))
    html = render_dashboard(engine, config, FixedClock.at_day(date(2026, 11, 23)))
    assert 'id="outcomes-table"' in html and "<td>google_ads</td><td>350.00</td><td>1</td>" in html
    limited = config.model_copy(update={"accounts": [a for a in config.accounts if a.id == "shop-meta"]})
    assert "google_ads" not in str(outcome_report_for(engine, limited)["rows"])


def outcome_report_for(engine: Engine, config: AgentConfig) -> dict[str, Any]:
    with engine.connect() as connection:
        return outcome_report(connection, config)
