"""`POST /outcomes`: the same records as a plain-mapping import, pushed by a CRM or an integration.

The body is JSON, `{"records": [{"crm_id": ..., "stage": ..., "stage_at": ..., ...}]}` (the plain
mapping's columns as keys), signed as agent/auth/webhooks.py describes with `outcomes.webhook_secret`.
Checks, in order: size (413), signature and age (401), the same signed delivery seen before (409,
a replay), the body's shape (400). Then one transaction: good records in, bad ones listed by their
1-based position (200); all bad: nothing written (422).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from agent.auth.limits import read_body
from agent.auth.webhooks import WebhookSignature
from agent.config import AgentConfig
from agent.errors import BodyTooLarge, WebhookSignatureError
from agent.outcomes.importing import ImportResult, NothingImported, parse_rows, store_records
from agent.outcomes.mappings import load_mapping
from agent.outcomes.reader import Row
from agent.outcomes.store import remember_delivery

PATH = "/outcomes"
BODY_LIMIT = 4 * 1024 * 1024
MAX_RECORDS = 10_000


class ReplayedDelivery(Exception):
    """This exact signed request was accepted before."""


def _rows(body: bytes) -> list[Row] | str:
    """The records as rows (position = line), or the one-line reason the body is unusable."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return "body is not JSON"
    records = payload.get("records") if isinstance(payload, dict) else None
    if not isinstance(records, list) or not records:
        return 'body must be {"records": [ ... ]} with at least one record'
    if len(records) > MAX_RECORDS:
        return f"at most {MAX_RECORDS} records per delivery"
    rows = []
    for position, item in enumerate(records, start=1):
        if isinstance(item, dict):
            rows.append(Row(position, {str(k): None if v is None else str(v) for k, v in item.items()}))
        else:
            rows.append(Row(position, {"\x00invalid": "not a JSON object"}))
    return rows


def import_delivery(engine: Engine, config: AgentConfig, rows: Sequence[Row], signature: str, now: datetime,
                    window: timedelta) -> ImportResult:
    """One transaction: the delivery is remembered and its good records stored, or nothing happens."""
    records, rejected = parse_rows(rows, load_mapping("plain"))
    digest = hashlib.sha256(signature.encode()).hexdigest()
    with engine.begin() as connection:
        if not remember_delivery(connection, digest, now, window):
            raise ReplayedDelivery()
        if not records:
            raise NothingImported(f"all {len(rows)} records rejected, nothing imported", rejected)
        counts, attribution = store_records(connection, config, records, "webhook", now, everything=False)
    return ImportResult("webhook", len(rows), len(records), counts, rejected, attribution)


def outcome_routes(engine: Engine, config: AgentConfig, now: Callable[[], datetime]) -> list[BaseRoute]:
    """The route, when `outcomes.webhook_secret` is set (else none: the path then needs a signed-in user)."""
    secret = config.outcomes.webhook_secret
    if secret is None:
        return []
    scheme = WebhookSignature(secret.get_secret_value())
    window = timedelta(seconds=scheme.max_age_seconds)

    async def receive(request: Request) -> Response:
        try:
            body = await read_body(request, BODY_LIMIT)
        except BodyTooLarge:
            return PlainTextResponse(f"request body too large (at most {BODY_LIMIT} bytes)", status_code=413)
        try:
            scheme.verify(request.headers, body, now())
        except WebhookSignatureError as error:
            return PlainTextResponse(f"not signed: {error.reason}", status_code=401)
        rows = _rows(body)
        if isinstance(rows, str):
            return PlainTextResponse(rows, status_code=400)
        signature = request.headers.get(scheme.signature_header, "")
        try:
            result = await run_in_threadpool(import_delivery, engine, config, rows, signature, now(), window)
        except ReplayedDelivery:
            return PlainTextResponse("this delivery was already received (replay refused)", status_code=409)
        except NothingImported as error:
            return JSONResponse({"error": str(error), "rejected": [{"record": r.line, "reason": r.reason}
                                                                   for r in error.rejected]}, status_code=422)
        answer = result.as_json()
        answer["rejected"] = [{"record": r.line, "reason": r.reason} for r in result.rejected]
        return JSONResponse(answer)

    return [Route(PATH, receive, methods=["POST"])]
