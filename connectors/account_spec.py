"""The account fields a connector reads from the config, declared as a pydantic model (its spec).

Each connector names its spec under the `paid_media_agent.connector_specs` entry-point group, in a
module that imports no platform SDK, so `config check` validates every account's fields against
its connector's spec without loading the SDKs. An account field the spec does not name is the
agent's business, not the connector's, and is ignored here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from connectors.errors import ConnectorError


class AccountSpec(BaseModel):
    """Base of every connector's spec: our account id, and whatever fields the connector adds."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    platform_account_id: str | None = None


def platform_id_of(platform: str, account: Mapping[str, Any], key: str, parse: Callable[[str], str], what: str,
                   rule: str) -> str:
    """A config account's id on its platform: `platform_account_id`, else `key` (on the account, then
    in its credentials), else our own id; `parse` normalises it or raises ValueError, which becomes
    a ConnectorError naming the account, `what` the id is and the `rule` it breaks."""
    credentials = account.get("credentials") or {}
    raw = str(account.get("platform_account_id") or account.get(key) or credentials.get(key) or account["id"])
    try:
        return parse(raw)
    except ValueError:
        raise ConnectorError(f"{platform} account {account['id']}: {what} {raw!r} must be {rule} "
                             "(set platform_account_id)") from None
