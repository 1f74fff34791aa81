"""What the real platform connectors do the same way, written once.

Each of them keeps its configured accounts by our id, reads an account's info (name, currency,
time zone) from the platform once and caches it, and sends every platform call through
`call_with_retry` with the account's credentials redacted from any message. `PlatformConnector`
does those three things; a connector subclasses it and says how its platform reads one
account's info (`_read_account_info`) and what its errors mean (the `classify` it passes in).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Generic, Protocol, TypeVar

from connectors.errors import ConnectorError
from connectors.records import AccountInfo, Entity
from connectors.retry import Classifier, RetryPolicy, call_with_retry

R = TypeVar("R")
V = TypeVar("V")


class ConfiguredAccount(Protocol):
    """An account as a connector keeps it: our id and the credentials its calls use."""

    @property
    def account_id(self) -> str: ...

    @property
    def credentials(self) -> Mapping[str, str]: ...


A = TypeVar("A", bound=ConfiguredAccount)


class PlatformConnector(Generic[A]):
    """Account lookup, a cached (and thread-safe) account info, and the retried platform call.

    `self._lock` guards every cache of the subclass too: hold it only around dict reads and
    writes, never around a platform call.
    """

    platform: str

    def __init__(self, accounts: Sequence[A], *, retry: RetryPolicy | None, classify: Classifier) -> None:
        self._accounts: dict[str, A] = {a.account_id: a for a in accounts}
        self._retry = retry or RetryPolicy()
        self._classify = classify
        self._info: dict[str, AccountInfo] = {}
        self._lock = threading.Lock()

    def _account(self, account_id: str) -> A:
        try:
            return self._accounts[account_id]
        except KeyError:
            raise ConnectorError(f"{self.platform}: account {account_id!r} is not configured") from None

    def _call(self, account: A, operation: str, fn: Callable[[], R], write: bool = False) -> R:
        """`fn()` retried per the policy (a `write` only when it surely was not applied); failures
        become `PlatformError`s naming the account, with its credentials redacted."""
        return call_with_retry(fn, policy=self._retry, classify=self._classify, platform=self.platform,
                               account_id=account.account_id, operation=operation,
                               secrets=account.credentials.values(), write=write)

    def accounts(self) -> Sequence[AccountInfo]:
        return [self._account_info(a) for a in self._accounts.values()]

    def account_info(self, account_id: str) -> AccountInfo:
        """One account's info (`AccountInfoReader`): read in the account's own pull, not up front."""
        return self._account_info(self._account(account_id))

    def _account_info(self, account: A) -> AccountInfo:
        with self._lock:
            cached = self._info.get(account.account_id)
        if cached is not None:
            return cached
        info = self._read_account_info(account)
        with self._lock:
            self._info[account.account_id] = info
        return info

    def _entity_map(self, account_id: str, cache: Mapping[str, Mapping[str, V]],
                    entity_ids: Sequence[str]) -> Mapping[str, V]:
        """What `cache` (filled by the subclass's `entities()`) knows of an account's entities, read
        again from the platform first if any of `entity_ids` is not in it yet."""
        with self._lock:
            known = cache.get(account_id)
        if known is None or any(entity_id not in known for entity_id in entity_ids):
            self.entities(account_id)
            with self._lock:
                known = cache[account_id]
        return known

    def entities(self, account_id: str) -> Sequence[Entity]:
        raise NotImplementedError

    def _read_account_info(self, account: A) -> AccountInfo:
        """The account as the platform describes it, read now (called once per account)."""
        raise NotImplementedError
