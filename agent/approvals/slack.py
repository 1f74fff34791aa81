"""Approval requests in Slack: Block Kit messages with Approve / Reject buttons, kept up to date.

Each posted message's `ts` is stored (approval_slack_messages), so the message can later be
rewritten with `chat.update` to show who decided, and whether the change executed, failed (and
why) or expired. A message is always re-rendered from the database, never patched, so a lost
update is repaired by the next refresh.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import Engine, RowMapping

from agent.approvals import records
from agent.approvals.followup import ActionRow, Decision, decision_of, describe_change, headline, outcome_text
from agent.approvals.settings import SlackSettings
from agent.storage.action_states import as_utc, get_action

log = logging.getLogger(__name__)
APPROVE_ACTION_ID = "pma_approve"
REJECT_ACTION_ID = "pma_reject"
MAX_ACTIONS_PER_MESSAGE = 12  # Slack allows 50 blocks a message; an action takes up to 4
STATE_EMOJI = {"executed": ":white_check_mark:", "failed": ":x:", "rejected": ":no_entry_sign:",
               "expired": ":hourglass:", "superseded": ":twisted_rightwards_arrows:", "approved": ":thumbsup:",
               "executing": ":gear:", "held_out": ":test_tube:"}


def slack_client(settings: SlackSettings) -> WebClient:
    return WebClient(token=settings.bot_token.get_secret_value(), base_url=settings.base_url,
                     timeout=settings.timeout_seconds)


def escape(text: str, limit: int = 2900) -> str:
    """Slack mrkdwn escaping (&, <, >) and the section length limit."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_name(decision: Decision) -> str:
    return f"<@{decision.approver}>" if decision.channel == "slack" else escape(decision.approver)


def _evidence_line(evidence: Mapping[str, Any]) -> str:
    shown = [f"{key}={value}" for key, value in list(evidence.items())[:6]
             if isinstance(value, str | int | float | bool)]
    return escape(", ".join(shown), 1500) if shown else ""


def action_blocks(action: ActionRow, decision: Decision | None) -> list[dict[str, Any]]:
    """The blocks for one action: what, why, evidence, then buttons (pending) or the outcome."""
    action_id = int(action["id"])
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": (
            f"*{escape(headline(action))}*\n`{escape(describe_change(action), 1000)}`")}},
        {"type": "section", "text": {"type": "mrkdwn", "text": escape(str(action["rationale"]) or "(no rationale)")}},
    ]
    context = [f"policy {escape(str(action['policy']))}"]
    if evidence := _evidence_line(action["evidence"] or {}):
        context.append(evidence)
    if action["expires_at"] is not None and action["state"] == "pending_approval":
        context.append(f"decide before {as_utc(action['expires_at']):%Y-%m-%d %H:%M} UTC")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]})
    if action["state"] == "pending_approval":
        blocks.append({"type": "actions", "block_id": f"pma-{action_id}", "elements": [
            {"type": "button", "action_id": APPROVE_ACTION_ID, "value": str(action_id), "style": "primary",
             "text": {"type": "plain_text", "text": "Approve"},
             "confirm": {"title": {"type": "plain_text", "text": "Approve this change?"},
                         "text": {"type": "mrkdwn", "text": escape(describe_change(action), 250)},
                         "confirm": {"type": "plain_text", "text": "Approve"},
                         "deny": {"type": "plain_text", "text": "Cancel"}}},
            {"type": "button", "action_id": REJECT_ACTION_ID, "value": str(action_id), "style": "danger",
             "text": {"type": "plain_text", "text": "Reject"}},
        ]})
    else:
        emoji = STATE_EMOJI.get(str(action["state"]), ":information_source:")
        # escape everything but the mention, which must reach Slack as <@U...> to render as a name
        plain = escape(outcome_text(action, decision, lambda _: "\x00"), 2800)
        text = f"{emoji} {plain.replace(chr(0), slack_name(decision) if decision else '')}"
        blocks.append({"type": "section", "block_id": f"pma-{action_id}-outcome",
                       "text": {"type": "mrkdwn", "text": text}})
    return blocks


def message_content(actions: Sequence[ActionRow], decisions: Mapping[int, Decision | None],
                    digest: bool) -> tuple[str, list[dict[str, Any]]]:
    """Fallback text (notifications, screen readers) and the blocks of a whole message."""
    pending = sum(1 for a in actions if a["state"] == "pending_approval")
    if digest:
        account = actions[0]["account_id"] if actions else ""
        text = f"{len(actions)} proposed change(s) for account {account}, {pending} awaiting a decision"
        blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": text[:150]}}]
        for action in actions:
            blocks.append({"type": "divider"})
            blocks.extend(action_blocks(action, decisions.get(int(action["id"]))))
        return text, blocks
    action = actions[0]
    prefix = "Approval needed" if pending else f"Proposal {action['state']}"
    return f"{prefix}: {headline(action)}", action_blocks(action, decisions.get(int(action["id"])))


class SlackApprovals:
    """Posts approval requests and keeps the messages in step with the actions they show."""

    def __init__(self, engine: Engine, settings: SlackSettings, client: WebClient | None = None) -> None:
        self.engine = engine
        self.client = client or slack_client(settings)

    def post(self, account_id: str, channel_id: str, actions: Sequence[RowMapping], digest: bool,
             now: datetime) -> int:
        """Post `actions` (one message each, or digests), remember each `ts`; returns messages posted."""
        groups = ([list(actions[i:i + MAX_ACTIONS_PER_MESSAGE]) for i in range(0, len(actions),
                                                                             MAX_ACTIONS_PER_MESSAGE)]
                  if digest else [[a] for a in actions])
        posted = 0
        for group in groups:
            text, blocks = message_content(group, {}, digest)
            response = self.client.chat_postMessage(channel=channel_id, text=text, blocks=blocks,
                                                    unfurl_links=False, unfurl_media=False)
            ts, channel = str(response["ts"]), str(response.get("channel") or channel_id)
            with self.engine.begin() as connection:
                for action in group:
                    records.record_slack_message(connection, action_id=int(action["id"]), account_id=account_id,
                                                 channel_id=channel, ts=ts, digest=digest,
                                                 state=str(action["state"]), now=now)
            posted += 1
        return posted

    def refresh(self, channel_id: str, ts: str, now: datetime) -> None:
        """Rewrite one message from the current state of its actions (`chat.update`)."""
        with self.engine.connect() as connection:
            rows = records.slack_message_rows(connection, channel_id, ts)
            actions = [a for a in (get_action(connection, int(r["action_id"])) for r in rows) if a is not None]
        if not actions:
            return
        decisions = {int(a["id"]): decision_of(self.engine, int(a["id"])) for a in actions}
        text, blocks = message_content(actions, decisions, digest=bool(rows[0]["digest"]))
        self.client.chat_update(channel=channel_id, ts=ts, text=text, blocks=blocks)
        with self.engine.begin() as connection:
            records.mark_slack_rendered(connection, channel_id, ts, {int(a["id"]): str(a["state"]) for a in actions},
                                        now)

    def refresh_action(self, action_id: int, now: datetime) -> bool:
        """Update the message showing an action, if there is one."""
        with self.engine.connect() as connection:
            row = records.slack_message_of(connection, action_id)
        if row is None:
            return False
        self.refresh(str(row["channel_id"]), str(row["ts"]), now)
        return True

    def refresh_outdated(self, now: datetime) -> int:
        """Update every message whose actions moved on (decided in the CLI, executed, expired...)."""
        with self.engine.connect() as connection:
            outdated = records.outdated_slack_messages(connection)
        for channel_id, ts in outdated:
            self.refresh(channel_id, ts, now)
        return len(outdated)

    def tell(self, channel_id: str, user_id: str, text: str) -> None:
        """A message only the clicking user sees (nothing changed, and why)."""
        self.client.chat_postEphemeral(channel=channel_id, user=user_id, text=text)
