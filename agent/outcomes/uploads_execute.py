"""Carrying out an approved `upload_conversions` action, exactly once per (record, stage, platform).

The ledger row is written `sending` and committed before the request; the platform's answer
settles it (uploaded, rejected). A write with no answer, or a process that dies between the request
and the record, leaves it `sending`: the next proposal re-sends it with the same deterministic
event id, which the platform de-duplicates (Google's transaction id, Meta's `event_id`, LinkedIn's
`eventId`), so it is counted once. The platforms offer no read-back of uploaded conversions, so this
re-send is how such an unknown outcome is settled. Stages past the platform's age limit are
recorded `skipped` and reported.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, RowMapping

from agent.clock import Clock
from agent.config import AccountConfig
from agent.outcomes.settings import UploadSettings
from agent.outcomes.upload_ledger import FINAL, attributed_to, ledger_of, record_final, settle, start_sending
from agent.storage.db_retry import transition_retrying
from connectors.conversion_uploads import (
    Consent,
    ConversionEvent,
    ConversionUploader,
    UploadTarget,
    event_id_for,
)

log = logging.getLogger(__name__)


def target_for(account: AccountConfig, settings: UploadSettings) -> UploadTarget:
    platform_id = (account.platform_account_id or account.id)
    if account.platform == "google_ads":
        platform_id = platform_id.replace("-", "")
    return UploadTarget(account.id, platform_id, {k: v.get_secret_value() for k, v in account.credentials.items()},
                        dataset_id=settings.dataset_id, use_click_conversions=settings.use_click_conversions)


def event_of(row: RowMapping, destination: str, settings: UploadSettings) -> ConversionEvent:
    happened = row["stage_at"] if row["stage_at"].tzinfo else row["stage_at"].replace(tzinfo=UTC)
    click_day = row["click_day"]
    clicked = datetime(click_day.year, click_day.month, click_day.day, tzinfo=UTC) if click_day else None
    amount = row["amount"] if row["stage"] in ("opportunity", "won") else None
    return ConversionEvent(
        event_id=event_id_for(row["crm_id"], row["stage"]), destination=destination,
        happened_at=happened.astimezone(UTC), value=amount, currency=row["currency"] if amount is not None else None,
        clicked_at=clicked, gclid=row["gclid"], gbraid=row["gbraid"], wbraid=row["wbraid"], fbclid=row["fbclid"],
        fbc=row["fbc"], li_fat_id=row["li_fat_id"], email_sha256=row["email_sha256"],
        phone_sha256=row["phone_sha256"],
        consent=Consent(row["ad_user_data"] or settings.ad_user_data,  # the CRM's record first
                        row["ad_personalization"] or settings.ad_personalization))


def upload_batch(engine: Engine, action: Mapping[str, Any], account: AccountConfig, settings: UploadSettings,
                 uploader: ConversionUploader, now: datetime) -> Counter[str]:
    """Send the action's stages and retractions; counts by ledger state (and `skipped`)."""
    platform = uploader.platform
    wanted = {tuple(key) for key in action["change"].get("to", {}).get("uploads", [])}
    with engine.connect() as connection:
        rows = {(r["crm_id"], r["stage"]): r for r in attributed_to(connection, account.id)}
        ledger = ledger_of(connection, account.id)
    counts: Counter[str] = Counter()
    ready: list[ConversionEvent] = []
    new_rows, skipped = [], []
    keys_of: dict[str, tuple[str, str]] = {}
    for key in sorted(wanted):
        row, seen = rows.get(key), ledger.get(key)
        if row is None or row["stage"] not in settings.stages or (seen is not None and seen["state"] in FINAL):
            continue  # settled by an earlier action, or no longer attributed here
        event = event_of(row, settings.stages[row["stage"]], settings)
        base = {"crm_id": key[0], "stage": key[1], "platform": platform, "account_id": account.id,
                "destination": event.destination, "event_id": event.event_id, "action_id": action["id"]}
        problem = uploader.too_old(event, now)
        if problem:
            skipped.append({**base, "state": "skipped", "error": problem})
            continue
        if seen is None:
            new_rows.append(base)
        keys_of[event.event_id] = key
        ready.append(event)
    with engine.begin() as connection:  # committed before anything is sent
        record_final(connection, skipped, now)
        start_sending(connection, new_rows, now)
    counts["skipped"] += len(skipped)
    try:
        results = uploader.upload(target_for(account, settings), ready) if ready else []
    except Exception:  # may have been sent: the rows stay `sending`, re-sent with the same ids next time
        log.exception("upload_conversions for %s: no answer for %d event(s)", account.id, len(ready))
        results = []
        counts["unknown"] += len(ready)
    with engine.begin() as connection:
        for result in results:
            if result.status == "unknown":
                counts["unknown"] += 1
                continue
            state = "uploaded" if result.status == "uploaded" else "rejected"
            settle(connection, platform, [keys_of[result.event_id]], state, now, action["id"], result.error)
            counts[state] += 1
    counts.update(_retract(engine, action, account, settings, uploader, rows, now))
    return counts


def _retract(engine: Engine, action: Mapping[str, Any], account: AccountConfig, settings: UploadSettings,
             uploader: ConversionUploader, rows: dict[tuple[str, str], RowMapping], now: datetime) -> Counter[str]:
    keys = [tuple(key) for key in action["change"].get("to", {}).get("retractions", [])]
    events = {event_id_for(*key): key for key in keys if key in rows}
    counts: Counter[str] = Counter()
    if not events:
        return counts
    if not uploader.supports_retraction:
        with engine.begin() as connection:
            settle(connection, uploader.platform, events.values(), "not_retractable", now, action["id"],
                   f"{uploader.platform} cannot retract an uploaded conversion", expected=("uploaded",))
        counts["not_retractable"] += len(events)
        return counts
    batch = [event_of(rows[key], settings.stages[key[1]], settings) for key in events.values()
             if key[1] in settings.stages]
    for result in uploader.retract(target_for(account, settings), batch, now):
        if result.status == "uploaded":
            with engine.begin() as connection:
                settle(connection, uploader.platform, [events[result.event_id]], "retracted", now, action["id"],
                       expected=("uploaded",))
            counts["retracted"] += 1
        else:
            counts["retraction_failed"] += 1
    return counts


def run_upload_actions(engine: Engine, account: AccountConfig, settings: UploadSettings | None,
                       uploader: ConversionUploader | None, actions: Sequence[RowMapping], clock: Clock,
                       worker: str, count: Callable[[str], None]) -> None:
    """Execute claimed `upload_conversions` actions and record each one's outcome."""
    for action in actions:
        if settings is None or uploader is None:
            reason = ("no outcomes.uploads settings for this account" if settings is None
                      else f"{account.platform} has no offline-conversion upload")
            transition_retrying(engine, action["id"], "failed", actor=worker, now=clock.now(),
                                expected="executing", reason=reason)
            count("failed")
            continue
        counts = +upload_batch(engine, dict(action), account, settings, uploader, clock.now())  # no zeros
        summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "nothing left to send"
        if counts["unknown"]:
            summary += "; no answer for some: re-sent with the same event ids at the next cycle"
        transition_retrying(engine, action["id"], "executed", actor=worker, now=clock.now(), expected="executing",
                            reason=summary, result={"ok": True, "counts": dict(counts)})
        count("executed")




INTERRUPTED = ("interrupted before its answers were recorded; its stages still `sending` are re-sent with the "
               "same event ids by the next upload_conversions, which the platform counts once")


def settle_interrupted(engine: Engine, action: Mapping[str, Any], clock: Clock, count: Callable[[str], None]
                       ) -> None:
    """A crash left this upload action `executing`: the ledger, not the action, says what was sent, so
    it ends `failed` (it must not stay open: an open upload action would hold back the next one)."""
    transition_retrying(engine, action["id"], "failed", actor="reconcile", now=clock.now(), expected="executing",
                        reason=INTERRUPTED)
    count("failed")
