"""Which members to add to and remove from a platform audience: pure, no I/O.

The desired set is the segment's members who gave marketing consent, less everyone forgotten; the
synced set is what the ledger says the audience holds (members being added count as held: their
batch is re-sent first; members being removed do not). Adds are desired minus synced, removals
synced minus desired, so a person whose consent is withdrawn, or who is forgotten, leaves at the
next sync. Only the identifier kinds the platform matches are considered.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from connectors.audience_members import MemberKey


class ConsentedMember(Protocol):
    """A CRM segment member as the CRM segments hand it over (kind, hash, marketing consent)."""

    @property
    def kind(self) -> str: ...

    @property
    def sha256(self) -> str: ...

    @property
    def consent(self) -> bool: ...


def desired_members(members: Iterable[ConsentedMember], forgotten: Collection[MemberKey] = ()
                    ) -> frozenset[MemberKey]:
    """The members an audience should hold: those with consent, less the forgotten."""
    return frozenset((m.kind, m.sha256) for m in members if m.consent) - frozenset(forgotten)


@dataclass(frozen=True)
class SyncPlan:
    adds: tuple[MemberKey, ...]
    removes: tuple[MemberKey, ...]

    @property
    def digest(self) -> str:
        """Names this exact plan without naming anyone: what an approval approved."""
        text = "\n".join(["+" + ":".join(m) for m in self.adds] + ["-" + ":".join(m) for m in self.removes])
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def __bool__(self) -> bool:
        return bool(self.adds or self.removes)


def plan_sync(desired: Collection[MemberKey], synced: Mapping[MemberKey, str], kinds: Collection[str]) -> SyncPlan:
    """`synced`: (kind, sha256) -> ledger state (present, adding, removing)."""
    wanted = {member for member in desired if member[0] in kinds}
    held = {member for member, state in synced.items() if state != "removing"}
    return SyncPlan(adds=tuple(sorted(wanted - held)), removes=tuple(sorted(held - wanted)))
