"""The typed, frozen options a connector factory gets beside its accounts.

The agent builds connectors with the defaults (and the simulator with the agent's own database
engine); tests and benches inject a retry policy that never sleeps and point each connector at a
fake server through that connector's own tuning object (`MetaOptions`, `LinkedInOptions`,
`GoogleAdsOptions`), which the connector finds with `tuning_for`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.engine import Engine

from connectors.retry import RetryPolicy, Sleep

T = TypeVar("T")


@dataclass(frozen=True)
class ConnectorOptions:
    """Shared facilities and per-connector tuning. Every field has the production default."""

    retry_policy: RetryPolicy | None = None  # how platform calls are retried (tests: one that never sleeps)
    sleep: Sleep | None = None  # the retry policy's sleep, when no `retry_policy` is given
    engine: Engine | None = None  # the simulator's database (the agent passes its own engine)
    tuning: tuple[object, ...] = ()  # one tuning object per connector, e.g. MetaOptions(graph_url=...)

    def retry(self) -> RetryPolicy:
        """The retry policy a connector uses."""
        if self.retry_policy is not None:
            return self.retry_policy
        return RetryPolicy(sleep=self.sleep) if self.sleep is not None else RetryPolicy()

    def tuning_for(self, kind: type[T]) -> T:
        """The tuning object of type `kind` given in `tuning`, else `kind()` (its defaults)."""
        for tuning in self.tuning:
            if isinstance(tuning, kind):
                return tuning
        return kind()
