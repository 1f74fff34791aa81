"""Find connectors by name through the `paid_media_agent.connectors` entry-point group.

The built-in simulator registers itself the same way a third-party plugin would, so a package
that ships, say, a Microsoft Ads connector only has to declare an entry point.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import entry_points
from typing import Any, Protocol

from connectors.account_spec import AccountSpec
from connectors.base import Connector
from connectors.connector_options import ConnectorOptions
from connectors.errors import UnknownPlatform

ENTRY_POINT_GROUP = "paid_media_agent.connectors"
SPEC_ENTRY_POINT_GROUP = "paid_media_agent.connector_specs"  # platform -> its AccountSpec, no SDK imported


@dataclass(frozen=True)
class ConnectorContext:
    """What a connector factory gets: its accounts from the config, and the shared facilities.

    `accounts` are plain mappings (id, name, currency, timezone, credentials resolved to
    strings, ...) so a plugin depends on nothing of the agent's internals. `options` are typed and
    frozen (`connectors/connector_options.py`): the retry policy, the simulator's engine, and each
    connector's own tuning object.
    """

    platform: str
    accounts: Sequence[Mapping[str, Any]]
    settings: Mapping[str, Any]
    database_url: str
    now: Callable[[], datetime]
    options: ConnectorOptions = ConnectorOptions()


class ConnectorFactory(Protocol):
    def from_context(self, context: ConnectorContext) -> Connector: ...


def available_platforms() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


def load_factory(platform: str) -> ConnectorFactory:
    """The factory registered under `platform`; raises UnknownPlatform with the known names."""
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name == platform:
            factory: ConnectorFactory = entry_point.load()
            return factory
    known = ", ".join(available_platforms()) or "none (is the package installed?)"
    raise UnknownPlatform(f"no connector named {platform!r} is installed; known: {known}")


def create_connector(context: ConnectorContext) -> Connector:
    return load_factory(context.platform).from_context(context)


def load_spec(platform: str) -> type[AccountSpec] | None:
    """The account spec `platform`'s connector declares, None if it declares none (or is not installed).
    Loading it imports no platform SDK."""
    for entry_point in entry_points(group=SPEC_ENTRY_POINT_GROUP):
        if entry_point.name == platform:
            spec: type[AccountSpec] = entry_point.load()
            return spec
    return None
