"""The project's root exception and the errors raised at the connector edge.

Every exception this project defines descends from `PaidMediaAgentError`, so an embedding program
can catch "anything the agent raised on purpose" in one clause. Below it, two branches: the
connectors' (`ConnectorError`, here) and the agent's (`AgentError`, in `agent/errors.py`).

    PaidMediaAgentError
    ├── ConnectorError                 a platform call failed; the message names the account
    │   ├── MalformedPayload           the platform answered with data we cannot parse
    │   ├── UnknownPlatform            the config names a platform no installed connector provides
    │   ├── WritesStopped              the write guard refused a write: nothing was sent
    │   └── PlatformError              carries `platform` and `account_id`
    │       ├── PlatformAuthError      credentials refused: fix the config, retrying cannot help
    │       ├── PlatformRequestError   the request is invalid: retrying the same one cannot help
    │       ├── PlatformRateLimited    still rate limited after the retry budget (`retry_after`)
    │       ├── PlatformUnavailable    server errors or timeouts outlasted the retry budget
    │       │   └── WriteOutcomeUnknown   a write may or may not have landed: read before re-sending
    │       └── OptionalReadUnavailable   (connectors/linkedin.py) an enrichment the token may not read
    ├── TruncatedResponse              Meta answered 200 with a broken body: safe to read again
    ├── InvalidMutation                the simulator refuses a mutation (also a ValueError)
    └── AgentError                     see agent/errors.py

`TruncatedResponse` and `InvalidMutation` sit outside `ConnectorError` on purpose: the first is a
retry signal inside the Meta transport, the second the simulator's refusal, which the simulator and
the backtest turn into a failed `MutationResult`; neither is a platform failure to report.

Two classes still live in `connectors/linkedin.py` until that module becomes a package:
`OptionalReadUnavailable` (drawn above) and `HttpFailure`, a plain `Exception` the LinkedIn transport
raises for a non-2xx answer and its retry classifier reads; it belongs beside `TruncatedResponse`.

This module imports nothing: the records (`connectors/records.py`) and every layer above may use it.
"""

from __future__ import annotations


class PaidMediaAgentError(Exception):
    """The root of every exception this project raises on purpose."""


class ConnectorError(PaidMediaAgentError):
    """A platform call failed in a way the caller should report (names the account)."""


class MalformedPayload(ConnectorError):
    """A platform answered with data we cannot parse; the record is skipped, the cycle goes on."""


class UnknownPlatform(ConnectorError):
    """The config names a platform no installed connector provides."""


class WritesStopped(ConnectorError):
    """The write guard refused a write before it was sent (the kill switch is on): nothing was sent."""


class PlatformError(ConnectorError):
    """A platform call failed; `platform` and `account_id` say where."""

    def __init__(self, message: str, *, platform: str, account_id: str) -> None:
        super().__init__(message)
        self.platform = platform
        self.account_id = account_id
        self.original: BaseException | None = None  # the SDK's error, for callers that need its details


class PlatformAuthError(PlatformError):
    """Credentials were refused (expired or revoked token, missing permission): fix the config."""


class PlatformRequestError(PlatformError):
    """The platform rejected the request as invalid; retrying the same request cannot help."""


class PlatformRateLimited(PlatformError):
    """Still rate limited after the retry budget; `retry_after` is the platform's last hint."""

    def __init__(self, message: str, *, platform: str, account_id: str, retry_after: float | None) -> None:
        super().__init__(message, platform=platform, account_id=account_id)
        self.retry_after = retry_after


class RequestQuotaExhausted(ConnectorError):
    """The day's request quota of a platform, shared by every worker, is spent: waiting would not
    help before the next day, so the request is not sent."""


class PlatformUnavailable(PlatformError):
    """Server errors or timeouts outlasted the retry budget."""


class WriteOutcomeUnknown(PlatformUnavailable):
    """A write was sent but its answer never came (timeout, reset, lost answer) or was a server error:
    it may or may not have been applied. Never re-send it before reading the platform."""


class TruncatedResponse(PaidMediaAgentError):
    """A 200 answer whose body is not JSON: the connection broke mid-body. Safe to re-read."""


class InvalidMutation(PaidMediaAgentError, ValueError):
    """A mutation the simulated platform would reject; the message says which and why."""
