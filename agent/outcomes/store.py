"""Writing and reading outcomes: upsert by (crm_id, stage), and the attributed rows reports read."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, RowMapping, Table, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from agent.outcomes.models import Attribution, Outcome, WebhookDelivery
from agent.outcomes.records import CLICK_ID_FIELDS, NOT_STORED, OutcomeRecord
from agent.outcomes.settings import UTM_FIELDS
from agent.storage.action_states import as_utc
from agent.storage.models import EntityRecord

LOOKUP_CHUNK = 500
COMPARED = tuple(name for name in OutcomeRecord.__dataclass_fields__ if name not in NOT_STORED)


@dataclass
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def _same(row: RowMapping, record: OutcomeRecord) -> bool:
    for name in COMPARED:
        stored, new = row[name], getattr(record, name)
        if name == "stage_at":
            stored = as_utc(stored)
        if stored != new:
            return False
    return True


OUTCOMES: Table = Outcome.__table__  # type: ignore[assignment]


def upsert_outcomes(connection: Connection, records: Iterable[OutcomeRecord], source: str,
                    now: datetime) -> UpsertCounts:
    """Insert new (crm_id, stage) pairs, update changed ones, leave identical ones alone. Within one
    batch the last record of a pair wins."""
    latest = {(record.crm_id, record.stage): record for record in records}
    existing: dict[tuple[str, str], RowMapping] = {}
    crm_ids = sorted({crm_id for crm_id, _stage in latest})
    for start in range(0, len(crm_ids), LOOKUP_CHUNK):
        query = select(OUTCOMES).where(OUTCOMES.c.crm_id.in_(crm_ids[start:start + LOOKUP_CHUNK]))
        existing.update({(row["crm_id"], row["stage"]): row for row in connection.execute(query).mappings()})
    counts = UpsertCounts()
    new_rows = []
    for key, record in latest.items():
        row = existing.get(key)
        if row is None:
            new_rows.append({**record.values(), "imported_at": now, "source": source})
        elif _same(row, record):
            counts.unchanged += 1
        else:
            connection.execute(update(OUTCOMES).where(OUTCOMES.c.id == row["id"])
                               .values(**record.values(), imported_at=now, source=source))
            counts.updated += 1
    if new_rows:
        connection.execute(insert(OUTCOMES), new_rows)
    counts.inserted = len(new_rows)
    return counts


def all_outcomes(connection: Connection) -> list[RowMapping]:
    return list(connection.execute(select(OUTCOMES).order_by(OUTCOMES.c.id)).mappings())


def outcomes_of(connection: Connection, crm_ids: Iterable[str]) -> list[RowMapping]:
    """Every stage of these CRM records."""
    ids = sorted(set(crm_ids))
    rows: list[RowMapping] = []
    for start in range(0, len(ids), LOOKUP_CHUNK):
        rows += connection.execute(select(OUTCOMES).where(OUTCOMES.c.crm_id.in_(ids[start:start + LOOKUP_CHUNK]))
                                   ).mappings().all()
    return rows


def crm_ids_with_click_ids(connection: Connection, click_ids: Iterable[str], with_utm: bool = False) -> set[str]:
    """CRM records with a stage carrying one of these click ids (all click ids when `with_utm`: those
    whose stage carries a click id and UTM parameters both, the sources of the click map)."""
    clicks = [OUTCOMES.c[name] for name in CLICK_ID_FIELDS]
    if with_utm:
        condition = and_(or_(*(c.is_not(None) for c in clicks)),
                         or_(*(OUTCOMES.c[name].is_not(None) for name in UTM_FIELDS)))
        return set(connection.execute(select(OUTCOMES.c.crm_id).where(condition).distinct()).scalars())
    values = sorted(set(click_ids))
    found: set[str] = set()
    for start in range(0, len(values), LOOKUP_CHUNK):
        chunk = values[start:start + LOOKUP_CHUNK]
        found |= set(connection.execute(select(OUTCOMES.c.crm_id).where(or_(*(c.in_(chunk) for c in clicks)))
                                        .distinct()).scalars())
    return found


def attribution_counts(connection: Connection) -> dict[str, int]:
    """Stored outcomes per attribution method."""
    attributions = Attribution.__table__
    rows = connection.execute(select(attributions.c.method, func.count()).group_by(attributions.c.method)).all()
    return {str(method): int(count) for method, count in rows}


def replace_attributions(connection: Connection, rows: Sequence[dict[str, object]],
                         outcome_ids: Sequence[int] | None = None) -> None:
    """Attributions are derived data: replaced (all, or those of `outcome_ids`) in the caller's transaction."""
    if outcome_ids is None:
        connection.execute(delete(Attribution))
    for start in range(0, len(outcome_ids or ()), LOOKUP_CHUNK):
        chunk = list((outcome_ids or [])[start:start + LOOKUP_CHUNK])
        connection.execute(delete(Attribution).where(Attribution.outcome_id.in_(chunk)))
    if rows:
        connection.execute(insert(Attribution), list(rows))


def ad_set_parents(connection: Connection) -> dict[tuple[str, str], str | None]:
    """(account, ad set id) -> campaign id, for every ad set the agent has seen."""
    rows = connection.execute(
        select(EntityRecord.account_id, EntityRecord.entity_id, EntityRecord.parent_id)
        .where(EntityRecord.level == "ad_set")).all()
    return {(row.account_id, row.entity_id): row.parent_id for row in rows}


def known_campaigns(connection: Connection) -> set[tuple[str, str]]:
    rows = connection.execute(select(EntityRecord.account_id, EntityRecord.entity_id)
                              .where(EntityRecord.level == "campaign")).all()
    return {(row.account_id, row.entity_id) for row in rows}


def attributed_outcomes(connection: Connection) -> list[RowMapping]:
    """Every outcome with its attribution (method, platform, account, campaign, ad set, click day, reason)."""
    attributions = Attribution.__table__
    query = select(OUTCOMES.c.crm_id, OUTCOMES.c.stage, OUTCOMES.c.stage_at, OUTCOMES.c.amount, OUTCOMES.c.currency,
                   attributions.c.method, attributions.c.platform, attributions.c.account_id,
                   attributions.c.campaign_id, attributions.c.ad_set_id, attributions.c.click_day,
                   attributions.c.reason).join(attributions, attributions.c.outcome_id == OUTCOMES.c.id)
    return list(connection.execute(query).mappings())


def remember_delivery(connection: Connection, signature_sha256: str, now: datetime, window: timedelta) -> bool:
    """Record a webhook delivery; False if the same signed request was seen before (a replay)."""
    connection.execute(delete(WebhookDelivery).where(WebhookDelivery.received_at < now - 2 * window))
    try:
        with connection.begin_nested():
            connection.execute(insert(WebhookDelivery).values(signature_sha256=signature_sha256, received_at=now))
    except IntegrityError:
        return False
    return True


def attributed_stages_of(connection: Connection, account_id: str, since: date, until: datetime) -> list[RowMapping]:
    """The account's outcomes attributed to an ad set, clicked on `since` or later, reached before `until`."""
    attributions = Attribution.__table__
    query = (select(OUTCOMES.c.crm_id, OUTCOMES.c.stage, OUTCOMES.c.stage_at, OUTCOMES.c.amount, OUTCOMES.c.currency,
                    attributions.c.ad_set_id, attributions.c.click_day)
             .join(attributions, attributions.c.outcome_id == OUTCOMES.c.id)
             .where(attributions.c.account_id == account_id, attributions.c.ad_set_id.is_not(None),
                    attributions.c.click_day >= since, OUTCOMES.c.stage_at < until))
    return list(connection.execute(query).mappings())


def outcomes_stored(connection: Connection) -> bool:
    """Whether any outcome was ever imported."""
    return bool(connection.execute(select(func.count()).select_from(Outcome)).scalar_one())
