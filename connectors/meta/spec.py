"""The account fields the Meta connector reads (its spec); imports no Meta SDK.

Besides the ad account, a Meta account says what counts as a conversion (`conversion_event`) and
which attribution windows are counted (`platform_attribution`): see `connectors/meta/conversions.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import field_validator

from connectors.account_spec import AccountSpec, platform_id_of
from connectors.meta.conversions import check_event, parse_attribution


def act_id(raw: str) -> str:
    """Meta's ad account id as `act_<digits>` (from `act_123` or `123`); ValueError otherwise."""
    digits = raw.removeprefix("act_")
    if not digits.isdigit():
        raise ValueError(f"ad account id {raw!r} must be act_<digits>")
    return f"act_{digits}"


class MetaAccountSpec(AccountSpec):
    """`platform_account_id` (`act_<digits>`), `conversion_event` and `platform_attribution`."""

    conversion_event: str | None = None
    platform_attribution: str | None = None

    @field_validator("platform_account_id")
    @classmethod
    def _act_id(cls, value: str | None) -> str | None:
        return None if value is None else act_id(value)

    @field_validator("conversion_event")
    @classmethod
    def _known_conversion_event(cls, value: str | None) -> str | None:
        return None if value is None else check_event(value)

    @field_validator("platform_attribution")
    @classmethod
    def _returned_attribution(cls, value: str | None) -> str | None:
        if value is not None:
            parse_attribution(value)
        return value


def ad_account_of(account: Mapping[str, Any]) -> str:
    """Meta's ad account id for a config account: `ad_account_id` (account or credentials), else the id."""
    return platform_id_of("meta", account, "ad_account_id", act_id, "ad account id", "act_<digits>")
