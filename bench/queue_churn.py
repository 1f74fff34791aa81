"""Approval-queue churn over simulated days in `propose` mode with nobody deciding.

    python bench/queue_churn.py [--days 10] [--config config.example.yaml] [--before main]

Runs one cycle a day (`run --today` steps) on the simulator accounts of the config, every action
kind on `propose`, and nobody approving or rejecting. Prints:
- proposals: actions queued for approval (distinct proposals a person was asked about);
- re-proposed after expiring: of those, the ones whose entity and kind's previous proposal
  expired unanswered (the churn: the same question asked again; target < 10% of proposals);
- asked again after a new change: the previous one was superseded (another amount or target);
- pending per day, after each day's cycle.

`--before REF` also measures the code of a git ref (e.g. `main`), extracted to a temporary
directory, and prints both side by side. Figures depend on the config and the days only: the
simulator is deterministic for its seed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# import from the repository, and keep bench/ itself off the path (bench/requests.py would shadow
# the `requests` library that the cycle's connectors import)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from sqlalchemy import Engine, select  # noqa: E402

from agent.bootstrap import build_connectors  # noqa: E402
from agent.clock import FixedClock  # noqa: E402
from agent.config import parse_config  # noqa: E402

try:  # this layout (agent grouped by role)
    from agent.cycle.run import run_cycle
    from agent.storage import db, store
    from agent.storage.models import Action, AuditEvent
    from connectors.records import MUTATION_KINDS
except ImportError:  # an earlier checkout measured with --before (agent/ flat, records in connectors.base)
    from agent.cycle.run import run_cycle
    from agent.storage import db, store
    from agent.storage.models import Action, AuditEvent
    from connectors.records import MUTATION_KINDS

FIRST_DAY = date(2026, 11, 2)


def propose_config(config_file: Path, database_url: str) -> dict[str, Any]:
    """The config's simulator accounts, every kind on `propose` (no account overrides it)."""
    raw: dict[str, Any] = yaml.safe_load(config_file.read_text())
    raw["database_url"] = database_url
    raw["dry_run"] = False
    raw.pop("approvals", None)
    raw.setdefault("defaults", {})["permissions"] = {kind: "propose" for kind in MUTATION_KINDS}
    raw["accounts"] = [dict(a, permissions={}) for a in raw["accounts"] if a.get("platform") == "simulator"]
    return raw


def pending_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return len(list(connection.execute(select(Action.id).where(Action.state == "pending_approval"))))


def queue_figures(engine: Engine) -> dict[str, Any]:
    """Proposals asked of people, and which of them repeat an expired or superseded question."""
    with engine.connect() as connection:
        queued_ids = set(connection.execute(select(AuditEvent.action_id).where(
            AuditEvent.event == "state:pending_approval")).scalars())
        actions = list(connection.execute(select(Action.id, Action.account_id, Action.entity_id, Action.kind,
                                                 Action.state).order_by(Action.id)).mappings())
    last_state: dict[tuple[str, str, str], str] = {}
    reproposed = asked_again = 0
    for action in actions:
        if action["id"] not in queued_ids:
            continue
        key = (action["account_id"], action["entity_id"], action["kind"])
        reproposed += last_state.get(key) == "expired"
        asked_again += last_state.get(key) == "superseded"
        last_state[key] = action["state"]
    states = Counter(a["state"] for a in actions if a["id"] in queued_ids)
    return {"proposals": len(queued_ids), "reproposed_after_expiry": reproposed,
            "asked_again_after_change": asked_again, "states": dict(states)}


def measure(days: int, config_file: Path, first_day: date = FIRST_DAY) -> dict[str, Any]:
    """Run `days` daily cycles on a new SQLite database; the queue's figures."""
    with tempfile.TemporaryDirectory() as directory:
        config = parse_config(propose_config(config_file, f"sqlite:///{directory}/queue.db"), environ={})
        engine = store.make_engine(config.database_url.get_secret_value())
        db.upgrade(engine)
        pending_per_day: list[int] = []
        for offset in range(days):
            clock = FixedClock.at_day(first_day + timedelta(days=offset))
            run_cycle(engine, config, build_connectors(config, clock, engine), clock)
            pending_per_day.append(pending_count(engine))
        figures = queue_figures(engine)
        engine.dispose()
    return {**figures, "pending_per_day": pending_per_day, "days": days}


def measure_ref(ref: str, days: int, config_file: Path) -> dict[str, Any]:
    """The same measure on the code of a git ref, extracted beside this checkout's environment."""
    with tempfile.TemporaryDirectory() as directory:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", directory], input=archive, check=True)
        script = Path(directory) / "bench" / "queue_churn.py"
        script.write_text(Path(__file__).read_text())  # this script, measuring that code
        if config_file.resolve() == (ROOT / "config.example.yaml").resolve():  # that code's own example
            config_file = Path(directory) / "config.example.yaml"
        done = subprocess.run([sys.executable, str(script), "--days", str(days), "--config", str(config_file.resolve()),
                               "--json"], capture_output=True, text=True, cwd=directory)
        if done.returncode != 0:
            raise SystemExit(f"measuring {ref} failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _print(label: str, figures: dict[str, Any]) -> None:
    proposals = figures["proposals"]
    share = figures["reproposed_after_expiry"] / proposals if proposals else 0.0
    print(f"{label}:")
    print(f"  proposals queued for approval   {proposals}")
    print(f"  re-proposed after expiring      {figures['reproposed_after_expiry']} ({share:.0%}; target < 10%)")
    print(f"  asked again after a new change  {figures['asked_again_after_change']}")
    print(f"  final states                    {figures['states']}")
    print(f"  pending per day                 {figures['pending_per_day']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--config", type=Path, default=ROOT / "config.example.yaml")
    parser.add_argument("--before", metavar="REF", help="also measure this git ref (e.g. main)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = parser.parse_args()
    if args.before:
        _print(f"before ({args.before})", measure_ref(args.before, args.days, args.config))
    after = measure(args.days, args.config)
    if args.json:
        print(json.dumps(after))
        return
    _print("after (this checkout)" if args.before else "this checkout", after)


if __name__ == "__main__":
    main()
