"""Ad rotation in the simulated platform: the modes a Google ad group can have and what a
`set_ad_rotation` mutation may ask for.

"OPTIMIZE" (Google's default) favours the ads expected to do best: an ad's share of the ad group's
impressions goes with its strength squared. "ROTATE_FOREVER" shows the active ads equally often, as
an A/B test of ad copy wants; each ad's clicks still follow its own strength. The split itself is
`latent.delivery_shares` (one ad set) and the daily engine (all of them at once).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.errors import InvalidMutation
from connectors.records import AD_ROTATIONS, OPTIMIZE, ROTATE_FOREVER

__all__ = ["AD_ROTATIONS", "OPTIMIZE", "ROTATE_FOREVER", "requested_rotation"]


def requested_rotation(platform: str, entity_id: str, params: Mapping[str, Any]) -> str:
    """The mode `params` asks for; InvalidMutation if the platform has no such setting or mode."""
    if platform != "google_ads":
        raise InvalidMutation(f"set_ad_rotation on {entity_id}: ad rotation is a Google Ads ad group setting; "
                              f"{platform} has none")
    mode = params.get("ad_rotation")
    if mode not in AD_ROTATIONS:
        raise InvalidMutation(f"set_ad_rotation on {entity_id}: params.ad_rotation must be "
                              f"{' or '.join(AD_ROTATIONS)}, got {mode!r}")
    return str(mode)
