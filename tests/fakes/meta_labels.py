"""Ad labels in the fake Graph API, as the Marketing API reference describes them: campaigns and ad sets
list theirs in the `adlabels` field ([{id, name}]); `POST /{campaign_id|ad_set_id}/adlabels` with
`adlabels=[{"name": ...}]` (or `{"id": ...}`) associates labels, creating a named one the account does not
have; `DELETE /{ad_set_id}/adlabels` with `adlabels=[{"id": ...}]` dissociates them (campaigns have no
DELETE on that edge: Graph answers "Unsupported delete request"). The labels themselves are kept by the
simulator (`add_label` / `remove_label` mutations), so what is written is what the agent reads back.
"""

from __future__ import annotations

import json
from typing import Any

from connectors.records import Entity
from tests.fakes.platform_fixtures import IdMap


def label_id(ids: IdMap, account: str, name: str) -> str:
    return str(ids.numeric(f"label:{account}:{name}"))


def field(entity: Entity, ids: IdMap) -> list[dict[str, str]]:
    """An object's `adlabels` field."""
    return [{"id": label_id(ids, entity.account_id, name), "name": name} for name in entity.attributes.get("labels", [])]


def edge(fake: Any, node: str, method: str, body: dict[str, str]) -> dict[str, Any]:
    """One call on `/{node}/adlabels`; GraphError (the fake's) when Graph would refuse it."""
    from_server = fake.graph_error  # the server module's error type and shape, passed in to avoid a cycle
    sim_id = fake.ids.sim(node)
    account = next((a for a in fake.backend.accounts.values()
                    if sim_id and any(e.entity_id == sim_id for e in fake.backend.entities(a))), None)
    entity = None if account is None else next(e for e in fake.backend.entities(account) if e.entity_id == sim_id)
    if entity is None or entity.level not in ("campaign", "ad_set"):
        raise from_server(100, f"Object with ID '{node}' does not exist, or has no adlabels edge", 33)
    try:
        spec = json.loads(body.get("adlabels", ""))
    except ValueError:
        spec = None
    if not isinstance(spec, list) or not spec or not all(isinstance(item, dict) for item in spec):
        raise from_server(100, "(#100) The parameter adlabels is required and must be a list of objects")
    names = []
    for item in spec:
        if item.get("name"):
            names.append(str(item["name"]))
            continue
        known = fake.ids.sim(str(item.get("id", "")))
        if not known or not known.startswith(f"label:{entity.account_id}:"):
            raise from_server(100, f"(#100) ad label {item.get('id')!r} does not exist")
        names.append(known.split(":", 2)[2])
    if method == "DELETE":
        if entity.level == "campaign":
            raise from_server(100, "Unsupported delete request.", 33)
        if any("name" in item and "id" not in item for item in spec):
            raise from_server(100, "(#100) to dissociate an ad label, give its id")
        mutations = [("remove_label", entity.entity_id, {"label": n}) for n in names
                     if n in entity.attributes.get("labels", [])]
    elif method == "POST":
        mutations = [("add_label", entity.entity_id, {"label": n}) for n in names
                     if n not in entity.attributes.get("labels", [])]
    else:
        raise from_server(100, f"Unsupported {method} request.", 33)
    failed = [r.error for r in fake.backend.apply(account, mutations, "meta") if not r.ok] if mutations else []
    if failed:
        raise from_server(100, f"Invalid parameter: {failed[0]}", 1487390)
    return {"success": True}
