"""`POST /slack/interactions`: the Approve / Reject buttons, verified, decided, executed after answering.

Order of checks: body size (413, while it streams in: at most 64 KB is ever read), signature and age
(401), the payload's shape (400, one line saying what is wrong), then the clicking user must be an
approver at all (403), then of the action's account (403). The decision goes through `decide_action`, so a
replayed or retried request cannot approve twice. Slack wants an answer within 3 seconds, so the
response is sent first and execution (drift check, guardrails, platform call) runs afterwards as
a background task, which then rewrites the message with the outcome.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.errors import SlackApiError
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from agent.approvals.decisions import DecisionOutcome, Verdict, decide_action
from agent.approvals.followup import ConnectorsFactory, current_action, execute_after_approval
from agent.approvals.settings import ApprovalSettings
from agent.approvals.slack import APPROVE_ACTION_ID, REJECT_ACTION_ID, SlackApprovals
from agent.approvals.slack_signature import verify
from agent.auth.limits import read_body
from agent.clock import Clock
from agent.config import AgentConfig
from agent.errors import BodyTooLarge, MalformedSlackPayload, SlackSignatureError
from agent.storage import audit_trail

log = logging.getLogger(__name__)
PATH = "/slack/interactions"
BODY_LIMIT = 64 * 1024  # Slack's interaction payloads are a few KB; Slack itself caps messages far below this
MAX_ACTION_ID = 2**31 - 1  # the actions.id column is a 32-bit integer
VERDICTS: dict[str, Verdict] = {APPROVE_ACTION_ID: "approve", REJECT_ACTION_ID: "reject"}


def ephemeral(text: str, status_code: int = 200) -> JSONResponse:
    return JSONResponse({"response_type": "ephemeral", "replace_original": False, "text": text},
                        status_code=status_code)


def parse_payload(body: bytes) -> dict[str, Any] | None:
    """The JSON in the form field `payload`, or None if the body is not an interaction."""
    try:
        fields = parse_qs(body.decode("utf-8"), strict_parsing=False)
        payload = json.loads(fields["payload"][0])
    except (UnicodeDecodeError, KeyError, IndexError, ValueError, RecursionError):
        return None  # ValueError: bad JSON, or an integer of thousands of digits; RecursionError: deep nesting
    return payload if isinstance(payload, dict) else None


@dataclass(frozen=True)
class Click:
    """A click on one of our buttons, read from a payload whose shape has been checked."""

    verdict: Verdict
    action_id: int
    user_id: str
    user_name: str | None
    channel_id: str
    team_id: str | None
    message_ts: str | None
    action_ts: str | None
    trigger_id: str | None


def _object(payload: Mapping[str, Any], key: str, required: bool = False) -> Mapping[str, Any]:
    value = payload.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise MalformedSlackPayload(f"`{key}` must be an object" + ("" if value is not None else " (it is missing)"))
    return value


def _text(mapping: Mapping[str, Any], key: str, where: str, required: bool = False) -> str | None:
    value = mapping.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise MalformedSlackPayload(f"`{where}.{key}` must be a non-empty string")
    return value[:255]


def read_click(payload: Mapping[str, Any]) -> Click | None:
    """Our button click in `payload`, None for another kind of interaction; MalformedSlackPayload if it is
    one of ours but not shaped as Slack sends it."""
    if payload.get("type") != "block_actions":
        return None
    actions = payload.get("actions")
    if not isinstance(actions, list):
        raise MalformedSlackPayload("`actions` must be a list")
    element = next((e for e in actions if isinstance(e, dict) and isinstance(e.get("action_id"), str)
                    and e["action_id"] in VERDICTS), None)
    if element is None:
        return None
    value = element.get("value")
    if not (isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10
            and int(value) <= MAX_ACTION_ID):
        raise MalformedSlackPayload(f"the button's value is not an action number (1 to {MAX_ACTION_ID})")
    user = _object(payload, "user", required=True)
    channel, container = _object(payload, "channel"), _object(payload, "container")
    channel_id = _text(channel, "id", "channel") or _text(container, "channel_id", "container") or ""
    return Click(verdict=VERDICTS[element["action_id"]], action_id=int(value),
                 user_id=str(_text(user, "id", "user", required=True)),
                 user_name=_text(user, "username", "user") or _text(user, "name", "user"),
                 channel_id=channel_id, team_id=_text(_object(payload, "team"), "id", "team"),
                 message_ts=_text(container, "message_ts", "container"),
                 action_ts=_text(element, "action_ts", "actions[]"), trigger_id=_text(payload, "trigger_id", "payload"))


class SlackInteractions:
    """The endpoint with what it needs: database, config, clock, settings and the Slack client."""

    def __init__(self, engine: Any, config: AgentConfig, clock: Clock, settings: ApprovalSettings,
                 slack: SlackApprovals, connectors_factory: ConnectorsFactory) -> None:
        if settings.slack is None:
            raise ValueError("approvals.slack is not configured: the interactivity endpoint needs its signing_secret")
        self.engine, self.config, self.clock, self.settings = engine, config, clock, settings
        self.signing_secret = settings.slack.signing_secret.get_secret_value()
        self.slack = slack
        self.connectors_factory = connectors_factory

    async def handle(self, request: Request) -> Response:
        try:
            body = await read_body(request, BODY_LIMIT)
        except BodyTooLarge:
            return PlainTextResponse(f"request body too large (at most {BODY_LIMIT} bytes)", status_code=413)
        try:
            verify(self.signing_secret, request.headers.get("x-slack-request-timestamp"),
                   request.headers.get("x-slack-signature"), body, self.clock.now())
        except SlackSignatureError as error:
            log.warning("refused a Slack request: %s", error.reason)
            return PlainTextResponse(f"invalid request signature: {error.reason}", status_code=401)
        payload = parse_payload(body)
        if payload is None:
            return PlainTextResponse("expected a form field `payload` holding a JSON object", status_code=400)
        try:
            click = read_click(payload)
        except MalformedSlackPayload as error:
            return PlainTextResponse(f"malformed interaction payload: {error}", status_code=400)
        if click is None:
            return Response(status_code=200)  # another interaction of the app: nothing for us
        verdict, action_id, user_id, channel_id = click.verdict, click.action_id, click.user_id, click.channel_id
        if not self.settings.is_slack_approver(user_id):
            await run_in_threadpool(self._refused, user_id, None, None, "not an approver of any account")
            return ephemeral("Sorry, you are not on the list of approvers, so nothing was changed.", 403)
        action = await run_in_threadpool(current_action, self.engine, action_id)
        if action is None:
            return ephemeral(f"There is no action #{action_id} (it may have been removed); nothing was changed.")
        account_id = str(action["account_id"])
        route = self.settings.for_account(account_id)
        if route is None or user_id not in route.slack_approvers:
            await run_in_threadpool(self._refused, user_id, action_id, account_id,
                                    f"not an approver of account {account_id}")
            return ephemeral(f"Sorry, you may not decide actions of account {account_id}; nothing was changed.", 403)
        reference = {
            "team_id": click.team_id,
            "channel_id": channel_id,
            "message_ts": click.message_ts,
            "action_ts": click.action_ts,
            "trigger_id": click.trigger_id,
            "user_name": click.user_name,
            "request_timestamp": request.headers.get("x-slack-request-timestamp"),
            "body_sha256": hashlib.sha256(body).hexdigest(),
        }
        name = str(reference["user_name"] or user_id)
        outcome: DecisionOutcome = await run_in_threadpool(
            lambda: decide_action(self.engine, action_id, verdict, approver=user_id, channel="slack",
                                  now=self.clock.now(), reason=f"rejected in Slack by {name}"
                                  if verdict == "reject" else "", reference=reference))
        task = BackgroundTask(self._after, action_id, outcome, channel_id, user_id)
        if not outcome.ok:
            return JSONResponse({"response_type": "ephemeral", "replace_original": False,
                                 "text": f"Nothing was changed: {outcome.message}."}, background=task)
        text = (f"Approved #{action_id}: executing now (after a live-state check)." if verdict == "approve"
                else f"Rejected #{action_id}.")
        return JSONResponse({"response_type": "ephemeral", "replace_original": False, "text": text},
                            background=task)

    def _refused(self, user_id: str, action_id: int | None, account_id: str | None, why: str) -> None:
        """Keep a trace of refused clicks: someone saw the message who should not decide."""
        with self.engine.begin() as connection:
            audit_trail.record_event(connection, at=self.clock.now(), event="approval_refused", actor=f"slack:{user_id}",
                                     message=f"Slack user {user_id} refused: {why}", action_id=action_id,
                                     account_id=account_id, data={"channel": "slack", "user_id": user_id})

    def _after(self, action_id: int, outcome: DecisionOutcome, channel_id: str, user_id: str) -> None:
        """After the answer: execute an approval, then show the outcome in the message."""
        if outcome.ok and outcome.state == "approved":
            try:
                execute_after_approval(self.engine, self.config, self.clock, action_id, self.connectors_factory,
                                       worker="slack")
            except Exception:  # the message will say it is still approved; the next cycle retries
                log.exception("executing action %s after a Slack approval failed", action_id)
        try:
            if not outcome.ok and channel_id:
                self.slack.tell(channel_id, user_id, f"Nothing was changed: {outcome.message}.")
            self.slack.refresh_action(action_id, self.clock.now())
        except (SlackApiError, OSError) as error:  # Slack down: the next notify run refreshes it
            log.warning("could not update the Slack message of action %s: %s", action_id, error)


def slack_routes(engine: Any, config: AgentConfig, clock: Clock, settings: ApprovalSettings,
                 slack: SlackApprovals | None = None, *, connectors_factory: ConnectorsFactory) -> list[Route]:
    """The route to mount in the agent's HTTP server (agent/runtime/server.py)."""
    if settings.slack is None:
        return []
    endpoint = SlackInteractions(engine, config, clock, settings, slack or SlackApprovals(engine, settings.slack),
                                 connectors_factory)
    return [Route(PATH, endpoint.handle, methods=["POST"])]


def create_app(engine: Any, config: AgentConfig, clock: Clock, settings: ApprovalSettings,
               slack: SlackApprovals | None = None, *, connectors_factory: ConnectorsFactory) -> Starlette:
    """A stand-alone app serving only the Slack endpoint (tests, or a small separate process)."""
    return Starlette(routes=slack_routes(engine, config, clock, settings, slack,
                                         connectors_factory=connectors_factory))
