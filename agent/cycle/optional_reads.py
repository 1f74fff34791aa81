"""Optional reads: enrichments whose failure never fails an account's pull.

Reach estimates, audiences and search terms refine what the policies see (audience overlap,
negative keywords), but an account's metrics and actions do not depend on them. A platform that
refuses one (a permission the app lacks, a business Meta does not estimate reach for, a quota)
is logged, counted in `pma_optional_read_failures_total`, and noted per account in the audit
log (`optional_read_failed`, with the cycle), where the dashboard shows it next to the account.
The account's other reads, its policies and its actions go on; what was stored before is kept.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Connection

from agent.prometheus import OPTIONAL_READ_FAILURES
from agent.storage import audit_trail

log = logging.getLogger(__name__)
T = TypeVar("T")
EVENT = "optional_read_failed"


class OptionalReads:
    """The failures of one account's optional reads in one pull (thread-safe)."""

    def __init__(self, account_id: str, platform: str) -> None:
        self.account_id = account_id
        self.platform = platform
        self.failures: dict[str, str] = {}  # read -> its first error, for the note
        self._lock = threading.Lock()

    def result(self, read: str, outcome: Future[T] | Callable[[], T]) -> T | None:
        """The read's result, or None (logged and counted) if it failed."""
        try:
            return outcome.result() if isinstance(outcome, Future) else outcome()
        except Exception as error:  # an enrichment: whatever went wrong, the pull goes on
            self.failed(read, error)
            return None

    def failed(self, read: str, error: BaseException) -> None:
        log.warning("cycle.optional_read_failed", extra={"account": self.account_id, "platform": self.platform,
                                                         "read": read, "error": f"{type(error).__name__}: {error}"})
        OPTIONAL_READ_FAILURES.labels(platform=self.platform, read=read).inc()
        with self._lock:
            self.failures.setdefault(read, f"{type(error).__name__}: {error}")

    def record(self, connection: Connection, now: datetime, cycle_id: int | None) -> None:
        """One audit event per failed read, for the dashboard."""
        for read, error in sorted(self.failures.items()):
            audit_trail.record_event(connection, at=now, event=EVENT, actor="agent", cycle_id=cycle_id,
                                     account_id=self.account_id, data={"read": read},
                                     message=f"{read} unavailable, metrics and actions went on: {error}")


def latest_notes(connection: Connection, account_id: str) -> list[str]:
    """The optional reads that failed for the account in the latest finished cycle."""
    return audit_trail.messages_of_last_cycle(connection, account_id, EVENT)
