"""Attribution: each CRM record (all its stages) to the platform, account, campaign, ad set and click day
of its last paid touch.

Order: a click id first (gclid/gbraid/wbraid -> Google Ads, fbclid/_fbc -> Meta, li_fat_id -> LinkedIn),
then the UTM parameters matched against each account's configured template; otherwise the record is
unattributed, with the reason, and still counted. A real click id is opaque: it is found in the *click
map*, which is every click id seen on a record whose UTM parameters resolve through a template (the
landing page captured both). The simulator's click ids describe themselves. A touch counts when its
click day is at most `attribution_window_days` before the record's first stage, and not after it; of
several, the latest wins (last paid touch), click ids before UTM.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from agent.config import AccountConfig, AgentConfig
from agent.outcomes.records import CLICK_ID_FIELDS
from agent.outcomes.settings import PLACEHOLDER, UTM_FIELDS
from agent.storage.action_states import as_utc
from connectors.simulator.click_ids import decode_click_id

CLICK_PLATFORMS = {"gclid": "google_ads", "gbraid": "google_ads", "wbraid": "google_ads",
                   "fbclid": "meta", "fbc": "meta", "li_fat_id": "linkedin"}


def display_platform(account: AccountConfig) -> str:
    """The platform a person knows the account by (a simulated account: the platform it simulates)."""
    return account.simulate or account.platform


@dataclass(frozen=True)
class Touch:
    method: str  # click_id | utm
    platform: str
    account_id: str
    campaign_id: str | None
    ad_set_id: str | None
    click_day: date


def _fbclid_of_fbc(value: str) -> str:
    """`_fbc` is `fb.<subdomain index>.<creation ms>.<fbclid>`: the click id is its last part."""
    parts = value.split(".", 3)
    return parts[3] if len(parts) == 4 and parts[0] == "fb" else value


class Attributor:
    """The rules: the configured accounts and UTM templates, and the ad sets the agent has seen."""

    def __init__(self, config: AgentConfig, parents: Mapping[tuple[str, str], str | None],
                 campaigns: set[tuple[str, str]]) -> None:
        self.accounts = {account.id: account for account in config.accounts}
        self.window = timedelta(days=config.outcomes.attribution_window_days)
        self.parents, self.campaigns = parents, campaigns
        self.templates = [(account_id, _compile(template))
                          for account_id, template in config.outcomes.utm_templates.items()
                          if account_id in self.accounts]

    def utm_touch(self, record: Mapping[str, Any], day: date) -> Touch | None:
        utm = {name: (record.get(name) or "").strip() for name in UTM_FIELDS}
        if not any(utm.values()):
            return None
        for account_id, patterns in self.templates:
            ids: dict[str, str] = {}
            if all(_match(pattern, utm[name], ids) for name, pattern in patterns.items()):
                touch = self._touch("utm", account_id, ids.get("campaign_id"), ids.get("ad_set_id"), day)
                if touch is not None:
                    return touch
        return None

    def _touch(self, method: str, account_id: str, campaign_id: str | None, ad_set_id: str | None,
               day: date) -> Touch | None:
        account = self.accounts.get(account_id)
        if account is None:
            return None
        if ad_set_id is not None:
            if (account_id, ad_set_id) not in self.parents:
                return None
            campaign_id = self.parents[(account_id, ad_set_id)] or campaign_id
        elif campaign_id is not None and (account_id, campaign_id) not in self.campaigns:
            return None
        return Touch(method, display_platform(account), account_id, campaign_id, ad_set_id, day)

    def click_touch(self, field: str, value: str, click_map: Mapping[str, Touch]) -> tuple[Touch | None, str]:
        """The touch a click id stands for, or None and why not."""
        click_id = _fbclid_of_fbc(value) if field == "fbc" else value
        simulated = decode_click_id(click_id)
        if simulated is not None:
            account = self.accounts.get(simulated.account_id)
            if account is None:
                return None, "click id names an account that is not configured"
            if display_platform(account) != CLICK_PLATFORMS[field]:
                return None, f"{field} names a {display_platform(account)} account"
            return Touch("click_id", display_platform(account), account.id, simulated.campaign_id,
                         simulated.ad_set_id, simulated.day), ""
        known = click_map.get(click_id)
        if known is None:
            return None, "click id not in the click map"
        return Touch("click_id", known.platform, known.account_id, known.campaign_id, known.ad_set_id,
                     known.click_day), ""


def _compile(template: Mapping[str, str]) -> dict[str, re.Pattern[str]]:
    patterns = {}
    for name, text in template.items():
        pieces, last = [], 0
        for match in PLACEHOLDER.finditer(text):
            pieces.append(re.escape(text[last:match.start()]))
            pieces.append(f"(?P<{match.group(1)}>.+)")
            last = match.end()
        pieces.append(re.escape(text[last:]))
        patterns[name] = re.compile("".join(pieces), re.IGNORECASE)
    return patterns


def _match(pattern: re.Pattern[str], value: str, ids: dict[str, str]) -> bool:
    found = pattern.fullmatch(value)
    if found is None:
        return False
    ids.update(found.groupdict())
    return True


def _by_crm(outcomes: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    by_crm: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for outcome in outcomes:
        by_crm[outcome["crm_id"]].append(outcome)
    return by_crm


def attribute(outcomes: Sequence[Mapping[str, Any]], attributor: Attributor, now: datetime,
              click_map_records: Sequence[Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One attribution row per outcome; every stage of a CRM record shares its record's touch. The click
    map is built from `click_map_records` (every stage of each CRM record that carries both a click id
    and UTM parameters), or from `outcomes` when they are all there are."""
    by_crm = _by_crm(outcomes)
    click_map = _click_map(_by_crm(click_map_records) if click_map_records is not None else by_crm, attributor)
    rows: list[dict[str, Any]] = []
    for records in by_crm.values():
        touch, reason = _last_paid_touch(records, attributor, click_map)
        for record in records:
            rows.append({
                "outcome_id": record["id"], "method": touch.method if touch else "unattributed",
                "platform": touch.platform if touch else None, "account_id": touch.account_id if touch else None,
                "campaign_id": touch.campaign_id if touch else None, "ad_set_id": touch.ad_set_id if touch else None,
                "click_day": touch.click_day if touch else None, "reason": None if touch else reason,
                "computed_at": now,
            })
    return rows


def _first_day(records: Sequence[Mapping[str, Any]]) -> date:
    return min(as_utc(record["stage_at"]) for record in records).date()


def _click_map(by_crm: Mapping[str, Sequence[Mapping[str, Any]]], attributor: Attributor) -> dict[str, Touch]:
    click_map: dict[str, Touch] = {}
    for records in by_crm.values():
        day = _first_day(records)
        for record in records:
            touch = attributor.utm_touch(record, day)
            if touch is None:
                continue
            for field in CLICK_ID_FIELDS:
                if record.get(field):
                    value = _fbclid_of_fbc(record[field]) if field == "fbc" else record[field]
                    click_map[value] = touch
    return click_map


def _last_paid_touch(records: Sequence[Mapping[str, Any]], attributor: Attributor,
                     click_map: Mapping[str, Touch]) -> tuple[Touch | None, str]:
    first = _first_day(records)
    clicks: list[Touch] = []
    utms: list[Touch] = []
    reasons: list[str] = []
    for record in records:
        for field in CLICK_ID_FIELDS:
            if record.get(field):
                touch, reason = attributor.click_touch(field, record[field], click_map)
                clicks += [touch] if touch else []
                reasons += [reason] if reason else []
        utm = attributor.utm_touch(record, first)
        if utm is not None:
            utms.append(utm)
        elif any(record.get(name) for name in UTM_FIELDS):
            reasons.append("UTM parameters match no account's template")
    for touches in (clicks, utms):
        inside = [t for t in touches if first - attributor.window <= t.click_day <= first]
        if inside:
            return max(inside, key=lambda t: t.click_day), ""
        if touches:
            reasons.insert(0, "click outside the attribution window")
    return None, reasons[0] if reasons else "no click id or UTM parameters"
