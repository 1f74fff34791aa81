"""Prometheus metrics of the service (`/metrics`). One registry per process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from connectors import retry

REGISTRY = CollectorRegistry()

CYCLE_SECONDS = Histogram("pma_cycle_duration_seconds", "Duration of a full cycle", registry=REGISTRY,
                          buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600))
CYCLES = Counter("pma_cycles_total", "Cycles run, by outcome", ["status"], registry=REGISTRY)
ROWS_PULLED = Counter("pma_metric_rows_pulled_total", "Daily metric rows upserted", registry=REGISTRY)
PROPOSALS = Counter("pma_proposals_total", "Proposals by action kind", ["kind"], registry=REGISTRY)
ACTIONS = Counter("pma_actions_total", "Gate decisions and execution outcomes by state", ["state"],
                  registry=REGISTRY)
API_ERRORS = Counter("pma_platform_api_errors_total", "Failed platform calls, by platform", ["platform"],
                     registry=REGISTRY)
API_RETRIES = Counter("pma_platform_api_retries_total", "Retried platform calls, by platform", ["platform"],
                      registry=REGISTRY)
RATE_LIMIT_WAIT = Counter("pma_rate_limit_wait_seconds_total", "Time spent waiting on rate limits",
                          ["platform"], registry=REGISTRY)
LAST_SUCCESS = Gauge("pma_last_successful_cycle_timestamp_seconds", "Unix time of the last successful cycle",
                     registry=REGISTRY)
OPTIONAL_READ_FAILURES = Counter("pma_optional_read_failures_total",
                                 "Failed enrichment reads (reach estimates, audiences, search terms) that did not "
                                 "fail the pull, by platform and read", ["platform", "read"], registry=REGISTRY)
STUCK_ACTIONS = Gauge("pma_actions_stuck_executing", "Actions in executing whose claimant is dead or past its "
                      "lease, not yet settled by reconciliation", registry=REGISTRY)
STUCK_SETTLED = Counter("pma_stuck_actions_settled_total", "Actions reconciliation settled after their claimant "
                        "died or its lease ran out, by outcome", ["outcome"], registry=REGISTRY)
IS_LEADER = Gauge("pma_scheduler_leader", "1 if this process runs the scheduled jobs", registry=REGISTRY)


def _count_platform_calls(event: retry.RetryEvent) -> None:
    if event.kind == "retry":
        API_RETRIES.labels(platform=event.platform).inc()
        if event.rate_limited:
            RATE_LIMIT_WAIT.labels(platform=event.platform).inc(event.wait_seconds)
    else:
        API_ERRORS.labels(platform=event.platform).inc()


retry.OBSERVERS.append(_count_platform_calls)
