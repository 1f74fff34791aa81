"""Lead ads: a Meta campaign whose objective is leads counts leads, whatever the account default.

An account with no `conversion_event` counts purchases; in it, a campaign with the objective
`OUTCOME_LEADS` (or the legacy `LEAD_GENERATION`) is judged on leads instead: its insights rows are
read with the `lead` event (connectors/meta/conversions.py: `lead` is Meta's de-duplicated total of
instant form leads and website leads; `onsite_conversion.lead_grouped` and `leadgen_grouped` are the
instant-form part, used only when a row has no `lead`). Each insights row names its campaign's
objective (the `objective` field, asked for with the others), so this costs no request; the
`/{form_id}/leads` edge would return each lead's answers (personal data we never hold) only to be
counted. An account with a `conversion_event` set counts that event in every campaign.

Instant forms report no conversion value: such rows carry conversion value 0, as Meta reports it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from connectors.meta.conversions import Conversions

LEAD_OBJECTIVES = frozenset({"OUTCOME_LEADS", "LEAD_GENERATION"})
LEAD_EVENT = "lead"


def counted_in(raw: Mapping[str, Any], account_conversions: Conversions) -> Conversions:
    """What this insights row counts: the account's event, or leads for a lead campaign in an
    account that named no event."""
    if account_conversions.configured or raw.get("objective") not in LEAD_OBJECTIVES:
        return account_conversions
    return dataclasses.replace(account_conversions, event=LEAD_EVENT)
