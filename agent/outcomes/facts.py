"""The attributed CRM stages of one account as the policies' value sources read them (OutcomeFact)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Connection

from agent.outcomes.store import attributed_stages_of
from agent.storage.action_states import as_utc
from policies.base import OutcomeFact


def load_outcome_facts(connection: Connection, account_id: str, currency: str, since: date,
                       now: datetime) -> list[OutcomeFact]:
    """Stages reached before `now` of records clicked since `since`, attributed to one of the account's
    ad sets. An amount in another currency than the account's is left out (no exchange rate is assumed)."""
    facts = []
    for row in attributed_stages_of(connection, account_id, since, now):
        amount = row["amount"] if row["amount"] is not None and row["currency"] == currency else None
        facts.append(OutcomeFact(row["crm_id"], row["ad_set_id"], row["stage"], row["click_day"],
                                 as_utc(row["stage_at"]).date(), amount))
    return facts
