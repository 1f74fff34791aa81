"""First-party audiences kept in step with a CRM segment: the records every platform's syncer takes.

Pure records, no SDK. A member is `(kind, sha256)`: kind `email`, `phone` (E.164 with its `+`) or
`phonedig` (the same phone's digits without the `+`, the form Meta matches), the SHA-256 hex of the
normalized value (never clear text). The agent sends members in batches, each with its own batch id
recorded before the request (agent/storage/audience_ledger.py); a syncer answers per batch:
`applied`, `rejected` (surely not applied), `unknown` (no answer: the batch may have landed) or
`not_permitted` (the app lacks the platform's permission for audiences: skip, fail nothing).
Adding a member already in an audience, or removing one that is not, changes nothing on every
platform, so re-sending a batch whose answer was lost leaves the audience as if it went once; where
the platform can say whether it received a batch (Meta's upload sessions), it is asked first and a
received batch is not sent again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

MemberKey = tuple[str, str]  # (kind, sha256)
BatchStatus = Literal["applied", "rejected", "unknown", "not_permitted"]
Operation = Literal["add", "remove"]

# Which identifiers each platform matches as we store them. Google takes the E.164 phone with its
# `+`, Meta the digits without it (our `phonedig`), and LinkedIn's DMP segments match emails only.
MATCHABLE_KINDS: dict[str, frozenset[str]] = {
    "google_ads": frozenset({"email", "phone"}),
    "meta": frozenset({"email", "phonedig"}),
    "linkedin": frozenset({"email"}),
}


@dataclass(frozen=True)
class AudienceTarget:
    """Where a batch goes: the platform's account id, the audience (Google user list, Meta custom
    audience, LinkedIn DMP segment) and the credentials (never logged)."""

    account_id: str
    platform_account_id: str
    audience_id: str
    credentials: dict[str, str]


@dataclass(frozen=True)
class BatchAnswer:
    status: BatchStatus
    error: str | None = None


class AudienceSyncer(Protocol):
    """A platform's audience membership endpoint. `max_batch`: most members one request takes."""

    platform: str
    max_batch: int

    def send(self, target: AudienceTarget, operation: Operation, batch_id: str,
             members: Sequence[MemberKey]) -> BatchAnswer: ...

    def received(self, target: AudienceTarget, operation: Operation, batch_id: str,
                 members: Sequence[MemberKey]) -> bool | None:
        """Whether the platform shows this batch as received (then it is not sent again); None when
        the platform offers no way to tell, and the batch is re-sent."""
        ...


LookalikeStatus = Literal["created", "rejected", "unknown"]


@dataclass(frozen=True)
class LookalikeRequest:
    """A lookalike of a seed audience: in one country, the top `ratio` (0.01-0.20) most similar
    people. `name` is deterministic, so a lookalike whose creation went unanswered can be found."""

    name: str
    seed_audience_id: str
    country: str
    ratio: str


@dataclass(frozen=True)
class LookalikeAnswer:
    status: LookalikeStatus
    lookalike_id: str | None = None
    error: str | None = None


class LookalikeCreator(Protocol):
    """A platform's lookalike audiences: create one, or find one created before (by name)."""

    platform: str

    def find(self, target: AudienceTarget, request: LookalikeRequest) -> str | None: ...

    def create(self, target: AudienceTarget, request: LookalikeRequest) -> LookalikeAnswer: ...
