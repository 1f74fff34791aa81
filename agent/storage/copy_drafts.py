"""When the copywriter last drafted for each ad set: drafting is CPU (and, with a language model,
money), so an ad set gets new copy at most once per `copywriter.draft_period_hours`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, select

from agent.storage.models import CopyDraft
from agent.storage.store import upsert_rows


def drafted_since(connection: Connection, account_id: str, since: datetime) -> set[str]:
    """Ad sets of the account drafted for at or after `since`."""
    query = select(CopyDraft.ad_set_id).where(CopyDraft.account_id == account_id, CopyDraft.drafted_at >= since)
    return set(connection.execute(query).scalars())


def record_drafts(connection: Connection, account_id: str, ad_set_ids: Iterable[str], now: datetime) -> None:
    rows = [{"account_id": account_id, "ad_set_id": ad_set_id, "drafted_at": now} for ad_set_id in set(ad_set_ids)]
    if rows:
        upsert_rows(connection, CopyDraft.__table__, rows, ["account_id", "ad_set_id"])  # type: ignore[arg-type]
