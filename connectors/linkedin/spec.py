"""The account fields the LinkedIn connector reads (its spec); imports no more than pydantic."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import field_validator

from connectors.account_spec import AccountSpec, platform_id_of
from connectors.linkedin.leads import check_event


def ad_account_number(raw: str) -> str:
    """LinkedIn's numeric ad account id from `123` or `urn:li:sponsoredAccount:123`; ValueError otherwise."""
    number = raw.rsplit(":", 1)[-1]
    if not number.isdigit():
        raise ValueError(f"ad account id {raw!r} must be numeric")
    return number


class LinkedInAccountSpec(AccountSpec):
    """`platform_account_id`: the sponsored ad account, `123` or `urn:li:sponsoredAccount:123`;
    `conversion_event`: `website`, `lead`, or unset (by campaign objective: connectors/linkedin/leads.py)."""

    conversion_event: str | None = None

    @field_validator("platform_account_id")
    @classmethod
    def _numeric(cls, value: str | None) -> str | None:
        return None if value is None else ad_account_number(value)

    @field_validator("conversion_event")
    @classmethod
    def _known_conversion_event(cls, value: str | None) -> str | None:
        return None if value is None else check_event(value)


def ad_account_of(account: Mapping[str, Any]) -> str:
    """The ad account of a config account: `platform_account_id`, `ad_account_id` (account or
    credentials), else our id; ConnectorError naming the account if it is not numeric."""
    return platform_id_of("linkedin", account, "ad_account_id", ad_account_number, "ad account id", "numeric")
