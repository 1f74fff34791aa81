"""The account fields the Google Ads connector reads (its spec); imports no Google SDK."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import field_validator

from connectors.account_spec import AccountSpec, platform_id_of


def customer_digits(raw: str) -> str:
    """Google's customer id without dashes (`123-456-7890` -> `1234567890`); ValueError otherwise."""
    digits = raw.replace("-", "")
    if not digits.isdigit():
        raise ValueError(f"customer id {raw!r} must be 10 digits")
    return digits


class GoogleAdsAccountSpec(AccountSpec):
    """`platform_account_id`: the Google Ads customer id, with or without dashes."""

    @field_validator("platform_account_id")
    @classmethod
    def _digits(cls, value: str | None) -> str | None:
        return None if value is None else customer_digits(value)


def customer_id_of(account: Mapping[str, Any]) -> str:
    """Google's customer id for a config account: `customer_id` (credentials or account), else the id."""
    return platform_id_of("google_ads", account, "customer_id", customer_digits, "customer id", "10 digits")
