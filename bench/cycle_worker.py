"""The Celery worker of `bench/cycle_workers.py`: the agent's own worker task
(agent/runtime/celery_app.py: config once per worker, shared Redis request limits, an account's
reads in parallel, pull -> evaluate -> gate -> execute per task), with the platform connectors it
builds pointed at the bench's fake platforms instead of the real endpoints.

    PMA_BENCH_FAKES='{"google_ads": "127.0.0.1:PORT", "meta": URL, "linkedin": URL}' \
        celery -A bench.cycle_worker worker --pool=solo
"""

from __future__ import annotations

import json
import os
import random
from typing import Any

import grpc
from sqlalchemy import Engine

from agent.clock import Clock
from agent.config import AgentConfig
from agent.runtime import celery_app
from agent.runtime.celery_app import app
from bench.cycle_world import connectors_for
from connectors.base import Connector
from connectors.connector_options import ConnectorOptions
from connectors.google_ads.connector import GoogleAdsOptions
from connectors.linkedin.connector import LinkedInOptions
from connectors.meta.connector import MetaOptions
from connectors.retry import RetryPolicy

FAKES_ENV = "PMA_BENCH_FAKES"
__all__ = ["FAKES_ENV", "app"]


def bench_connectors(config: AgentConfig, clock: Clock, engine: Engine | None = None) -> dict[str, Connector]:
    """The connectors a task builds, aimed at the fakes (as bench/cycle_world.py's harness does)."""
    addresses: dict[str, Any] = json.loads(os.environ[FAKES_ENV])
    google = str(addresses["google_ads"])
    options = ConnectorOptions(engine=engine, retry_policy=RetryPolicy(sleep=lambda _s: None, rng=random.Random(0)),
                               tuning=(GoogleAdsOptions(channel_factory=lambda: grpc.insecure_channel(google)),
                                       MetaOptions(graph_url=addresses["meta"]),
                                       LinkedInOptions(base_url=addresses["linkedin"])))
    return connectors_for(config, clock.now, options)


celery_app.build_connectors = bench_connectors  # the task looks it up in its module when it runs
