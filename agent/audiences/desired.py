"""Where the desired members of a segment come from.

`DesiredSource(connection, segment)` gives the segment's members with consent applied and the
forgotten taken out (agent/audiences/plan.py `desired_members`), or None when the segment is
unknown. `crm_segment_source` reads the CRM segments (agent/storage/crm_segments.py: computed from
`segments import` lists and imported outcomes). A segment never computed is unknown (None), never
"empty": an empty desired set would remove every member from the platform's audience.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from agent.audiences.plan import desired_members
from agent.storage.crm_segments import SegmentNotComputed, forgotten, members
from connectors.audience_members import MemberKey

DesiredSource = Callable[[Connection, str], frozenset[MemberKey] | None]


def crm_segment_source(connection: Connection, segment: str) -> frozenset[MemberKey] | None:
    """The CRM segment's consenting, not forgotten members; None for a segment never computed."""
    try:
        computed = members(connection, segment)
    except SegmentNotComputed:
        return None
    return desired_members(computed, forgotten(connection))
