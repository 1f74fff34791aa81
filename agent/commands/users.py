"""`users add|list|remove`: the people who sign in to the web console (agent/auth/).

The password is read from standard input (prompted twice, hidden, on a terminal; the first line
otherwise), never from the command line, where `ps` and the shell history would show it.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import click
from rich.table import Table

from agent.auth.passwords import password_problem
from agent.auth.roles import ROLES
from agent.auth.users import add_user, list_users, normalise_email, remove_user
from agent.commands.common import (
    EXIT_BAD_INPUT,
    config_option,
    console_for,
    engine_for,
    ensure_schema,
    load_or_exit,
    session_for,
)
from agent.errors import UserError


def _fail(message: str) -> NoReturn:
    console_for(stderr=True).print(f"error: {message}", markup=False)
    raise SystemExit(EXIT_BAD_INPUT)


def _read_password() -> str:
    if sys.stdin.isatty():
        return str(click.prompt("password", hide_input=True, confirmation_prompt=True))
    line = sys.stdin.readline(4096)
    return line.removesuffix("\n").removesuffix("\r")


@click.group("users")
def users_group() -> None:
    """People who may sign in to the web console (viewer, approver, admin)."""


@users_group.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True,
              help="viewer: sees; approver: also decides, for accounts listing the email among their "
                   "email_approvers; admin: everything.")
@click.option("--account", "accounts", multiple=True, metavar="ID",
              help="Limit the user to this account (repeat for several). Default: every account.")
@config_option
def users_add(email: str, role: str, accounts: tuple[str, ...], config_path: Path) -> None:
    """Add a user; the password is read from standard input."""
    config = load_or_exit(config_path)
    try:
        address = normalise_email(email)
    except UserError as error:
        _fail(str(error))
    known = {account.id for account in config.accounts}
    unknown = sorted(set(accounts) - known)
    if unknown:
        _fail(f"unknown account(s) {', '.join(unknown)}: the config has {', '.join(sorted(known))}")
    password = _read_password()
    problem = password_problem(password)
    if problem:
        _fail(f"{problem} (the password is read from standard input)")
    with engine_for(config) as engine:
        ensure_schema(engine)
        try:
            add_user(engine, address, password, role, accounts, datetime.now(UTC))
        except UserError as error:
            _fail(str(error))
    console = console_for()
    console.print(f"added {address} as {role}" + (f" of {', '.join(accounts)}" if accounts else ""), markup=False)
    if role == "approver":
        decides = [a for a in (accounts or sorted(known))
                   if (route := config.approvals.for_account(a)) is not None and address in route.email_approvers]
        console.print("decides for: " + (", ".join(decides) if decides else
                                         "no account yet (add the email to approvals.accounts.<id>.email_approvers)"),
                      markup=False)
    if config.service.session_secret is None:
        console_for(stderr=True).print("warning: service.session_secret is not set: `serve` refuses to start "
                                       "with users until it is", markup=False)


@users_group.command("list")
@config_option
def users_list(config_path: Path) -> None:
    """The users, their roles and accounts (never their password hashes)."""
    with session_for(config_path) as session:
        users = list_users(session.engine)
    table = Table(title=f"{len(users)} users")
    for column in ("email", "role", "accounts", "added"):
        table.add_column(column)
    for user in users:
        table.add_row(user.email, user.role, ", ".join(user.accounts) or "(all)",
                      user.created_at.strftime("%Y-%m-%d %H:%M UTC"))
    console_for().print(table)


@users_group.command("remove")
@click.argument("email")
@config_option
def users_remove(email: str, config_path: Path) -> None:
    """Remove a user; their sessions stop working at once."""
    with session_for(config_path) as session:
        try:
            remove_user(session.engine, email)
        except UserError as error:
            _fail(str(error))
    console_for().print(f"removed {email.strip().lower()}", markup=False)
