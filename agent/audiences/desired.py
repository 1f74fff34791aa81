"""Where the desired members of a segment come from.

`DesiredSource(connection, segment)` gives the segment's members with consent applied and the
forgotten taken out (agent/audiences/plan.py `desired_members`), or None when the segment is
unknown. `crm_segment_source` reads the CRM segments imported by `segments import`; until they are
part of this build it knows no segment, and no audience is synced.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from connectors.audience_members import MemberKey

DesiredSource = Callable[[Connection, str], frozenset[MemberKey] | None]


def crm_segment_source(connection: Connection, segment: str) -> frozenset[MemberKey] | None:
    """The CRM segment's consenting, not forgotten members: `desired_members(members(connection,
    segment), forgotten(connection))` over the CRM segments store, once it is part of this build."""
    return None
