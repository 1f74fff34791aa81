"""Checks of the accounts' objectives (`objective:` per account or in `defaults`).

A platform that reports no conversion value (lead forms: LinkedIn lead gen, Meta lead ads) cannot be
judged on ROAS: an explicit `platform_roas` objective there is an error, and an account with no
objective at all gets a warning, because without one it is judged on nothing but is never paused for
ROAS (docs/policies.md, "Optimizing on outcomes").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from policies.settings import ObjectiveSettings

LEAD_GEN_PLATFORMS = ("linkedin",)  # judged on lead-gen form leads unless `conversion_event: website`


class _Account(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def platform(self) -> str: ...
    @property
    def simulate(self) -> str | None: ...
    @property
    def objective(self) -> ObjectiveSettings | None: ...
    @property
    def conversion_event(self) -> str | None: ...


def reports_no_value(account: _Account) -> bool:
    """Lead-form leads carry no value: LinkedIn lead gen (unless counting website conversions), and a
    Meta account counting lead-ad leads (`conversion_event: lead`)."""
    platform = account.simulate or account.platform
    if platform in LEAD_GEN_PLATFORMS:
        return account.conversion_event != "website"
    return platform == "meta" and account.conversion_event == "lead"


def objective_problems(accounts: Sequence[_Account], default: ObjectiveSettings | None) -> list[str]:
    """One line per account whose effective objective cannot work on its platform."""
    problems = []
    for index, account in enumerate(accounts):
        objective = account.objective or default
        if objective is not None and objective.kind == "platform_roas" and reports_no_value(account):
            where = "objective" if account.objective is not None else "defaults.objective (inherited)"
            problems.append(
                f"accounts[{index}] {account.id!r}: {where} is platform_roas, but "
                f"{account.simulate or account.platform} lead gen reports no conversion value: set this account's "
                "objective to platform_cpa (cost per lead), or with CRM outcomes imported to pipeline_roas or cpql")
    return problems


def objective_warnings(accounts: Sequence[_Account], default: ObjectiveSettings | None) -> list[str]:
    """Accounts with no conversion value and no objective: never judged on value until one is set."""
    return [f"account {account.id!r}: {account.simulate or account.platform} reports no conversion value and no "
            "objective is set, so its ad sets are never paused or budgeted on ROAS; set objective platform_cpa "
            "(cost per lead) or, with CRM outcomes, pipeline_roas or cpql"
            for account in accounts if reports_no_value(account) and (account.objective or default) is None]
