"""An account's lookalike seeds: which synced segment seeds a lookalike, where, and how close."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from policies.settings import StrictModel


class LookalikeSettings(StrictModel):
    """A lookalike of the segment's synced audience (Meta): the country (ISO 3166-1 alpha-2) and
    the share of that country's people most like the seed, 0.01 to 0.20 as Meta allows."""

    country: str = Field(pattern=r"^[A-Z]{2}$")
    ratio: Decimal = Field(default=Decimal("0.01"), ge=Decimal("0.01"), le=Decimal("0.20"), decimal_places=2)
