"""Phones for Meta custom audiences: hashed in the form Meta's PHONE key takes (digits with the
country code, no `+`), next to the E.164 hash Google takes; the payload carries hashes only."""

from __future__ import annotations

import hashlib

from facebook_business.adobjects.customaudience import CustomAudience

from agent.outcomes.records import build_record, meta_phone_sha256, normalize_phone, sha256_hex
from connectors.meta.custom_audience_users import SCHEMA, records


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_the_meta_form_is_the_digits_of_the_e164_phone_as_the_sdk_normalizes_them() -> None:
    normal = normalize_phone("0049 (170) 123-4567")
    assert normal == "+491701234567"
    assert meta_phone_sha256(normal) == sha("491701234567") != sha256_hex(normal) == sha("+491701234567")
    # the facebook-business SDK, hashing a raw PHONE itself, arrives at the same value
    params = CustomAudience.format_params(SCHEMA, [["", "+49 170 1234567"]], is_raw=True)
    assert params["payload"]["data"][0][1] == meta_phone_sha256(normal)


def test_an_outcome_carries_both_phone_hashes_and_stores_only_its_columns() -> None:
    record = build_record({"crm_id": "L1", "stage": "lead", "stage_at": "2026-11-01", "phone": "+1 650 555 0100",
                           "email": "Ann@Example.com"})
    assert record.phone_sha256 == sha("+16505550100") and record.phone_digits_sha256 == sha("16505550100")
    values = record.values()
    assert "phone_digits_sha256" not in values  # not an outcome column: kept in crm_phone_forms
    assert "6505550100" not in repr(record) and "ann@" not in repr(record).lower()


def test_meta_records_put_each_identifier_under_its_key_and_never_the_e164_phone() -> None:
    email, e164, digits = sha("ann@example.com"), sha("+16505550100"), sha("16505550100")
    rows = records([("email", email), ("phone", e164), ("phonedig", digits)])
    assert SCHEMA == ["EMAIL", "PHONE"]
    assert rows == [[email, ""], ["", digits]]  # the E.164 hash is Google's form: Meta would not match it
