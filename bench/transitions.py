"""CPU per action transition: the state machine now against a baseline commit's, in one run.

    python bench/transitions.py [--actions 300] [--rounds 3] [--baseline 53e2e4f] [--postgres URL]

Each round creates `--actions` actions and walks each through the executor's path (proposed ->
pending_approval -> approved -> executing -> executed, each in its own transaction as the gate,
the approver and the executor do), first with the baseline's `transition` (its module read from
git at `--baseline` and loaded beside ours), then with ours, alternating which goes first. The
figure is process CPU per transition (median of rounds), ours over the baseline's; the database
work (SQLite in a temporary file, or PostgreSQL with `--postgres`) is inside both.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.storage import db, store
from agent.storage.action_states import create_action, transition
from bench.common import Figure, Report
from policies.base import Proposal

ROOT = Path(__file__).resolve().parents[1]
PATH = ["pending_approval", "approved", "executing", "executed"]
NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)


def baseline_module(commit: str) -> ModuleType:
    """`agent/storage/action_states.py` as it was at `commit`, loaded as a module of its own."""
    source = subprocess.run(["git", "show", f"{commit}:agent/storage/action_states.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    spec = importlib.util.spec_from_loader("baseline_action_states", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    exec(compile(source, f"{commit}:action_states.py", "exec"), module.__dict__)  # noqa: S102 (our own file)
    return module


def _proposal(n: int) -> Proposal:
    return Proposal(kind="pause", policy="bench", account_id=f"acct-{n % 7}", entity_id=f"ad-set-{n}",
                    entity_level="ad_set", entity_name=f"Ad set {n}",
                    change={"from": {"status": "ACTIVE"}, "to": {"status": "PAUSED"}}, rationale="bench")


def walk(engine: Any, move: Callable[..., None], actions: int, salt: str) -> float:
    """CPU seconds per transition over `actions` actions walked through PATH."""
    with engine.begin() as connection:
        ids = [create_action(connection, _proposal(n), cycle_id=None, permission="auto", dry_run=False, now=NOW,
                             key_salt=f"{salt}-{n}") for n in range(actions)]
    started = time.process_time()
    for action_id in ids:
        previous = "proposed"
        for state in PATH:
            with engine.begin() as connection:
                move(connection, action_id, state, actor="bench", reason=f"to {state}", now=NOW, expected=previous)
            previous = state
    return (time.process_time() - started) / (actions * len(PATH))


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--actions", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", default="53e2e4f", help="commit whose state machine is the baseline")
    parser.add_argument("--postgres", default="", help="a PostgreSQL URL instead of a temporary SQLite file")
    parser.add_argument("--implicit", action="store_true", help="pass no `expected` state (the read path)")
    args = parser.parse_args(argv)
    old = baseline_module(args.baseline).transition
    with tempfile.TemporaryDirectory() as tmp:
        url = args.postgres or f"sqlite:///{tmp}/transitions.db"
        engine = store.make_engine(url)
        db.upgrade(engine)
        times: dict[str, list[float]] = {"baseline": [], "now": []}
        for round_ in range(args.rounds):
            order = [("baseline", old), ("now", transition)]
            for name, move in order if round_ % 2 == 0 else order[::-1]:
                times[name].append(walk(engine, move, args.actions, f"{name}-{round_}-{time.time_ns()}"))
        engine.dispose()
    base, now = statistics.median(times["baseline"]), statistics.median(times["now"])
    database = "PostgreSQL" if args.postgres else "SQLite"
    report = Report(f"action transitions, {database}: {args.actions} actions x {len(PATH)} moves x {args.rounds} rounds")
    report.add(Figure("CPU per transition, baseline", base * 1e3, "ms"))
    report.add(Figure("CPU per transition, now vs baseline", now * 1e3, "ms", limit=base * 1e3,
                      note=f"rounds now {[round(t * 1e3, 3) for t in times['now']]}, "
                           f"baseline {[round(t * 1e3, 3) for t in times['baseline']]}"))
    report.print()
    return report


if __name__ == "__main__":
    main()
