"""The undo of an executed action: its inverse, proposed through the same gate as anything else.

State kinds swap `from` and `to` (pause <-> enable, a budget back to its old amount); a segment
action is its own inverse with the sides swapped: it restores the bid modifier it replaced, or
takes its exclusion away; a label added is removed (and back), an ad schedule restored, an audience
exclusion taken away (`remove_audience_exclusion`: its `from` names the audience excluded, and its own
undo excludes it again). Negatives and new ads have no automatic undo: they are reverted in the platform.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import RowMapping

from policies.base import Proposal

INVERSE_KIND = {"pause": "enable", "enable": "pause", "set_budget": "set_budget",
                "set_device_bid_modifier": "set_device_bid_modifier", "exclude_placement": "exclude_placement",
                "exclude_company_size": "exclude_company_size", "exclude_seniority": "exclude_seniority",
                "exclude_industry": "exclude_industry", "narrow_age_range": "narrow_age_range",
                "exclude_region": "exclude_region", "exclude_age_range": "exclude_age_range",
                "exclude_gender": "exclude_gender", "exclude_location": "exclude_location",
                "exclude_job_function": "exclude_job_function", "add_label": "remove_label",
                "remove_label": "add_label", "set_ad_schedule": "set_ad_schedule",
                "set_ad_rotation": "set_ad_rotation",
                "exclude_audience": "remove_audience_exclusion", "remove_audience_exclusion": "exclude_audience"}


def undo_proposal(action: RowMapping | Mapping[str, Any], requester: str) -> Proposal:
    """The proposal that undoes `action` (an executed action row); KeyError for a kind with no undo."""
    return Proposal(
        kind=INVERSE_KIND[action["kind"]], policy="undo", account_id=action["account_id"],
        entity_id=action["entity_id"], entity_level=action["entity_level"], entity_name=action["entity_name"],
        change={"from": action["change"]["to"], "to": action["change"]["from"]},
        rationale=f"undo of action {action['id']} requested by {requester}",
        evidence={"undo_of": action["id"]},
    )
