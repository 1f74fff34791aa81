"""The `approvals:` section of the configuration: who may decide, and through which channels.

Channels are configured once (the Slack app, the mailbox); approvers are per account, because the
person who may double a budget on one client's account is not necessarily allowed to on another's.
An account with no entry (and no `default`) gets no notifications: its queue is worked from the CLI.
Secrets are `SecretStr` resolved from `${ENV}` references like every other secret in the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from policies.settings import StrictModel

SLACK_USER_ID = r"^[UW][A-Z0-9]{2,}$"
SLACK_CHANNEL_ID = r"^[CGD][A-Z0-9]{2,}$"
EMAIL_ADDRESS = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class SlackSettings(StrictModel):
    """The Slack app: a bot token to post and update messages, the signing secret to verify clicks."""

    bot_token: SecretStr = Field(description="xoxb-... token with the chat:write scope")
    signing_secret: SecretStr = Field(description="Basic Information > App Credentials > Signing Secret")
    base_url: str = Field(default="https://slack.com/api/", description="Web API root; tests point it locally")
    timeout_seconds: int = Field(default=10, ge=1, le=60)


class SmtpSettings(StrictModel):
    """The server approval requests are sent through."""

    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls", description="starttls (port 587), ssl (port 465) or none (a local relay only)")
    username: str = ""
    password: SecretStr = SecretStr("")
    timeout_seconds: float = Field(default=15.0, gt=0)


class ImapSettings(StrictModel):
    """The mailbox that receives the approvers' replies (the reply address's inbox)."""

    host: str = Field(min_length=1)
    port: int = Field(default=993, ge=1, le=65535)
    security: Literal["ssl", "starttls", "none"] = "ssl"
    username: str = Field(min_length=1)
    password: SecretStr
    folder: str = "INBOX"
    timeout_seconds: float = Field(default=15.0, gt=0)


class EmailSettings(StrictModel):
    """Approval by email: requests go out by SMTP, replies come back to `reply_address` over IMAP."""

    from_address: str = Field(pattern=EMAIL_ADDRESS, description="sender of the approval requests")
    reply_address: str = Field(
        pattern=EMAIL_ADDRESS,
        description="mailbox read over IMAP; requests use its plus-address (local+TOKEN@domain) as Reply-To")
    smtp: SmtpSettings
    imap: ImapSettings
    trusted_authserv_id: str | None = Field(
        default=None,
        description="the authserv-id your receiving mail server (MX) writes in Authentication-Results; only its "
                    "results are believed, and a reply is accepted only if they show dkim, spf or dmarc=pass "
                    "for the sender's domain")
    insecure_accept_unauthenticated_replies: bool = Field(
        default=False,
        description="INSECURE: accept replies on the From header alone, for a mail server that adds no "
                    "Authentication-Results (anyone who can forge an approver's address and has seen a request "
                    "could decide it); `config check` warns while it is on")
    require_dkim: bool | None = Field(
        default=None, description="deprecated: authentication is always required; true is accepted and ignored")

    @model_validator(mode="after")
    def _authentication_fails_closed(self) -> EmailSettings:
        if self.require_dkim is False and not self.insecure_accept_unauthenticated_replies:
            raise ValueError("require_dkim: false no longer turns reply authentication off; if your mail server "
                             "adds no Authentication-Results, set insecure_accept_unauthenticated_replies: true")
        if self.trusted_authserv_id is None and not self.insecure_accept_unauthenticated_replies:
            raise ValueError("trusted_authserv_id is required: the authserv-id your receiving mail server writes in "
                             "Authentication-Results (e.g. mx.example.com); if it adds none, set "
                             "insecure_accept_unauthenticated_replies: true")
        return self

    @field_validator("from_address", "reply_address")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()


class AccountApprovals(StrictModel):
    """Where one account's pending actions are announced, and who may decide them."""

    slack_channel: str | None = Field(default=None, pattern=SLACK_CHANNEL_ID)
    slack_approvers: tuple[str, ...] = Field(default=(), description="Slack user ids (U...), not names")
    email_approvers: tuple[str, ...] = ()
    mode: Literal["per_action", "digest"] = Field(
        default="per_action", description="Slack: one message per action, or one per account and cycle")

    @field_validator("slack_approvers")
    @classmethod
    def _user_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if not re.match(SLACK_USER_ID, v)]
        if bad:
            raise ValueError(f"not Slack user ids (they look like U0123ABCD): {', '.join(bad)}")
        return value

    @field_validator("email_approvers")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if not re.match(EMAIL_ADDRESS, v.strip())]
        if bad:
            raise ValueError(f"not email addresses: {', '.join(bad)}")
        return tuple(v.strip().lower() for v in value)

    @model_validator(mode="after")
    def _channel_needs_approvers(self) -> AccountApprovals:
        if self.slack_channel and not self.slack_approvers:
            raise ValueError("slack_channel is set but slack_approvers is empty: nobody could approve there")
        return self

    @property
    def uses_slack(self) -> bool:
        return self.slack_channel is not None

    @property
    def uses_email(self) -> bool:
        return bool(self.email_approvers)


class ApprovalSettings(StrictModel):
    """The whole `approvals:` section. Every part is optional: with nothing set, nothing is sent."""

    slack: SlackSettings | None = None
    email: EmailSettings | None = None
    default: AccountApprovals | None = Field(default=None, description="for accounts not listed under accounts")
    accounts: dict[str, AccountApprovals] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _channels_configured(self) -> ApprovalSettings:
        routes = [*self.accounts.values(), *([self.default] if self.default else [])]
        if self.slack is None and any(r.uses_slack for r in routes):
            raise ValueError("a slack_channel is set but the slack section (bot_token, signing_secret) is missing")
        if self.email is None and any(r.uses_email for r in routes):
            raise ValueError("email_approvers are set but the email section (smtp, imap, reply_address) is missing")
        return self

    def warnings(self) -> list[str]:
        """Settings that are valid but unsafe, for `config check` to show."""
        if self.email is not None and self.email.insecure_accept_unauthenticated_replies:
            return ["approvals.email.insecure_accept_unauthenticated_replies is true: email replies are believed on "
                    "their From header alone (anyone who can forge an approver's address and has seen a request "
                    "can decide it)"]
        return []

    def for_account(self, account_id: str) -> AccountApprovals | None:
        return self.accounts.get(account_id, self.default)

    def unknown_accounts(self, known: Iterable[str]) -> list[str]:
        """Account ids listed here that the configuration does not have (likely a typo)."""
        return sorted(set(self.accounts) - set(known))

    def is_slack_approver(self, user_id: str) -> bool:
        """True if the user may decide for at least one account (a cheap first filter)."""
        routes = [*self.accounts.values(), *([self.default] if self.default else [])]
        return any(user_id in r.slack_approvers for r in routes)

    def is_email_approver(self, address: str) -> bool:
        routes = [*self.accounts.values(), *([self.default] if self.default else [])]
        return any(address.lower() in r.email_approvers for r in routes)


def approval_settings_of(config: Any) -> ApprovalSettings:
    """The `approvals` section of an AgentConfig, or an empty one while the config has none."""
    settings = getattr(config, "approvals", None)
    return settings if isinstance(settings, ApprovalSettings) else ApprovalSettings()
