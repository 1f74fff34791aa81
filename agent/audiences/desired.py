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
from agent.storage.crm_segments import (
    PHONE_DIGITS,
    Member,
    SegmentNotComputed,
    forgotten,
    members,
    phone_forms,
)
from connectors.audience_members import MemberKey

DesiredSource = Callable[[Connection, str], frozenset[MemberKey] | None]


def crm_segment_source(connection: Connection, segment: str) -> frozenset[MemberKey] | None:
    """The CRM segment's consenting, not forgotten members; None for a segment never computed. A phone
    member comes with its Meta-form hash too (`phonedig`, same consent), which only Meta is sent."""
    try:
        computed = members(connection, segment)
    except SegmentNotComputed:
        return None
    forms = phone_forms(connection, {m.sha256 for m in computed if m.kind == "phone"})
    derived = [Member(PHONE_DIGITS, forms[m.sha256], m.consent) for m in computed
               if m.kind == "phone" and m.sha256 in forms]
    return desired_members([*computed, *derived], forgotten(connection))
