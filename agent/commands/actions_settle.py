"""`actions settle ID --as executed|failed`: a person ends an `unknown` outcome after looking at the
platform. The agent settles most of them itself by reading the entity (agent/execution/settlement.py);
the ones it cannot tell (the entity changed by someone else after our write was sent, or only part of a
negative-keyword list present) stay `unknown`, count as applied, and wait for this."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from agent.commands.actions import _action_or_fail, _fail
from agent.commands.annotate import os_user
from agent.commands.common import config_option, console_for, session_for, today_option
from agent.errors import StaleTransition
from agent.storage.action_states import transition

SETTLED_AS = {"executed": "applied on the platform", "failed": "never applied on the platform"}


@click.command("settle")
@click.argument("action_id", type=int)
@click.option("--as", "state", type=click.Choice(sorted(SETTLED_AS)), required=True,
              help="executed: you saw the change on the platform; failed: you saw it was never applied.")
@click.option("--reason", required=True, help="What you checked (audit trail).")
@click.option("--by", "who", default=None, help="Who settles it (audit trail). Default: the operating-system user.")
@config_option
@today_option
def actions_settle(action_id: int, state: str, reason: str, who: str | None, config_path: Path, today: Any) -> None:
    """End an `unknown` outcome by hand, after checking the platform. Nothing is sent to the platform."""
    who = who or os_user()
    with session_for(config_path, today) as session:
        action = _action_or_fail(session.engine, action_id)
        if action["state"] != "unknown":
            _fail(f"action {action_id} is {action['state']}; only an unknown outcome is settled by hand")
        try:
            with session.engine.begin() as connection:
                transition(connection, action_id, state, actor=f"cli:{who}", now=session.clock.now(),
                           expected="unknown", reason=f"settled by a person ({SETTLED_AS[state]}): {reason}",
                           result={**(action["result"] or {}), "settled": state, "settled_by": f"cli:{who}"})
        except StaleTransition:
            _fail(f"action {action_id} was settled meanwhile; see `paid-media-agent actions show {action_id}`")
    console_for().print(f"action {action_id} settled as {state}: {reason}", markup=False)
