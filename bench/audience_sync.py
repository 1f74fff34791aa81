"""Audience sync at size: a first sync of a large CRM segment to a Customer Match list, then a sync
after 2% of the segment changed, then one with nothing to change, through the real Data Manager API
client against the wire-level fake (tests/fakes/google_audiences_server.py).

    python bench/audience_sync.py [--members 50000] [--churn 0.02] [--backends sqlite postgresql]

Requests are compared with the fewest the platform's limit allows (10,000 members per request):
sync by difference sends only what changed. Times are printed with no limit: they depend on the
machine and the database; the ledger writes are the cost the exactly-once guarantee adds.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/<name>.py`: import from the repository, and keep
    import sys  # bench/ itself off the path (bench/requests.py would shadow the `requests` library)

    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine

from agent.audiences.proposals import audience_proposals
from agent.audiences.sync import sync_audience
from agent.config import AgentConfig, parse_config
from bench.common import (
    Figure,
    Report,
    migrated_engine,
    postgres_answers,
    postgres_schema,
    sqlite_database,
    timed,
)
from connectors.audience_members import MemberKey
from connectors.google_ads.audience_members import MAX_MEMBERS_PER_REQUEST, GoogleAudienceSyncer
from tests.fakes.google_audiences_server import FakeGoogleAudiences

NOW = datetime(2026, 12, 5, 2, tzinfo=UTC)
CUSTOMER, USER_LIST = "1234567890", "555"


def members(start: int, count: int) -> frozenset[MemberKey]:
    return frozenset(("email", hashlib.sha256(f"person{i}@example.com".encode()).hexdigest())
                     for i in range(start, start + count))


def config_for(url: str) -> AgentConfig:
    return parse_config({"database_url": url, "accounts": [{
        "id": "shop", "platform": "simulator", "simulate": "google_ads", "platform_account_id": CUSTOMER,
        "audiences": {"customers": USER_LIST}}]}, environ={})


@contextmanager
def database(backend: str) -> Iterator[str]:
    if backend == "postgresql":
        with postgres_schema() as url:
            yield url
        return
    with tempfile.TemporaryDirectory() as directory, sqlite_database(Path(directory)) as url:
        yield url


def one_sync(report: Report, label: str, engine: Engine, desired: frozenset[MemberKey],
             google: FakeGoogleAudiences, expected_requests: int) -> None:
    account = config_for(engine.url.render_as_string(hide_password=False)).account("shop")
    source = lambda _connection, _segment: desired  # noqa: E731
    before = len(google.requests)
    with timed() as elapsed:
        for proposal in audience_proposals(engine, account, source):
            sync_audience(engine, {"id": None, "change": dict(proposal.change)}, account,
                          GoogleAudienceSyncer(google.channel_factory()), source, NOW)
    sent = len(google.requests) - before
    report.add(Figure(f"{label}: requests", sent, "req", limit=expected_requests or None,
                      target=1.0 if expected_requests else None, note=f"fewest possible: {expected_requests}"))
    report.add(Figure(f"{label}: seconds (plan, ledger, requests)", elapsed(), "s"))


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--churn", type=float, default=0.02)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args(argv)
    report = Report(f"audience sync: {args.members:,} members, then {args.churn:.0%} churn")
    changed = int(args.members * args.churn)
    for backend in args.backends:
        if backend == "postgresql" and not postgres_answers():
            print("    postgresql: not reachable, skipped", flush=True)
            continue
        with database(backend) as url, FakeGoogleAudiences({CUSTOMER: {USER_LIST}}) as google:
            engine = migrated_engine(url)
            try:
                one_sync(report, f"{backend} first sync", engine, members(0, args.members), google,
                         math.ceil(args.members / MAX_MEMBERS_PER_REQUEST))
                churned = members(changed, args.members)  # `changed` leave, `changed` join
                expected = 2 * math.ceil(changed / MAX_MEMBERS_PER_REQUEST)
                one_sync(report, f"{backend} {args.churn:.0%} churn", engine, churned, google, expected)
                one_sync(report, f"{backend} nothing changed", engine, churned, google, 0)
                if google.members[(CUSTOMER, USER_LIST)] != churned:
                    raise SystemExit("the audience does not equal the segment")
            finally:
                engine.dispose()
    report.print()
    return report


if __name__ == "__main__":
    main()
