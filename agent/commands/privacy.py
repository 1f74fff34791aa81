"""`privacy forget` and `privacy prune`: erasing a person, and keeping CRM data no longer than the retention."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from agent.clock import SystemClock
from agent.commands.common import config_option, console_for, fail, session_for
from agent.customers.privacy import NotAnIdentifier, forget, identifier_of, prune


@click.group("privacy")
def privacy_group() -> None:
    """Personal data: erasure requests and retention (docs/segments.md, "Privacy")."""


@privacy_group.command("forget")
@click.argument("identifier", metavar="EMAIL|PHONE")
@config_option
def privacy_forget(identifier: str, config_path: Path) -> None:
    """Erase a person's hashed identifiers and outcomes everywhere; synced audiences drop them at the next
    sync. `-` reads the email or phone from standard input (kept out of the shell's history)."""
    raw = sys.stdin.readline() if identifier == "-" else identifier
    try:
        identifier_of(raw)
    except NotAnIdentifier as error:
        fail(f"EMAIL|PHONE: {error}")
    with session_for(config_path) as session:
        done = forget(session.engine, session.config, raw, SystemClock().now())
    erased = done.erased
    console_for().print(
        f"erasure request {done.request_id}: removed {erased.outcomes} outcomes, {erased.customers} customer-list "
        f"entries, {erased.memberships} segment memberships, {erased.uploads} upload-ledger rows; "
        f"{erased.identifiers} identifiers will be removed from synced audiences at the next sync", markup=False)


@privacy_group.command("prune")
@config_option
def privacy_prune(config_path: Path) -> None:
    """Delete CRM records and customer-list entries older than `privacy.retention_days` now (each cycle does too)."""
    with session_for(config_path) as session:
        if session.config.privacy.retention_days is None:
            fail("privacy.retention_days is not set: nothing is ever pruned (set it in the config)")
        with session.engine.begin() as connection:
            pruned = prune(connection, session.config, SystemClock().now(), actor="cli")
    assert pruned is not None
    console_for().print(
        f"retention {session.config.privacy.retention_days} days: deleted {pruned.crm_records} CRM records "
        f"({pruned.outcomes} outcomes, {pruned.uploads} upload-ledger rows) and {pruned.customers} "
        "customer-list entries", markup=False)
