"""SQL of offline-conversion uploads: the account's attributed outcomes and the uploads ledger."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, RowMapping, Table, and_, insert, select, update

from agent.outcomes.models import Attribution, ConversionUpload, Outcome

OUTCOMES: Table = Outcome.__table__  # type: ignore[assignment]
ATTRIBUTIONS: Table = Attribution.__table__  # type: ignore[assignment]
LEDGER: Table = ConversionUpload.__table__  # type: ignore[assignment]
FINAL = ("uploaded", "rejected", "skipped", "retracted", "not_retractable")


def attributed_to(connection: Connection, account_id: str) -> list[RowMapping]:
    """Every outcome attributed to `account_id`, with its click day."""
    query = (select(OUTCOMES, ATTRIBUTIONS.c.click_day, ATTRIBUTIONS.c.platform)
             .join(ATTRIBUTIONS, ATTRIBUTIONS.c.outcome_id == OUTCOMES.c.id)
             .where(ATTRIBUTIONS.c.account_id == account_id).order_by(OUTCOMES.c.id))
    return list(connection.execute(query).mappings())


def ledger_of(connection: Connection, account_id: str) -> dict[tuple[str, str], RowMapping]:
    """(crm id, stage) -> its ledger row, for the account."""
    rows = connection.execute(select(LEDGER).where(LEDGER.c.account_id == account_id)).mappings()
    return {(row["crm_id"], row["stage"]): row for row in rows}


def start_sending(connection: Connection, rows: Sequence[dict[str, object]], now: datetime) -> None:
    """Write `sending` rows before the request (existing `sending` rows are kept as they are)."""
    if rows:
        connection.execute(insert(LEDGER), [{**row, "state": "sending", "updated_at": now} for row in rows])


def settle(connection: Connection, platform: str, keys: Iterable[tuple[str, str]], state: str, now: datetime,
           action_id: int | None, error: str | None = None, expected: Sequence[str] = ("sending",)) -> None:
    for crm_id, stage in keys:
        connection.execute(update(LEDGER).where(and_(LEDGER.c.crm_id == crm_id, LEDGER.c.stage == stage,
                                                     LEDGER.c.platform == platform, LEDGER.c.state.in_(expected)))
                           .values(state=state, error=(error or "")[:512] or None, action_id=action_id,
                                   updated_at=now))


def record_final(connection: Connection, rows: Sequence[dict[str, object]], now: datetime) -> None:
    """Rows settled without a request (skipped: too old, nothing to match on)."""
    if rows:
        connection.execute(insert(LEDGER), [{**row, "updated_at": now} for row in rows])
