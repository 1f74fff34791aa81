"""What `config check` says about the accounts' audiences before anything is sent."""

from __future__ import annotations

from collections.abc import Iterable

from agent.audiences.proposals import platform_of
from agent.config import AccountConfig
from policies.prospecting_exclusions import EXCLUSION_LEVEL

LINKEDIN_PERMISSION = ("account {account}: LinkedIn audience sync writes DMP segment users, which needs LinkedIn's "
                       "partner permission rw_dmp_segments (not part of the Marketing API program); an app "
                       "without it is refused (HTTP 403) and LinkedIn sync is skipped without failing anything "
                       "(`paid-media-agent audiences status` shows it)")


def audience_warnings(accounts: Iterable[AccountConfig]) -> list[str]:
    """One line per account whose audiences need something the config cannot prove."""
    warnings = []
    for account in accounts:
        platform = platform_of(account)
        if account.prospecting is not None and platform not in EXCLUSION_LEVEL:
            warnings.append(f"account {account.id}: prospecting exclusions of a synced audience are proposed on "
                            f"Meta, LinkedIn and Google Ads only; on {platform} nothing is proposed")
        elif account.prospecting is not None and platform == "google_ads":
            warnings.append(f"account {account.id}: prospecting exclusions are set on Search and Display campaigns; "
                            "Performance Max campaigns take no user-list exclusion, and get no proposal")
        elif account.prospecting is not None and platform == "linkedin":
            warnings.append(f"account {account.id}: a LinkedIn prospecting exclusion uses the ad segment the audience "
                            "sync reads from the DMP segment; without LinkedIn's partner permission rw_dmp_segments "
                            "nothing is synced, and nothing is proposed")
        if not account.audiences:
            continue
        if platform_of(account) == "linkedin":
            warnings.append(LINKEDIN_PERMISSION.format(account=account.id))
    return warnings
