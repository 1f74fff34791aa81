"""An account's lookalike seeds: which synced segment seeds a lookalike, where, and how close."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, field_validator

from policies.settings import StrictModel


class LookalikeSettings(StrictModel):
    """A lookalike of the segment's synced audience (Meta): the country (ISO 3166-1 alpha-2) and
    the share of that country's people most like the seed, 0.01 to 0.20 as Meta allows."""

    country: str = Field(pattern=r"^[A-Z]{2}$")
    ratio: Decimal = Field(default=Decimal("0.01"), ge=Decimal("0.01"), le=Decimal("0.20"), decimal_places=2)


class ProspectingSettings(StrictModel):
    """An account's prospecting campaigns (docs/segments.md): campaigns or ad sets, by id or by name
    pattern (* and ?, case-insensitive), whose ad sets exclude the audience synced for `exclude_segment`
    (a segment named under the account's `audiences`). `window_days`: the period over which the
    evidence counts the campaign's conversions from existing customers."""

    campaigns: tuple[str, ...] = Field(min_length=1)
    exclude_segment: str = Field(min_length=1)
    window_days: int = Field(default=30, ge=1, le=365)

    @field_validator("campaigns")
    @classmethod
    def _named(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not str(pattern).strip() for pattern in value):
            raise ValueError("a campaign id or name pattern must not be empty")
        return value
