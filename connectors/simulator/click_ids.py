"""Click ids of the simulated platforms: self-describing, so a CRM export of the simulated world attributes.

A real gclid, fbclid or li_fat_id is opaque; the simulator's encode the account, campaign, ad set and
click day they came from (`sim1.` + URL-safe base64 of the fields joined by a unit separator), and
attribution decodes them the way a real click id is looked up in the click map.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import date

PREFIX = "sim1."
SEPARATOR = "\x1f"


@dataclass(frozen=True)
class SimulatedClick:
    account_id: str
    campaign_id: str
    ad_set_id: str
    day: date
    serial: int


def encode_click_id(click: SimulatedClick) -> str:
    fields = (click.account_id, click.campaign_id, click.ad_set_id, click.day.isoformat(), str(click.serial))
    return PREFIX + base64.urlsafe_b64encode(SEPARATOR.join(fields).encode()).decode().rstrip("=")


def decode_click_id(click_id: str) -> SimulatedClick | None:
    """The click a simulated click id stands for, or None if it is not one of ours."""
    if not click_id.startswith(PREFIX):
        return None
    body = click_id[len(PREFIX):]
    try:
        fields = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode().split(SEPARATOR)
        account_id, campaign_id, ad_set_id, day, serial = fields
        return SimulatedClick(account_id, campaign_id, ad_set_id, date.fromisoformat(day), int(serial))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
