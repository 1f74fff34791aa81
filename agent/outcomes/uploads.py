"""Sending qualified CRM stages back to the platforms: the `upload_conversions` proposal.

Each cycle, an account with `outcomes.uploads.<account id>` gets one proposal listing the stages
attributed to it that its mapping names and that have no settled upload yet (those still `sending`
after a lost answer included: they are re-sent with the same event id), plus the uploaded stages of
records since lost (retractions). The proposal goes through the permission gate like any other
change; agent/outcomes/uploads_execute.py carries it out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Engine, RowMapping

from agent.config import AccountConfig, AgentConfig
from agent.outcomes.settings import UploadSettings
from agent.outcomes.upload_ledger import FINAL, attributed_to, ledger_of
from policies.base import Proposal

UPLOAD_KIND = "upload_conversions"
MAX_PER_ACTION = 2000


def settings_for(config: AgentConfig, account_id: str) -> UploadSettings | None:
    return config.outcomes.uploads.get(account_id)


def _batch(rows: list[RowMapping], ledger: Mapping[tuple[str, str], RowMapping], settings: UploadSettings
           ) -> tuple[list[RowMapping], list[tuple[str, str]]]:
    lost = {row["crm_id"] for row in rows if row["stage"] == "lost"}
    def settled(row: RowMapping) -> bool:
        seen = ledger.get((row["crm_id"], row["stage"]))
        return seen is not None and seen["state"] in FINAL

    uploads = [row for row in rows if row["stage"] in settings.stages and row["crm_id"] not in lost
               and not settled(row)]
    retractions = sorted(key for key, row in ledger.items() if key[0] in lost and row["state"] == "uploaded")
    return uploads[:MAX_PER_ACTION], retractions


def upload_proposals(engine: Engine, account: AccountConfig, config: AgentConfig, now: datetime) -> list[Proposal]:
    """The account's `upload_conversions` proposal, or none when nothing waits."""
    settings = settings_for(config, account.id)
    if settings is None:
        return []
    with engine.connect() as connection:
        rows = attributed_to(connection, account.id)
        ledger = ledger_of(connection, account.id)
    uploads, retractions = _batch(rows, ledger, settings)
    if not uploads and not retractions:
        return []
    by_stage = Counter(row["stage"] for row in uploads)
    clicks = sorted(row["click_day"] for row in uploads if row["click_day"] is not None)
    evidence = {"by_stage": dict(sorted(by_stage.items())), "retractions": len(retractions),
                "oldest_click": clicks[0].isoformat() if clicks else None,
                "newest_click": clicks[-1].isoformat() if clicks else None,
                "resends": sum(1 for row in uploads if (row["crm_id"], row["stage"]) in ledger)}
    what = ", ".join(f"{count} {stage}" for stage, count in sorted(by_stage.items())) or "no new stages"
    rationale = (f"send {len(uploads)} CRM stage(s) back to {account.platform} as offline conversions ({what})"
                 + (f"; retract {len(retractions)} stage(s) of deals since lost" if retractions else ""))
    return [Proposal(kind=UPLOAD_KIND, policy="outcome_uploads", account_id=account.id, entity_id=account.id,
                     entity_level="account", entity_name=account.name or account.id,
                     change={"from": {}, "to": {"uploads": [[r["crm_id"], r["stage"]] for r in uploads],
                                                "retractions": [list(key) for key in retractions]}},
                     rationale=rationale, evidence=evidence)]
