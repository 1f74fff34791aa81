"""Segment rules on plain records: who is in, with which consent (no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from agent.config import AgentConfig, parse_config
from agent.customers.customer_list import ALIASES, BadHeader, build_customer, plan_columns
from agent.customers.membership import SourceRecord, compute_members
from agent.customers.settings import LIST_COLUMNS, SegmentDefinition
from agent.outcomes.importing import parse_rows
from agent.outcomes.mappings import load_mapping
from agent.outcomes.reader import Row
from agent.outcomes.records import RejectedRow
from agent.reports.customer_share import wilson_interval
from tests.integration.conftest import small_config

NOW = datetime(2026, 12, 1, tzinfo=UTC)
A, B, C = ("email", "a" * 64), ("email", "b" * 64), ("phone", "c" * 64)


def segment(**values: object) -> SegmentDefinition:
    return SegmentDefinition.model_validate({"name": "s", **values})


def record(source: str, identifiers: set[tuple[str, str]], **values: object) -> SourceRecord:
    return SourceRecord(source, "customers" if source == "lists" else None, "id", set(identifiers), **values)  # type: ignore[arg-type]


def members_of(definition: SegmentDefinition, records: list[SourceRecord]) -> dict[tuple[str, str], bool]:
    return compute_members([definition], records, NOW)[("s", definition.kind)]


def test_consent_needs_a_grant_and_no_denial() -> None:
    records = [record("lists", {A}, customer=True, consent=True),
               record("lists", {B}, customer=True, consent=True), record("outcomes", {B}, consent=False),
               record("lists", {C}, customer=True)]
    assert members_of(segment(kind="existing_customers"), records) == {A: True, B: False, C: False}


def test_lapsed_is_judged_on_the_latest_purchase_of_an_identifier_across_records() -> None:
    old, recent = datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
    records = [record("lists", {A}, customer=True, last_purchase=old),
               record("outcomes", {A}, customer=True, last_purchase=recent),
               record("lists", {B}, customer=True, last_purchase=old), record("lists", {C}, customer=True)]
    assert set(members_of(segment(kind="lapsed", days_without_purchase=180), records)) == {B}
    only_lists = segment(kind="lapsed", days_without_purchase=180, sources=["lists"])
    assert set(members_of(only_lists, records)) == {A, B}


def test_high_value_is_strictly_above_the_threshold() -> None:
    records = [record("lists", {A}, value=Decimal("1000")), record("lists", {B}, value=Decimal("1000.01")),
               record("lists", {C})]
    assert set(members_of(segment(kind="high_value", amount_above=1000), records)) == {B}


@pytest.mark.parametrize(("rule", "expected"), [
    ({"equals": "GOLD"}, {A}), ({"in": ["silver", "gold"]}, {A, B}), ({"greater_than": 10}, {C}),
    ({"greater_than": 1, "less_than": 50}, {C}),
])
def test_field_rules_read_crm_fields_of_list_entries(rule: dict[str, object], expected: set[object]) -> None:
    records = [record("lists", {A}, fields={"tier": "Gold", "seats": "n/a"}),
               record("lists", {B}, fields={"tier": " silver", "seats": "1"}),
               record("lists", {C}, fields={"seats": "25"}), record("outcomes", {A, B, C})]
    field = "seats" if {"greater_than", "less_than"} & set(rule) else "tier"
    assert set(members_of(segment(kind="field", field=field, **rule), records)) == expected


def test_a_segment_reads_only_its_lists() -> None:
    records = [record("lists", {A}, customer=True), SourceRecord("lists", "vip", "v1", {B}, customer=True)]
    assert set(members_of(segment(kind="existing_customers", lists=["vip"]), records)) == {B}


def test_customer_list_columns_and_rows() -> None:
    assert set(ALIASES) == set(LIST_COLUMNS)
    plan = plan_columns(["Customer_ID", "E-mail", "Plan", "Notes"], {"plan"})
    assert plan.kept_fields == {"plan": "Plan"} and plan.ignored == ("Notes",)
    entry = build_customer({"Customer_ID": "7", "E-mail": " Ann@Example.COM ", "Plan": "gold", "Notes": "x"}, plan)
    assert entry.customer_id == "7" and entry.fields == (("plan", "gold"),) and entry.phone_sha256 is None
    assert entry.email_sha256 == "71d4f55f72fa128dfb468a1a3901507c804b74316488744d769d7f4b16696476"
    with pytest.raises(RejectedRow, match="^email is not an email address$"):
        build_customer({"Customer_ID": "7", "E-mail": "ann(at)example.com"}, plan)
    with pytest.raises(BadHeader, match="no id column"):
        plan_columns(["email"], set())


def test_wilson_interval_brackets_the_share() -> None:
    low, high = wilson_interval(5, 10)
    assert low is not None and high is not None and low < 0.5 < high
    assert wilson_interval(0, 0) == (None, None)
    assert wilson_interval(0, 20)[0] == 0.0


def test_a_dumped_config_with_segments_validates_back() -> None:
    config = parse_config(small_config("sqlite://", segments=[
        {"name": "plan", "kind": "field", "field": "plan", "in": ["a", "b"]}]), environ={})
    again = AgentConfig.model_validate(config.model_dump(mode="python"))
    assert again.segments == config.segments and again.segments[0].in_ == ("a", "b")


def test_a_shifted_column_never_puts_an_email_or_phone_in_a_reason() -> None:
    plan = plan_columns(["id", "email", "last_purchase", "amount", "currency"], set())
    cases = [({"last_purchase": "Ann@Example.com"}, "last_purchase '<looks like an email or phone>' is not a date"),
             ({"last_purchase": "+49 170 1234567"}, "last_purchase '<looks like an email or phone>' is not"),
             ({"amount": "ann@example.com", "currency": "USD"}, "amount '<looks like an email or phone>' is not"),
             ({"last_purchase": "2026-13-45"}, "last_purchase '2026-13-45' is not a date")]
    for cells, reason in cases:
        with pytest.raises(RejectedRow) as error:
            build_customer({"id": "1", "email": "b@example.com", **cells}, plan)
        assert str(error.value).startswith(reason)


def test_outcome_rows_redact_a_shifted_email_too() -> None:
    _records, rejected = parse_rows([Row(2, {"crm_id": "1", "stage": "lead", "stage_at": "ann@example.com"})],
                                    load_mapping("plain"))
    assert [r.reason for r in rejected] == ["stage_at '<looks like an email or phone>' is not a date or ISO 8601 "
                                            "timestamp"]
