"""The `alerts:` section of the configuration."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from agent.approvals.settings import EMAIL_ADDRESS, SLACK_CHANNEL_ID
from policies.settings import StrictModel

CLOCK_TIME = r"^([01]\d|2[0-3]):[0-5]\d$"


class QuietHours(StrictModel):
    """Local hours (the account's time zone) in which nothing is pushed; `start` may be after `end`
    (22:00-07:00 spans midnight). What comes up meanwhile is sent when they end, as one digest."""

    start: str = Field(pattern=CLOCK_TIME)
    end: str = Field(pattern=CLOCK_TIME)


class AlertSettings(StrictModel):
    """Where alerts go and when. With neither `slack_channel` nor `email_to`, nothing is pushed."""

    slack_channel: str | None = Field(default=None, pattern=SLACK_CHANNEL_ID,
                                      description="channel id; needs approvals.slack (the bot token)")
    email_to: tuple[str, ...] = Field(default=(), description="recipients; needs approvals.email (the SMTP server)")
    min_severity: Literal["warning", "critical"] = Field(
        default="critical", description="anomalies below this are not pushed (explained ones never are)")
    pacing_breach_pct: float = Field(
        default=0.15, ge=0, description="push a pacing alert when the month is projected this far off budget")
    dedup_hours: float = Field(default=24, gt=0, description="the same alert is not sent again within this")
    mode: Literal["immediate", "digest"] = Field(default="immediate", description="or one digest a day")
    digest_at: str = Field(default="08:00", pattern=CLOCK_TIME, description="digest time, account-local")
    quiet_hours: QuietHours | None = None

    @field_validator("email_to")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if not re.match(EMAIL_ADDRESS, v.strip())]
        if bad:
            raise ValueError(f"not email addresses: {', '.join(bad)}")
        return tuple(v.strip().lower() for v in value)

    @property
    def enabled(self) -> bool:
        return self.slack_channel is not None or bool(self.email_to)
