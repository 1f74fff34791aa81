"""CRM segments on a real database (SQLite and PostgreSQL): customer lists imported with identifiers
hashed, segments' members and consent, the new-vs-existing-customer share, erasure and retention."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from sqlalchemy import Engine, insert, inspect, select, text

from agent.cli import main
from agent.config import AgentConfig, parse_config
from agent.customers.importing import import_customer_list
from agent.customers.privacy import forget, identifier_of, prune, refresh_at_cycle_start
from agent.cycle.run import run_cycle
from agent.outcomes.importing import import_file
from agent.outcomes.mappings import load_mapping
from agent.outcomes.models import ConversionUpload
from agent.outcomes.records import sha256_hex
from agent.reports.customer_share import customer_share
from agent.storage import store
from agent.storage.crm_segments import (
    Member,
    SegmentNotComputed,
    clear_forgotten,
    crm_customers,
    forgotten,
    members,
)
from connectors.records import Entity
from connectors.simulator.click_ids import SimulatedClick, encode_click_id
from tests.integration.conftest import make_world, small_config

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
ANN, BOB, CAROL = "Ann.Lee@Example.com", "bob@example.org", "carol@example.net"
ANN_PHONE = "0049 170 1234567"
SEGMENTS = [
    {"name": "existing-customers", "kind": "existing_customers"},
    {"name": "high-value", "kind": "high_value", "amount_above": 1000},
    {"name": "lapsed", "kind": "lapsed", "days_without_purchase": 180},
    {"name": "enterprise", "kind": "field", "field": "plan", "in": ["enterprise", "Enterprise Plus"]},
    {"name": "vip-list", "kind": "existing_customers", "sources": ["lists"], "lists": ["vip"]},
]
LIST_HEADER = "id,email,phone,amount,currency,last_purchase,customer_since,marketing_consent,plan,first_name\n"
CUSTOMERS = [
    f"C1,{ANN},{ANN_PHONE},2500,USD,2026-11-01,2025-03-01,yes,enterprise,Ann",
    f"C2,{BOB},,300,USD,2025-01-10,2024-06-01,no,starter,Bob",
    f"C3,{CAROL},,1200,EUR,2026-10-01,,,Enterprise Plus,Carol",
]


def config_for(engine: Engine, **overrides: Any) -> AgentConfig:
    raw = small_config(engine.url.render_as_string(hide_password=False), segments=SEGMENTS,
                       reporting={"currency": "USD", "fx_rates": {"EUR": "1.10"}}, **overrides)
    return parse_config(raw, environ={})


def write(tmp_path: Path, name: str, lines: list[str], header: str = LIST_HEADER) -> Path:
    path = tmp_path / name
    path.write_text(header + "".join(line + "\n" for line in lines))
    return path


def import_list(engine: Engine, config: AgentConfig, path: Path, list_name: str = "customers",
                now: datetime = NOW) -> Any:
    return import_customer_list(engine, config, path, "csv", list_name, now)


def database_text(engine: Engine) -> str:
    """Every row of every table, as text: what a leak would show up in."""
    chunks = []
    with engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            chunks += [repr(tuple(row)) for row in connection.execute(text(f'SELECT * FROM "{table}"'))]
    return "\n".join(chunks)


def hashed(kind_value: str) -> str:
    return identifier_of(kind_value)[1]


def member_set(engine: Engine, name: str) -> set[tuple[str, str, bool]]:
    with engine.connect() as connection:
        return {(m.kind, m.sha256, m.consent) for m in members(connection, name)}


def test_import_hashes_identifiers_keeps_only_fields_rules_read_and_computes_members(
        engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    config = config_for(engine)
    result = import_list(engine, config, write(tmp_path, "crm.csv", CUSTOMERS))
    assert (result.counts.inserted, result.counts.updated, result.counts.unchanged) == (3, 0, 0)
    assert result.kept_fields == ("plan",) and result.ignored_columns == ("first_name",)
    everything = database_text(engine).lower()
    for raw in (ANN.lower(), BOB, CAROL, "1701234567", "ann.lee", "carol"):
        assert raw not in everything
        assert raw not in caplog.text.lower()
    ann_email, ann_phone = sha256_hex("ann.lee@example.com"), sha256_hex("+491701234567")
    assert hashed(ANN) == ann_email and hashed(ANN_PHONE) == ann_phone  # one normalization, import and forget
    bob, carol = hashed(BOB), hashed(CAROL)
    assert member_set(engine, "existing-customers") == {
        ("email", ann_email, True), ("phone", ann_phone, True), ("email", bob, False), ("email", carol, False)}
    # 1200 EUR is 1320 USD in the reporting currency
    assert {sha for _k, sha, _c in member_set(engine, "high-value")} == {ann_email, ann_phone, carol}
    assert {sha for _k, sha, _c in member_set(engine, "lapsed")} == {bob}
    assert {sha for _k, sha, _c in member_set(engine, "enterprise")} == {ann_email, ann_phone, carol}
    assert member_set(engine, "vip-list") == set()  # reads only the list `vip`
    with engine.connect() as connection, pytest.raises(SegmentNotComputed):
        members(connection, "no-such-segment")


def test_re_import_is_idempotent_and_a_later_list_updates_entries(engine: Engine, tmp_path: Path) -> None:
    config = config_for(engine)
    path = write(tmp_path, "crm.csv", CUSTOMERS)
    import_list(engine, config, path)

    def rows() -> list[tuple[Any, ...]]:
        with engine.connect() as connection:
            return [tuple(r) for r in connection.execute(
                select(crm_customers).with_only_columns(*(c for c in crm_customers.c if c.name != "last_seen_at"))
                .order_by(crm_customers.c.id))]

    before = rows()
    again = import_list(engine, config, path, now=NOW + timedelta(days=1))
    assert (again.counts.inserted, again.counts.updated, again.counts.unchanged) == (0, 0, 3)
    assert rows() == before
    later = import_list(engine, config, write(tmp_path, "later.csv", [
        f"C2,{BOB},,300,USD,2025-01-10,2024-06-01,yes,starter,Bob"]))
    assert (later.counts.inserted, later.counts.updated, later.counts.unchanged) == (0, 1, 0)
    assert ("email", hashed(BOB), True) in member_set(engine, "existing-customers")  # consent now given


def test_bad_rows_are_reported_by_line_without_their_values(engine: Engine, tmp_path: Path) -> None:
    config = config_for(engine)
    result = import_list(engine, config, write(tmp_path, "crm.csv", [
        CUSTOMERS[0], "C4,not-an-email,,,,,,,,", "C5,,,,,,,,,", "C6,x@example.com,,12k,USD,,,,,",
        "C7,y@example.com,,,,yesterday,,,,", "C8,z@example.com,,,,,,maybe,,", ",w@example.com,,,,,,,,"]))
    assert [(r.line, r.reason) for r in result.rejected] == [
        (3, "email is not an email address"), (4, "no email or phone"), (5, "amount '12k' is not a number"),
        (6, "last_purchase 'yesterday' is not a date or ISO 8601 timestamp"),
        (7, "marketing_consent 'maybe' is not yes or no"), (8, "id is empty")]
    assert result.counts.inserted == 1


def test_json_lines_lists_read_the_same_columns(engine: Engine, tmp_path: Path) -> None:
    config = config_for(engine)
    path = tmp_path / "crm.jsonl"
    path.write_text("\n".join([
        json.dumps({"customer_id": "C1", "Email": ANN, "ltv": 2500, "currency": "USD", "consent": "true",
                    "plan": "enterprise", "notes": "likes cats"}),
        "[1, 2]",
        json.dumps({"customer_id": "C2", "mobile": ANN_PHONE, "accepts_marketing": False}),
    ]) + "\n")
    result = import_customer_list(engine, config, path, "jsonl", "customers", NOW)
    assert result.counts.inserted == 2 and [(r.line, r.reason) for r in result.rejected] == [(2, "not a JSON object")]
    assert "notes" in result.ignored_columns and "cats" not in database_text(engine)
    assert member_set(engine, "enterprise") == {("email", hashed(ANN), True)}
    # the same phone on another entry that denies consent: no consent for it
    assert ("phone", hashed(ANN_PHONE), False) in member_set(engine, "existing-customers")


def cli(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=stdin)


def config_file(engine: Engine, tmp_path: Path, **overrides: Any) -> list[str]:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(small_config(engine.url.render_as_string(hide_password=False),
                                                segments=SEGMENTS, **overrides)))
    return ["--config", str(path)]


def customer_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return len(connection.execute(select(crm_customers.c.id)).all())


def test_cli_refuses_what_cannot_be_imported_with_one_line_and_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    common = config_file(engine, tmp_path)
    bad_rows_only = write(tmp_path, "bad.csv", [f"C1,{ANN.replace('@', ' at ')},,,,,,,,", "C2,,,,,,,,,"])
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00id")
    cases = {
        str(tmp_path / "missing.csv"): "no such file",
        str(tmp_path / "binary.csv"): "not UTF-8",
        str(write(tmp_path, "noid.csv", ["a@example.com"], header="email\n")): "no id column",
        str(write(tmp_path, "noident.csv", ["C1,gold"], header="id,plan\n")): "no email or phone column",
        str(write(tmp_path, "empty.csv", [])): "no data rows",
        str(bad_rows_only): "all 2 rows rejected",
    }
    for path, message in cases.items():
        result = cli("segments", "import", path, *common)
        assert result.exit_code == 2, (path, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.output
        assert "ann.lee" not in result.output.lower()
    assert customer_count(engine) == 0
    good = cli("segments", "import", str(write(tmp_path, "ok.csv", CUSTOMERS[:1] + ["C9,,,,,,,,,"])), *common)
    assert good.exit_code == 0 and "rejected line 3: no email or phone" in good.output
    assert ANN.lower() not in good.output.lower()
    listed = json.loads(cli("segments", "list", "--format", "json", *common).output)
    sizes = {s["name"]: (s["size"], s["consented"]) for s in listed["segments"]}
    assert sizes["existing-customers"] == (2, 2) and sizes["lapsed"] == (0, 0)


def test_config_check_names_the_segment_and_field(engine: Engine, tmp_path: Path) -> None:
    for segment, expected in [
        ({"name": "big", "kind": "high_value"}, "segment 'big': amount_above: required for kind high_value"),
        ({"name": "big", "kind": "high_value", "amount_above": "lots"}, "segment 'big': amount_above:"),
        ({"name": "old", "kind": "lapsed", "days_without_purchase": 0}, "segment 'old': days_without_purchase:"),
        ({"name": "plan", "kind": "field", "field": "plan"}, "segment 'plan': field: give one of"),
        ({"name": "plan", "kind": "field", "field": "plan", "equals": "a", "in": ["b"]}, "segment 'plan': in:"),
        ({"name": "x", "kind": "existing_customers", "amount_above": 3}, "segment 'x': amount_above: not used"),
        ({"name": "x", "kind": "existing_customers", "sorces": ["lists"]}, "segment 'x': sorces: unknown key"),
        ({"name": "Bad Name", "kind": "existing_customers"}, "segment 'Bad Name': name:"),
    ]:
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(small_config("sqlite:///x.db", segments=[segment])))
        result = cli("config", "check", "--config", str(path))
        assert result.exit_code == 2 and "segments[0]" in result.output and expected in result.output, result.output
        assert "Traceback" not in result.output


def test_config_check_warns_when_retention_is_shorter_than_a_lapse(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(small_config("sqlite:///x.db", segments=SEGMENTS, privacy={"retention_days": 90})))
    result = cli("config", "check", "--config", str(path))
    assert result.exit_code == 0
    assert "segment 'lapsed': days_without_purchase 180 is beyond privacy.retention_days 90" in result.output


# -- outcomes and the new-vs-existing share ---------------------------------------------------------------------

OUTCOME_HEADER = "crm_id,stage,stage_at,amount,currency,gclid,email,phone,ad_personalization\n"


def click(day: date, n: int) -> str:
    return encode_click_id(SimulatedClick("shop-search", "s-c1", "s-as1", day, n))


def seed_entities(engine: Engine) -> None:
    with engine.begin() as connection:
        store.upsert_entities(connection, [
            Entity("simulator", "shop-search", "campaign", "s-c1", None, "c", "ACTIVE", "USD"),
            Entity("simulator", "shop-search", "ad_set", "s-as1", "s-c1", "a", "ACTIVE", "USD"),
        ], NOW)


OUTCOMES = [
    # Ann: on the customer list since 2025: a returning customer
    f"L1,lead,2026-11-05,,,{click(date(2026, 11, 5), 1)},{ANN},,granted",
    # Dan: new lead that the ads turned into a customer: still a new customer's conversion
    f"L2,lead,2026-11-06,,,{click(date(2026, 11, 6), 2)},dan@example.com,,",
    f"L2,won,2026-11-12,900,USD,{click(date(2026, 11, 6), 2)},,,",
    # Dan again, after his first purchase: an existing customer now
    f"L3,lead,2026-11-20,,,{click(date(2026, 11, 20), 3)},dan@example.com,,",
    # Eve: new
    f"L4,lead,2026-11-21,,,{click(date(2026, 11, 21), 4)},eve@example.com,,denied",
]


def import_outcomes(engine: Engine, config: AgentConfig, tmp_path: Path, lines: list[str] = OUTCOMES) -> None:
    path = write(tmp_path, "outcomes.csv", lines, header=OUTCOME_HEADER)
    import_file(engine, config, path, "csv", load_mapping("plain"), NOW)


def test_existing_customer_share_counts_people_who_were_customers_before_they_converted(
        engine: Engine, tmp_path: Path) -> None:
    seed_entities(engine)
    config = config_for(engine)
    import_list(engine, config, write(tmp_path, "crm.csv", CUSTOMERS))
    import_outcomes(engine, config, tmp_path)
    with engine.connect() as connection:
        section = customer_share(connection, config, date(2026, 11, 1), date(2026, 11, 24))
    assert section["segment"] == "existing-customers" and "cannot be observed" in section["note"]
    assert [(r["account"], r["conversions"], r["existing"], r["new"]) for r in section["rows"]] == [
        ("shop-search", 4, 2, 2)]
    row = section["rows"][0]
    assert row["existing_share"] == 0.5 and row["existing_share_low"] < 0.5 < row["existing_share_high"]
    with engine.connect() as connection:  # a narrower period counts only its clicks
        later = customer_share(connection, config, date(2026, 11, 19), date(2026, 11, 24))
    assert [(r["conversions"], r["existing"]) for r in later["rows"]] == [(2, 1)]


def test_outcomes_feed_segments_with_their_consent(engine: Engine, tmp_path: Path) -> None:
    seed_entities(engine)
    config = config_for(engine)
    import_outcomes(engine, config, tmp_path)  # the import itself recomputes the segments
    dan = hashed("dan@example.com")
    assert member_set(engine, "existing-customers") == {("email", dan, False)}  # won; no consent recorded
    assert member_set(engine, "high-value") == set()  # 900 is not above 1000


def test_report_segments_json_carries_the_share(engine: Engine, tmp_path: Path) -> None:
    seed_entities(engine)
    common = config_file(engine, tmp_path)
    config = config_for(engine)
    import_list(engine, config, write(tmp_path, "crm.csv", CUSTOMERS))
    import_outcomes(engine, config, tmp_path)
    result = cli("report", "segments", "--format", "json", "--today", "2026-11-25", *common)
    assert result.exit_code == 0, result.output
    customers = json.loads(result.output)["customers"]
    assert customers["rows"][0]["account"] == "shop-search" and customers["rows"][0]["existing"] == 2
    textual = cli("report", "segments", "--today", "2026-11-25", *common).output
    assert "New vs existing customers" in textual and "cannot be observed" in textual


# -- privacy ------------------------------------------------------------------------------------------------------

def test_forget_erases_a_person_everywhere_and_audits_no_personal_data(
        engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    seed_entities(engine)
    config = config_for(engine)
    import_list(engine, config, write(tmp_path, "crm.csv", CUSTOMERS))
    import_outcomes(engine, config, tmp_path)
    with engine.begin() as connection:
        connection.execute(insert(ConversionUpload), [
            {"crm_id": "L1", "stage": "lead", "platform": "google_ads", "account_id": "shop-search",
             "destination": "1", "event_id": "pma-1", "state": "uploaded", "updated_at": NOW},
            {"crm_id": "L4", "stage": "lead", "platform": "google_ads", "account_id": "shop-search",
             "destination": "1", "event_id": "pma-4", "state": "uploaded", "updated_at": NOW}])
    ann_email, ann_phone = hashed(ANN), hashed(ANN_PHONE)
    assert ann_email in database_text(engine)
    common = config_file(engine, tmp_path)
    # the phone, read from standard input: the person's email, their CRM record L1 and its upload go too
    result = cli("privacy", "forget", "-", *common, stdin=ANN_PHONE + "\n")
    assert result.exit_code == 0, result.output
    assert "removed 1 outcomes, 1 customer-list entries" in result.output
    everything = database_text(engine)
    with engine.connect() as connection:
        marked = forgotten(connection)
        audit = connection.execute(text("SELECT event, message, data FROM audit_events")).all()
    # the phone in Meta's form too (its digits without the +): Meta audiences hold that hash
    ann_meta_phone = sha256_hex("491701234567")
    assert marked == {("email", ann_email), ("phone", ann_phone), ("phonedig", ann_meta_phone)}
    for sha in (ann_email, ann_phone, ann_meta_phone):  # only the marker for the next audience sync holds them
        assert everything.count(sha) == 1
    assert "'L1'" not in everything and "pma-1" not in everything and "pma-4" in everything
    forget_events = [row for row in audit if row.event == "privacy_forget"]
    assert len(forget_events) == 1
    audit_text = repr([tuple(row) for row in audit])
    for needle in (ann_email, ann_phone, ann_meta_phone, "ann.lee", "1701234567", "L1"):
        assert needle not in audit_text and needle not in caplog.text and needle not in result.output
    request_id = json.loads(forget_events[0].data)["request_id"] if isinstance(forget_events[0].data, str) \
        else forget_events[0].data["request_id"]
    assert request_id in result.output
    assert all(sha not in {m[1] for m in member_set(engine, name)} for name in ("existing-customers", "high-value")
               for sha in (ann_email, ann_phone))
    with engine.begin() as connection:  # the sync removed them from every audience: the markers go
        assert clear_forgotten(connection, marked) == 3
        assert forgotten(connection) == set()


def test_forget_refuses_what_is_not_an_identifier_without_echoing_it(engine: Engine, tmp_path: Path) -> None:
    common = config_file(engine, tmp_path)
    for value in ("ann at example", "12", "@"):
        result = cli("privacy", "forget", value, *common)
        assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
        assert value not in result.output.replace("EMAIL|PHONE", "")


def test_forget_of_someone_unknown_still_marks_them_for_the_sync(engine: Engine) -> None:
    config = config_for(engine)
    done = forget(engine, config, "Nobody@Example.com", NOW)
    assert done.erased.as_dict() == {"outcomes": 0, "customers": 0, "memberships": 0, "uploads": 0, "identifiers": 1}
    with engine.connect() as connection:
        assert forgotten(connection) == {("email", sha256_hex("nobody@example.com"))}


def test_retention_prunes_old_records_and_entries_at_cycle_start_and_on_command(engine: Engine, tmp_path: Path) -> None:
    seed_entities(engine)
    config = config_for(engine, privacy={"retention_days": 10})
    import_list(engine, config, write(tmp_path, "old.csv", CUSTOMERS[1:2]), now=NOW - timedelta(days=30))
    import_list(engine, config, write(tmp_path, "new.csv", CUSTOMERS[:1]), now=NOW)
    import_outcomes(engine, config, tmp_path)
    # L1 (newest stage 11-05) and L2 (11-12) are older than 10 days on 11-25; L3 (11-20), L4 (11-21) are not
    refresh_at_cycle_start(engine, config, NOW)
    with engine.connect() as connection:
        kept = set(connection.execute(text("SELECT DISTINCT crm_id FROM outcomes")).scalars())
        customers = set(connection.execute(select(crm_customers.c.customer_id)).scalars())
        events = connection.execute(text("SELECT data FROM audit_events WHERE event = 'privacy_prune'")).all()
    assert kept == {"L3", "L4"} and customers == {"C1"}
    assert len(events) == 1
    assert hashed(BOB) not in {m[1] for m in member_set(engine, "existing-customers")}
    with engine.begin() as connection:  # nothing left to prune: the cycle records nothing, the command does
        pruned = prune(connection, config, NOW, actor="cli")
    assert pruned is not None and pruned.as_dict() == {"crm_records": 0, "outcomes": 0, "uploads": 0, "customers": 0}
    refresh_at_cycle_start(engine, config, NOW)
    with engine.connect() as connection:
        assert len(connection.execute(text("SELECT id FROM audit_events WHERE event = 'privacy_prune'")).all()) == 2


def test_segments_list_without_segments_says_how_to_add_them(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(small_config(engine.url.render_as_string(hide_password=False))))
    result = cli("segments", "list", "--config", str(path))
    assert result.exit_code == 0 and "no CRM segments configured" in result.output


def test_prune_command_without_retention_exits_2(engine: Engine, tmp_path: Path) -> None:
    result = cli("privacy", "prune", *config_file(engine, tmp_path))
    assert result.exit_code == 2 and "privacy.retention_days is not set" in result.output


def test_a_cycle_prunes_and_refreshes_segments_first(engine: Engine, database_url: str, tmp_path: Path) -> None:
    world = make_world(engine, database_url, segments=SEGMENTS, privacy={"retention_days": 10})
    old_day = world.clock.now() - timedelta(days=30)
    import_list(engine, world.config, write(tmp_path, "old.csv", CUSTOMERS[1:2]), now=old_day)
    import_list(engine, world.config, write(tmp_path, "new.csv", CUSTOMERS[:1]), now=world.clock.now())
    run_cycle(engine, world.config, world.connectors, world.clock, dry_run=True)
    with engine.connect() as connection:
        found = members(connection, "existing-customers")
        customers = set(connection.execute(select(crm_customers.c.customer_id)).scalars())
    assert customers == {"C1"}  # C2 was last listed 30 days ago
    assert found == sorted(found, key=lambda m: (m.kind, m.sha256)) and all(isinstance(m, Member) for m in found)
    assert {(m.kind, m.sha256, m.consent) for m in found} == {
        ("email", hashed(ANN), True), ("phone", hashed(ANN_PHONE), True)}
