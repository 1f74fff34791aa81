"""The three shipped mappings turn real-looking exports into outcome records; bad rows say why."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from agent.config import parse_config
from agent.errors import ConfigError
from agent.outcomes.importing import parse_rows
from agent.outcomes.mappings import MappingError, load_mapping
from agent.outcomes.reader import UnreadableFile, read_rows
from agent.outcomes.records import normalize_phone
from agent.outcomes.settings import OutcomeSettings


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def records_of(path: Path, mapping_name: str) -> tuple[list, list]:
    mapping = load_mapping(mapping_name)
    header, rows = read_rows(path, "csv" if path.suffix == ".csv" else "jsonl")
    mapping.check_header(header)
    return parse_rows(rows, mapping)


def test_plain_csv_one_row_per_stage_with_amount_and_click_ids(tmp_path: Path) -> None:
    path = write(tmp_path, "crm.csv",
                 "crm_id,stage,stage_at,amount,currency,gclid,fbc,utm_source,email,phone\n"
                 "L-1,lead,2026-11-02T09:30:00Z,,,Cj0KCQ,,google,Ann@Example.COM ,+44 20 7946 0958\n"
                 "L-1,opportunity,2026-11-20,25000,eur,,fb.1.1700000000000.IwAR2x,,,\n")
    records, rejected = records_of(path, "plain")
    assert rejected == []
    lead, opportunity = records
    assert (lead.crm_id, lead.stage, lead.stage_at) == ("L-1", "lead", datetime(2026, 11, 2, 9, 30, tzinfo=UTC))
    assert lead.gclid == "Cj0KCQ" and lead.utm_source == "google"
    assert lead.email_sha256 == hashlib.sha256(b"ann@example.com").hexdigest()
    assert lead.phone_sha256 == hashlib.sha256(b"+442079460958").hexdigest()
    assert (opportunity.amount, opportunity.currency) == (Decimal("25000"), "EUR")
    assert opportunity.fbc == "fb.1.1700000000000.IwAR2x"


def test_hubspot_contacts_export_gives_one_record_per_lifecycle_date(tmp_path: Path) -> None:
    path = write(tmp_path, "hubspot-contacts.csv",
                 "Record ID,First Name,Email,Phone Number,Lifecycle Stage,Create Date,Became a Lead Date,"
                 "Became a Marketing Qualified Lead Date,Became a Sales Qualified Lead Date,"
                 "Became an Opportunity Date,Became a Customer Date,Google ad click id,Facebook click id\n"
                 "1501,Ann,ann@example.com,,salesqualifiedlead,2026-10-01 08:00,2026-10-01 08:00,"
                 "2026-10-03 10:00,2026-10-09 16:45,,,Cj0KCQiA,\n"
                 "1502,Bo,,,lead,2026-10-05 11:00,2026-10-05 11:00,,,,,,IwAR0\n")
    records, rejected = records_of(path, "hubspot")
    assert rejected == []
    assert [(r.crm_id, r.stage) for r in records] == [("1501", "lead"), ("1501", "mql"), ("1501", "sql"),
                                                     ("1502", "lead")]
    assert records[0].gclid == "Cj0KCQiA" and records[3].fbclid == "IwAR0"


def test_hubspot_deals_export_gives_opportunity_and_close(tmp_path: Path) -> None:
    path = write(tmp_path, "hubspot-deals.csv",
                 "Record ID,Deal Name,Deal Stage,Amount,Currency,Create Date,Close Date,Associated Contact IDs\n"
                 "9001,Acme renewal,closedwon,48000,USD,2026-10-20,2026-11-15,1501;1777\n"
                 "9002,Initech,Closed Lost,12000,USD,2026-10-22,2026-11-18,1502\n"
                 "9003,Globex,appointmentscheduled,5000,USD,2026-11-01,,\n")
    records, rejected = records_of(path, "hubspot")
    assert rejected == []
    assert [(r.crm_id, r.stage, r.amount) for r in records] == [
        ("1501", "opportunity", Decimal(48000)), ("1501", "won", Decimal(48000)),
        ("1502", "opportunity", Decimal(12000)), ("1502", "lost", None),
        ("9003", "opportunity", Decimal(5000)),
    ]


def test_salesforce_converted_leads_report(tmp_path: Path) -> None:
    path = write(tmp_path, "salesforce.csv",
                 '\ufeff"Lead ID","Lead Status","Create Date","Converted Date","Email","GCLID","Opportunity ID",'
                 '"Stage","Amount","Opportunity Currency","Created Date","Close Date"\n'
                 '"00Q5e00000AbCdE","Closed - Converted","2026-09-01","2026-09-10","x@y.io","Cj0K","0065e00000XyZ",'
                 '"Closed Won","30,000.00","USD","2026-09-10","2026-10-30"\n'
                 '"00Q5e00000AbCdF","Open - Not Contacted","2026-09-02","","","","","","","","",""\n')
    records, rejected = records_of(path, "salesforce")
    assert rejected == []
    assert [(r.crm_id, r.stage, r.amount) for r in records] == [
        ("00Q5e00000AbCdE", "lead", None), ("00Q5e00000AbCdE", "sql", None),
        ("00Q5e00000AbCdE", "opportunity", Decimal("30000.00")), ("00Q5e00000AbCdE", "won", Decimal("30000.00")),
        ("00Q5e00000AbCdF", "lead", None),
    ]


def test_bad_rows_are_reported_by_line_and_good_rows_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "crm.csv",
                 "crm_id,stage,stage_at,amount,currency\n"
                 "A,lead,2026-11-01,,\n"
                 ",lead,2026-11-01,,\n"
                 "B,demo booked,2026-11-01,,\n"
                 '"C","won","2026-11-0\n1",10,USD\n'
                 "D,won,2026-11-03,12k,USD\n"
                 "E,won,2026-11-03,100,\n"
                 "F,sql,yesterday,,\n"
                 "G,sql,2026-11-03,,,extra\n")
    records, rejected = records_of(path, "plain")
    assert [r.crm_id for r in records] == ["A"]
    assert [(r.line, r.reason) for r in rejected] == [
        (3, "crm_id is empty"),
        (4, "unknown stage 'demo booked' (one of lead, mql, sql, opportunity, won, lost)"),
        (5, "stage_at '2026-11-0\\n1' is not a date or ISO 8601 timestamp"),
        (7, "amount '12k' is not a number"),
        (8, "amount has no currency"),
        (9, "stage_at 'yesterday' is not a date or ISO 8601 timestamp"),
        (10, "more fields than the header has columns"),
    ]


def test_jsonl_lines_are_numbered_too(tmp_path: Path) -> None:
    path = write(tmp_path, "crm.jsonl",
                 '{"crm_id": "A", "stage": "lead", "stage_at": "2026-11-01"}\n\n[1]\n'
                 '{"crm_id": "B", "stage": "won", "stage_at": "2026-11-02", "amount": 5, "currency": "GBP"}\n')
    records, rejected = records_of(path, "plain")
    assert [(r.crm_id, r.amount) for r in records] == [("A", None), ("B", Decimal(5))]
    assert [(r.line, r.reason) for r in rejected] == [(3, "not a JSON object")]


@pytest.mark.parametrize("content, problem", [
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b"", "no data rows"),
    (b"crm_id,stage,stage_at\n", "no data rows"),
    (b'crm_id,stage\n"unterminated,lead\n', "not CSV"),
])
def test_unreadable_files_are_named_with_the_reason(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "crm.csv"
    path.write_bytes(content)
    with pytest.raises(UnreadableFile, match=problem):
        read_rows(path, "csv")


def test_a_file_without_the_mappings_columns_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "crm.csv", "id,status\n1,lead\n")
    header, _rows = read_rows(path, "csv")
    with pytest.raises(MappingError, match="no crm_id column"):
        load_mapping("hubspot").check_header(header)


def test_an_unknown_mapping_names_the_built_in_ones() -> None:
    with pytest.raises(MappingError, match="hubspot, plain, salesforce"):
        load_mapping("pipedrive")


@pytest.mark.parametrize("raw, normal", [("+1 (415) 555-0100", "+14155550100"), ("0044 20 7946 0958", "+442079460958"),
                                         ("12", None)])
def test_phone_normalization(raw: str, normal: str | None) -> None:
    assert normalize_phone(raw) == normal


def test_a_weak_webhook_secret_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="too short"):
        OutcomeSettings(webhook_secret="hunter2")  # type: ignore[arg-type]


def test_an_unknown_qualified_stage_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="unknown stage 'customer'"):
        OutcomeSettings(qualified_stage="customer")


def test_a_utm_template_for_an_account_that_is_not_configured_is_a_config_error() -> None:
    raw = {"accounts": [{"id": "a1", "platform": "simulator", "simulate": "meta"}],
           "outcomes": {"utm_templates": {"a2": {"utm_content": "{ad_set_id}"}}}}
    with pytest.raises(ConfigError) as error:
        parse_config(raw, environ={})
    assert "outcomes.utm_templates names accounts that are not configured: a2" in str(error.value.problems)


def test_salesforce_dates_in_the_us_locale(tmp_path: Path) -> None:
    path = write(tmp_path, "salesforce.csv",
                 "Lead ID,Lead Status,Create Date,Converted Date\n"
                 "00Q1,Closed - Converted,9/1/2026,9/10/2026 4:30 PM\n")
    records, rejected = records_of(path, "salesforce")
    assert rejected == []
    assert [r.stage_at for r in records] == [datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 9, 10, 16, 30, tzinfo=UTC)]


def test_a_currency_code_before_the_amount_is_read_as_its_currency(tmp_path: Path) -> None:
    path = write(tmp_path, "salesforce.csv",
                 "Opportunity ID,Stage,Amount,Created Date,Close Date\n"
                 '0061,Closed Won,"EUR 30,000.00",2026-09-10,2026-10-30\n')
    records, rejected = records_of(path, "salesforce")
    assert rejected == []
    assert {(r.stage, r.amount, r.currency) for r in records} == {("opportunity", Decimal(30000), "EUR"),
                                                                  ("won", Decimal(30000), "EUR")}
