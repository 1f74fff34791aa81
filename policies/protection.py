"""Which entities a policy may touch: never a protected one, nor anything under a protected parent."""

from __future__ import annotations

from policies.base import Snapshot


def _lineage(snapshot: Snapshot, entity_id: str) -> list[str]:
    """The entity id and its ancestors' ids (a parent may be referenced without being loaded)."""
    chain: list[str] = []
    current: str | None = entity_id
    while current is not None and current not in chain:
        chain.append(current)
        entity = snapshot.entities.get(current)
        current = entity.parent_id if entity else None
    return chain


def is_protected(snapshot: Snapshot, entity_id: str) -> bool:
    """True if the entity or any ancestor is in the account's protected list."""
    return any(e in snapshot.protected_entities for e in _lineage(snapshot, entity_id))


def is_live(snapshot: Snapshot, entity_id: str) -> bool:
    """True if the entity and every loaded ancestor are ACTIVE."""
    return all(
        snapshot.entities[e].status == "ACTIVE" for e in _lineage(snapshot, entity_id) if e in snapshot.entities
    )


def may_change(snapshot: Snapshot, entity_id: str) -> bool:
    """Live and not protected: what a policy may propose to change."""
    return is_live(snapshot, entity_id) and not is_protected(snapshot, entity_id)
