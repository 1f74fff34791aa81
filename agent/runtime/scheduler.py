"""APScheduler 3.11 with its job store in our database.

Jobs coalesce (a service that was down across several runs runs a missed job once, not N times),
run one instance at a time, and keep their next run time in the database across restarts: a job
whose schedule did not change is left as stored, so the missed run is still due when we return.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from agent.config import AgentConfig
from agent.runtime import jobs

JOB_TABLE = "apscheduler_jobs"


@dataclass(frozen=True)
class JobSpec:
    job_id: str
    func: Callable[..., Any]
    trigger: BaseTrigger
    misfire_grace_seconds: int


def job_specs(config: AgentConfig) -> list[JobSpec]:
    """The jobs this configuration asks for."""
    service = config.service
    grace = int(service.misfire_grace_minutes * 60)
    specs = [
        JobSpec("cycle", jobs.cycle_job, IntervalTrigger(seconds=service.cycle_interval_minutes * 60, timezone="UTC"),
                grace),
        JobSpec("expire_approvals", jobs.expiry_job,
                IntervalTrigger(seconds=service.expiry_sweep_minutes * 60, timezone="UTC"), grace),
    ]
    hour, minute = (int(part) for part in service.daily_dashboard_at.split(":"))
    for timezone in sorted({account.timezone for account in config.accounts}):  # each account's morning
        specs.append(JobSpec(f"daily_dashboard:{timezone}", jobs.dashboard_job,
                             CronTrigger(hour=hour, minute=minute, timezone=timezone), grace))
    weekday, at = service.weekly_pacing_report_at.split()
    hour, minute = (int(part) for part in at.split(":"))
    specs.append(JobSpec("weekly_pacing_report", jobs.pacing_job,
                         CronTrigger(day_of_week=weekday, hour=hour, minute=minute,
                                     timezone=config.accounts[0].timezone), grace))
    if config.approvals.email is not None:
        # a missed poll is simply the next poll: no grace beyond one interval
        specs.append(JobSpec("poll_approval_mail", jobs.mail_poll_job,
                             IntervalTrigger(seconds=service.mail_poll_seconds, timezone="UTC"),
                             max(1, int(service.mail_poll_seconds))))
    return specs


def build_scheduler(engine: Engine) -> BackgroundScheduler:
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)},
        executors={"default": ThreadPoolExecutor(max_workers=2)},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone="UTC",
    )


def _same_schedule(job: Any, spec: JobSpec) -> bool:
    return bool(str(job.trigger) == str(spec.trigger) and job.func is spec.func
                and job.misfire_grace_time == spec.misfire_grace_seconds)


def sync_jobs(scheduler: BackgroundScheduler, config: AgentConfig, config_path: Path) -> None:
    """Make the stored jobs match the config, keeping unchanged jobs (and their due runs) as stored."""
    wanted = {spec.job_id: spec for spec in job_specs(config)}
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            job.remove()
    for job_id, spec in wanted.items():
        existing = scheduler.get_job(job_id)
        if existing is not None and _same_schedule(existing, spec) and existing.args == (str(config_path),):
            continue
        scheduler.add_job(spec.func, spec.trigger, id=job_id, args=[str(config_path)], replace_existing=True,
                          misfire_grace_time=spec.misfire_grace_seconds, coalesce=True, max_instances=1,
                          next_run_time=_first_run(existing, spec))


def _first_run(existing: Any, spec: JobSpec) -> Any:
    """A new job's first run: the cycle runs right away on a fresh install; the others on schedule."""
    from datetime import UTC, datetime

    if existing is None and spec.job_id == "cycle":
        return datetime.now(UTC) + timedelta(seconds=1)
    return spec.trigger.get_next_fire_time(None, datetime.now(UTC))
