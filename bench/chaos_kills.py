"""SIGKILL at random points of real `paid-media-agent` processes, and two processes at once.

Each trial gets a new database (a SQLite file, or a throw-away PostgreSQL schema) and a config
whose accounts are served by the built-in simulator, so the processes are exactly what an
operator runs. A kill lands either at a chosen platform write (the simulator's `PMA_SIM_FAULT`
hook: `before_apply:N` / `after_apply:N` SIGKILLs the process at its Nth write) or after a random
delay (anywhere: pull, evaluate, gate, execute, bookkeeping). A trial kills a run, then its
restart, and so on; then one run without faults finishes the work, the way an operator would
re-run it, and the mutation log is compared with the records (bench/chaos_records.py).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `make bench` runs every bench/*.py as a script: import from the repository,
    # with bench/ itself off the path (bench/requests.py would shadow the `requests` library)
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa
import yaml

from agent.approvals.decisions import decide_action
from agent.storage import db, store
from bench.chaos_records import Counts, count_simulated, say_done
from bench.common import BENCH_DAY, DEFAULT_PG_URL, sqlite_database
from tests.fakes.postgres import throwaway_schema

FAULT_ENV = "PMA_SIM_FAULT"
KINDS = ("pause", "enable", "set_budget", "add_negative_keywords", "exclude_audience", "new_ad")
RUN_TIMEOUT = 300.0


class HarnessError(Exception):
    """The bench itself could not do what it meant to (not a finding about the product)."""


@dataclass
class World:
    """How big each trial's simulated world is."""

    campaigns: int = 2
    ad_sets_per_campaign: int = 3
    history_days: int = 30


def agent_config(database_url: str, world: World, permission: str) -> dict[str, Any]:
    """Three simulated accounts (Google-, Meta- and LinkedIn-like); every kind at `permission`."""
    return {
        "database_url": database_url,
        "initial_history_days": world.history_days,
        "simulator": {"seed": 7, "history_days": world.history_days + 10, "campaigns_per_account": world.campaigns,
                      "ad_sets_per_campaign": world.ad_sets_per_campaign, "ads_per_ad_set": 2},
        "defaults": {"permissions": dict.fromkeys(KINDS, permission),
                     "guardrails": {"max_actions_per_cycle": 200}},
        "accounts": [
            {"id": "shop-meta", "platform": "simulator", "simulate": "meta", "currency": "EUR",
             "timezone": "Europe/Berlin", "monthly_budget": 30000},
            {"id": "shop-search", "platform": "simulator", "simulate": "google_ads", "currency": "USD",
             "timezone": "America/New_York", "monthly_budget": 45000},
            {"id": "shop-b2b", "platform": "simulator", "simulate": "linkedin", "currency": "GBP",
             "timezone": "Europe/London", "monthly_budget": 20000},
        ],
    }


@contextmanager
def fresh_database(backend: str, directory: Path) -> Iterator[str]:
    if backend == "sqlite":
        with sqlite_database(directory) as url:
            yield url
    else:
        with throwaway_schema(DEFAULT_PG_URL, prefix="chaos") as url:
            yield url


def agent_command(command: str, config_path: Path) -> list[str]:
    verb = ["run", "--once"] if command == "run" else ["actions", "execute"]
    return [sys.executable, "-m", "agent", *verb, "--config", str(config_path), "--today", BENCH_DAY.isoformat()]


def start(argv: list[str], fault: str | None = None) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
    if fault:
        env[FAULT_ENV] = fault
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(process: subprocess.Popen[bytes]) -> tuple[int, str]:
    try:
        out, err = process.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise HarnessError(f"{process.args!r} did not finish in {RUN_TIMEOUT:.0f} s") from None
    return process.returncode, (out + err).decode(errors="replace")


def startup_seconds() -> float:
    """How long the command line takes to start (imports) before it does anything: `--help`."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "agent", "--help"], capture_output=True, check=True)
    return time.monotonic() - started


class Killer:
    """Runs one command with a kill point; learns how long an unkilled run takes for the delays."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.typical_seconds: dict[str, float] = {}  # how long an unkilled run of each command takes
        self.writes_hint = 0  # platform writes a run makes, learnt from the trials so far
        self.landed: Counter[str] = Counter()  # kills by where they were aimed
        self.startup_seconds = startup_seconds()  # a kill before this lands in imports, testing nothing

    def run(self, argv: list[str], writes_hint: int) -> bool:
        """One run with a random kill point; True if it was SIGKILLed (False: it finished first)."""
        started = time.monotonic()
        if self.rng.random() < 0.5:  # at a platform write
            aim = self.rng.choice(("before_apply", "after_apply"))
            process = start(argv, f"{aim}:{self.rng.randint(1, max(1, writes_hint))}")
        else:  # anywhere: after a random delay
            aim = "random delay"
            process = start(argv)
            try:
                process.wait(timeout=self.rng.uniform(self.startup_seconds,
                                                          max(self.typical_seconds.get(argv[3], self.startup_seconds + 1.0),
                                                              self.startup_seconds + 0.5)))
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
        code, output = finish(process)
        if code == -signal.SIGKILL:
            self.landed[f"{argv[3]} {aim}"] += 1
            return True
        if code not in (0, 1):
            raise HarnessError(f"run exited {code}: {output[-2000:]}")
        seconds = time.monotonic() - started
        self.typical_seconds[argv[3]] = 0.5 * self.typical_seconds.get(argv[3], seconds) + 0.5 * seconds
        return False


def settle(argv: list[str]) -> int:
    """The operator's re-run, without faults; its exit code (1: a cycle that failed)."""
    code, output = finish(start(argv))
    if code not in (0, 1):
        raise HarnessError(f"re-run exited {code}: {output[-2000:]}")
    return code


def approve_pending(url: str) -> int:
    """What a person does between `run --once` (which proposes) and `actions execute`."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            pending = list(connection.execute(sa.text(
                "SELECT id FROM actions WHERE state = 'pending_approval' ORDER BY id")).scalars())
        now = datetime.combine(BENCH_DAY, datetime.min.time(), tzinfo=UTC).replace(hour=12)
        for action_id in pending:
            decide_action(engine, int(action_id), "approve", approver="bench", channel="cli", now=now)
        return len(pending)
    finally:
        engine.dispose()


def queued(url: str) -> int:
    """Actions an `actions execute` would work on: approved, or left executing by a kill."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(sa.text(
                "SELECT count(*) FROM actions WHERE state IN ('approved', 'executing')")).scalar_one())
    finally:
        engine.dispose()


def counts_of(url: str) -> Counts:
    engine = sa.create_engine(url)
    try:
        return count_simulated(engine)
    finally:
        engine.dispose()


def kill_trial(command: str, backend: str, kills_per_trial: int, world: World, killer: Killer,
               directory: Path) -> Counts:
    """One database: `kills_per_trial` killed runs in a row (each a restart of the last), then a
    clean re-run, then the counts. `command` is `run` (auto execution in the cycle) or `execute`
    (the cycle proposes, a person approves everything, `actions execute` is killed)."""
    with fresh_database(backend, directory) as url:
        config_path = directory / f"config-{os.getpid()}-{killer.rng.randrange(10**9)}.yaml"
        config_path.write_text(yaml.safe_dump(agent_config(url, world, "auto" if command == "run" else "propose")))
        try:
            writes = killer.writes_hint or world.campaigns * world.ad_sets_per_campaign  # a low first guess
            if command == "execute":
                settle(agent_command("run", config_path))
                writes = approve_pending(url)
            argv = agent_command(command, config_path)
            kills = 0
            for n in range(kills_per_trial):
                # `actions execute` only works the queue: aim at the writes still to come
                hint = queued(url) if command == "execute" else (writes if n == 0 else max(1, writes // 3))
                kills += killer.run(argv, hint)
            settle(argv)
            counts = counts_of(url)
            if command == "run":
                killer.writes_hint = max(1, counts.writes)
        finally:
            config_path.unlink(missing_ok=True)
    counts.injections = kills
    return counts


def kill_points(total_kills: int, backends: list[str], commands: list[str], world: World, seed: int,
                kills_per_trial: int = 4) -> dict[tuple[str, str], Counts]:
    """SIGKILLs until `total_kills` have landed, spread over the backends and both commands."""
    rng = random.Random(seed)
    killer = Killer(rng)
    results: dict[tuple[str, str], Counts] = {}
    plan = [(f"kill: {command}", command, backend) for backend in backends for command in commands]
    per_cell = max(1, -(-total_kills // len(plan)))
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        for label, command, backend in plan:
            counts = results.setdefault((label, backend), Counts())
            attempts = 0
            while counts.injections < per_cell:
                attempts += 1
                if attempts > 4 * per_cell + 4:
                    raise HarnessError(f"{label} on {backend}: kills keep missing (every run finished first)")
                counts.add(kill_trial(command, backend, min(kills_per_trial, per_cell - counts.injections), world,
                                      killer, Path(tmp)))
            say_done(label, backend, counts)
    print(f"  kills landed: {', '.join(f'{k} {n}' for k, n in sorted(killer.landed.items()))}", flush=True)
    return results


def concurrent_pairs(pairs: int, backends: list[str], world: World) -> dict[tuple[str, str], Counts]:
    """`pairs` times per backend: two `run --once` at the same moment on one new database."""
    results: dict[tuple[str, str], Counts] = {}
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        for backend in backends:
            total = results.setdefault(("two processes: run", backend), Counts())
            for index in range(pairs):
                with fresh_database(backend, Path(tmp)) as url:
                    config_path = Path(tmp) / f"pair-{index}.yaml"
                    config_path.write_text(yaml.safe_dump(agent_config(url, world, "auto")))
                    _migrate(url)  # both start on a ready schema: the race is about the work, not DDL
                    racers = [start(agent_command("run", config_path)) for _ in range(2)]
                    for racer in racers:
                        code, output = finish(racer)
                        if code not in (0, 1):
                            raise HarnessError(f"racing run exited {code}: {output[-2000:]}")
                    counts = counts_of(url)
                counts.injections = 1
                total.add(counts)
            say_done("two processes: run", backend, total)
    return results


def _migrate(url: str) -> None:
    engine = store.make_engine(url)
    try:
        db.upgrade(engine)
    finally:
        engine.dispose()
