"""A console over a simulated world: two accounts after one cycle in `propose` mode, and its users."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from starlette.applications import Starlette

from agent.auth.tokens import new_secret
from agent.auth.users import add_user
from agent.bootstrap import connectors_factory
from agent.console.routes import console_routes
from agent.cycle.run import run_cycle
from agent.runtime.server import ServiceStatus, build_app
from agent.storage import db, store
from agent.storage.action_states import list_actions
from tests.integration.conftest import SimWorld, make_world, small_config

PASSWORD = "correct horse battery staple"
ADMIN, VIEWER = "ada@example.com", "vic@example.com"


@dataclass
class ConsoleWorld:
    world: SimWorld
    app: Starlette

    @property
    def engine(self) -> Engine:
        return self.world.engine

    def pending(self) -> list[dict[str, object]]:
        with self.engine.connect() as connection:
            return [dict(a) for a in list_actions(connection, "pending_approval")]


def console_world(tmp_path: Path, url: str | None = None) -> Iterator[ConsoleWorld]:
    """The simulated world (on SQLite unless `url` says otherwise), one cycle run in `propose` mode so
    proposals wait, an admin and a viewer, and the app as `serve` builds it."""
    url = url or f"sqlite:///{tmp_path / 'console.db'}"
    engine = store.make_engine(url)
    db.upgrade(engine)
    try:
        accounts = small_config(url)["accounts"]
        accounts[0]["monthly_budget"] = "9000"  # shop-meta: a pacing report to show
        world = make_world(engine, url, service={"session_secret": new_secret()}, accounts=accounts,
                           reporting={"currency": "EUR", "fx_rates": {"USD": "0.92"}})
        run_cycle(engine, world.config, world.connectors, world.clock)
        now = world.clock.now()
        add_user(engine, ADMIN, PASSWORD, "admin", [], now)
        add_user(engine, VIEWER, PASSWORD, "viewer", [], now)
        app = build_app(engine, world.config, ServiceStatus(), now=world.clock.now,
                        console_routes=console_routes(engine, world.config, world.clock,
                                                      connectors_factory(world.config, world.clock, engine)))
        yield ConsoleWorld(world=world, app=app)
    finally:
        engine.dispose()
