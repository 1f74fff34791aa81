"""What the benchmarks share: figures printed as ratios against a limit measured in the same run,
throw-away databases, and synthetic metric rows that cost next to nothing to make.

A benchmark never asserts a time: machines differ, so each figure is printed beside a bound
measured on the same machine in the same run (a raw-SQL upsert, the cost of reading the data, a
latency x requests / concurrency floor) and the ratio is what gets compared with the target.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/x.py` puts bench/ on the path, not the repository
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import Engine  # noqa: E402

from agent.storage import db, store  # noqa: E402
from connectors.records import Level, MetricRow  # noqa: E402
from tests.fakes.postgres import throwaway_schema  # noqa: E402

DEFAULT_PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BENCH_DAY = date(2026, 11, 23)


@dataclass
class Figure:
    """One measured figure and, where there is one, the limit it is compared with.

    `ratio` is `value / limit`; `target` says which way is good (`<=` or `>=`), so a miss is printed
    as a miss instead of being left for the reader to work out.
    """

    name: str
    value: float
    unit: str
    limit: float | None = None
    target: float | None = None
    better: str = "<="  # "<=": the ratio must stay at or below `target`; ">=": at or above
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.limit is None or self.limit == 0:
            return None
        return self.value / self.limit

    @property
    def verdict(self) -> str:
        ratio = self.ratio
        if ratio is None or self.target is None:
            return ""
        good = ratio <= self.target if self.better == "<=" else ratio >= self.target
        return "ok" if good else "MISS"


@dataclass
class Report:
    """The figures of one benchmark run, printed as a fixed-width table (and as Markdown rows)."""

    title: str
    figures: list[Figure] = field(default_factory=list)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        print(f"  {_row(figure)}", flush=True)
        return figure

    def print(self) -> None:
        print(f"\n== {self.title} ({machine()})")
        print(f"  {'figure':<52} {'value':>14} {'limit':>14} {'ratio':>7} {'target':>8}  verdict")
        for figure in self.figures:
            print(f"  {_row(figure)}")
        print(flush=True)


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return f"{text} {unit}".strip()


def _row(figure: Figure) -> str:
    target = f"{figure.better}{figure.target:g}" if figure.target is not None else ""
    ratio = f"{figure.ratio:.2f}" if figure.ratio is not None else "-"
    line = (f"{figure.name:<52} {_fmt(figure.value, figure.unit):>14} {_fmt(figure.limit, figure.unit):>14} "
            f"{ratio:>7} {target:>8}  {figure.verdict}")
    return f"{line}  {figure.note}".rstrip()


def machine() -> str:
    """Where the figures were measured: they mean nothing without it."""
    return f"{platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}"


@contextmanager
def timed() -> Iterator[Callable[[], float]]:
    """`with timed() as elapsed: ...; elapsed()` gives the seconds spent inside the block."""
    started = time.perf_counter()
    finished: list[float] = []
    try:
        yield lambda: (finished[0] if finished else time.perf_counter()) - started
    finally:
        finished.append(time.perf_counter())


def peak_rss_mb() -> float:
    """This process's peak resident set size in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- databases ---------------------------------------------------------------------------------


@contextmanager
def sqlite_database(directory: Path) -> Iterator[str]:
    """A URL to a new, empty SQLite file under `directory` (deleted with the directory)."""
    path = directory / f"bench-{uuid.uuid4().hex[:8]}.db"
    yield f"sqlite:///{path}"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def postgres_answers(url: str = DEFAULT_PG_URL) -> bool:
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


def postgres_schema(base_url: str = DEFAULT_PG_URL) -> AbstractContextManager[str]:
    """A URL whose search_path is a new schema, dropped afterwards whatever happened."""
    return throwaway_schema(base_url, prefix="bench")


def migrated_engine(url: str, *, pool_timeout: float = 30.0, pool_size: int = 5) -> Engine:
    """The agent's own engine (same pragmas as production) on a schema at the newest migration."""
    engine = store.make_engine(url, pool_timeout=pool_timeout, pool_size=pool_size)
    db.upgrade(engine)
    return engine


# -- synthetic data ----------------------------------------------------------------------------


def ad_set_ids(account_id: str, count: int) -> list[str]:
    return [f"{account_id}-s{index}" for index in range(count)]


def synthetic_metrics(account_id: str, entity_ids: list[str], days: int, *, end: date = BENCH_DAY,
                      seed: int = 0, platform: str = "meta", currency: str = "USD",
                      level: Level = "ad_set") -> Iterator[MetricRow]:
    """Daily rows of `level` for `days` days up to `end`, entity-major, made lazily.

    Cheap arithmetic instead of a simulator, so the cost of making the rows stays small beside the
    cost being measured; values vary with the seed (a re-pull with another seed restates them) and
    include losers, winners and zero-conversion days so every policy has something to chew on.
    """
    day_list = [end - timedelta(days=offset) for offset in range(days, 0, -1)]
    cents = Decimal("0.01")
    for index, entity_id in enumerate(entity_ids):
        base_spend = 40 + (index * 37) % 160
        roas_tenths = 3 + (index * 13) % 45  # ROAS 0.3 .. 4.7
        for offset, day in enumerate(day_list):
            wobble = (index * 7 + offset * 11 + seed * 5) % 21 - 10  # -10 .. 10 percent
            spend = base_spend * (100 + wobble)  # cents
            clicks = spend // 90 + 1
            conversions = (clicks * roas_tenths) // 400
            yield MetricRow(
                platform=platform, account_id=account_id, level=level, entity_id=entity_id, day=day,
                currency=currency, spend=Decimal(spend) * cents, impressions=clicks * 70, clicks=clicks,
                conversions=float(conversions), conversion_value=Decimal(spend * roas_tenths // 10) * cents,
                reach=None,
            )


def metric_tuple(row: MetricRow, pulled_at: Any, *, day_as_text: bool = False) -> tuple[Any, ...]:
    """A MetricRow as the database stores it (money as integer micros): what a raw bulk path binds.

    `day_as_text`: SQLite keeps dates as ISO text (as SQLAlchemy writes them), and the conflict key
    must compare equal to what the agent wrote, so raw SQLite binds the same text.
    """
    day: Any = row.day.isoformat() if day_as_text else row.day
    return (row.platform, row.account_id, row.entity_id, day, row.level, row.currency,
            int(row.spend * 1_000_000), row.impressions, row.clicks, row.conversions,
            int(row.conversion_value * 1_000_000), row.reach, pulled_at)


METRIC_COLUMNS = ("platform", "account_id", "entity_id", "day", "level", "currency", "spend", "impressions",
                  "clicks", "conversions", "conversion_value", "reach", "pulled_at")
METRIC_KEYS = ("platform", "account_id", "entity_id", "day")
