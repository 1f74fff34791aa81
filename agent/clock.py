"""The clock is passed in, never read from a global, so tests and backtests control time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock that moves only when told to: tests, backtests and `run --today`."""

    current: datetime

    @classmethod
    def at_day(cls, day: date, hour: int = 9) -> FixedClock:
        return cls(datetime.combine(day, time(hour), tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current = self.current + delta


def local_today(clock: Clock, timezone: str) -> date:
    """Today's date in an account's own time zone: a platform's "day" is the account's day."""
    return clock.now().astimezone(ZoneInfo(timezone)).date()
