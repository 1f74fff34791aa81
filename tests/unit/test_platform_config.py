"""Switching an account from the simulator to a real platform is a config change only."""

from __future__ import annotations

from agent.bootstrap import account_as_mapping
from agent.config import parse_config
from connectors.google_ads.spec import customer_id_of
from connectors.registry import available_platforms


def test_real_platform_accounts_validate_and_reach_their_connector() -> None:
    config = parse_config({
        "accounts": [{"id": "client-search", "platform": "google_ads", "platform_account_id": "123-456-7890",
                      "currency": "USD", "timezone": "America/New_York",
                      "credentials": {"developer_token": "${DEV_TOKEN}"}}],
    }, environ={"DEV_TOKEN": "dev-123"})
    plain = account_as_mapping(config.accounts[0])
    assert customer_id_of(plain) == "1234567890"
    assert plain["credentials"] == {"developer_token": "dev-123"}
    assert {"google_ads", "meta", "linkedin", "simulator"} <= set(available_platforms())
