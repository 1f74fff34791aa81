"""The errors the agent raises, under the project's root `PaidMediaAgentError`.

The root and the connectors' branch live in `connectors/errors.py` (the agent may import the
connectors, never the reverse). This module holds the agent's branch:

    PaidMediaAgentError                    (connectors/errors.py)
    ├── ConnectorError ...                 (connectors/errors.py)
    └── AgentError
        ├── ConfigError                    the configuration is invalid; `problems` lists each line
        ├── StartupError                   the service cannot start; the message says why
        ├── PortUnavailable                the HTTP port cannot be bound
        ├── UserError                      a console user cannot be added or removed
        ├── TransitionError                an action cannot move to the state asked for
        │   ├── IllegalTransition          the state machine forbids the move
        │   └── StaleTransition            someone else moved the action first
        ├── RequestRefused                 an inbound HTTP request we answer with an error
        │   ├── BodyTooLarge               the body is over the limit (`limit`)
        │   ├── BodyTimeout                the body did not arrive in time
        │   ├── SlackSignatureError        not (recently) signed by Slack (`reason`)
        │   ├── WebhookSignatureError      not (recently) signed by the webhook's sender (`reason`)
        │   └── MalformedSlackPayload      signed, but not shaped like Slack's payloads
        └── CopywriterError                an ad-copy draft cannot be made
            ├── MalformedOutput            the model did not answer with the variants asked for
            └── NoTextLimits               no ad text limits are known for the platform

`MalformedOutput` and `NoTextLimits` are also `ValueError`s, as they always were.
"""

from __future__ import annotations

from connectors.errors import PaidMediaAgentError


class AgentError(PaidMediaAgentError):
    """The root of the agent's own errors (the connectors' are under `ConnectorError`)."""


class ConfigError(AgentError):
    """The configuration is invalid. `problems` holds one `key.path: message` line per problem."""

    def __init__(self, problems: list[str], source: str = "config") -> None:
        self.problems = problems
        self.source = source
        super().__init__(f"{source} is invalid:\n" + "\n".join(f"  {p}" for p in problems))


class StartupError(AgentError):
    """The service cannot start; the message says why, in one line."""


class PortUnavailable(AgentError):
    """The HTTP port cannot be bound; the message says which and why."""


class UserError(AgentError):
    """A user cannot be added or removed; the message says why."""


class TransitionError(AgentError):
    """An action cannot move to the state asked for."""


class IllegalTransition(TransitionError):
    """A state change the state machine does not allow (e.g. executing a rejected action)."""


class StaleTransition(TransitionError):
    """The action was no longer in the expected state: someone else moved it first."""


class RequestRefused(AgentError):
    """An inbound HTTP request the server refuses; the message is the one-line reason."""


class BodyTooLarge(RequestRefused):
    """The request body is larger than `limit` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"request body larger than {limit} bytes")


class BodyTimeout(RequestRefused):
    """The request body did not arrive in time."""


class SlackSignatureError(RequestRefused):
    """The request is not (recently) signed by Slack; `reason` says which check failed."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class WebhookSignatureError(RequestRefused):
    """The request is not (recently) signed; `reason` says which check failed (no secret in it)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class MalformedSlackPayload(RequestRefused):
    """A signed payload that is not shaped like Slack's; the message is the one-line reason."""


class CopywriterError(AgentError):
    """An ad-copy draft cannot be made."""


class MalformedOutput(CopywriterError, ValueError):
    """The model answered, but not with the variants the schema asks for."""


class NoTextLimits(CopywriterError, ValueError):
    """No text limits are known for this platform: drafting for it is skipped."""
