"""Ad schedules in the fake Google Ads API: `CampaignCriterionService` for `AD_SCHEDULE` criteria and the
AD_SCHEDULE rows of `FROM campaign_criterion` (filtered by the query's WHERE in tests/fakes/google_ads_server.py),
as the v26 reference describes
them (AdScheduleInfo: day, start hour 0..23, end hour 0..24, minutes; at most six a day,
CriterionError.AD_SCHEDULE_EXCEEDED_INTERVALS_PER_DAY_LIMIT beyond; a create needs every AdScheduleInfo
field; removal by `customers/{c}/campaignCriteria/{campaign_id}~{criterion_id}`).

The schedule itself lives in the simulator (`set_ad_schedule` on the campaign), so reads show what was
written. Operations of one request apply in order: each yields the campaign's whole schedule after it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from google.ads.googleads.v26.services.types import campaign_criterion_service

from connectors.records import Entity
from tests.fakes.platform_fixtures import IdMap

MUTATE_SERVICES: dict[str, tuple[str, Any, Any, Any]] = {
    "CampaignCriterionService": ("MutateCampaignCriteria", campaign_criterion_service.MutateCampaignCriteriaRequest,
                                 campaign_criterion_service.MutateCampaignCriteriaResponse,
                                 campaign_criterion_service.MutateCampaignCriterionResult),
}
DAYS = {"MONDAY": "mon", "TUESDAY": "tue", "WEDNESDAY": "wed", "THURSDAY": "thu", "FRIDAY": "fri",
        "SATURDAY": "sat", "SUNDAY": "sun"}
Block = dict[str, Any]


class ScheduleRefused(ValueError):
    def __init__(self, kind: str, value: str, message: str) -> None:
        super().__init__(message)
        self.kind, self.value = kind, value


def _key(campaign: str, block: Mapping[str, Any]) -> str:
    return f"schedule:{campaign}:{block['day']}:{block['start_hour']}:{block['end_hour']}"


class Schedules:
    def __init__(self, ids: IdMap) -> None:
        self.ids = ids
        self.working: dict[str, list[Block]] = {}  # campaign -> schedule, within one request

    def begin(self) -> None:
        self.working = {}

    def translate(self, operation: Any, customer: str, entities: Mapping[str, Entity],
                  sim_id: Callable[[str], str]) -> tuple[str, tuple[str, str, dict[str, Any]]]:
        if "remove" in operation:
            name = operation.remove
            campaign_part, criterion_part = name.rsplit("/", 1)[-1].split("~")
            campaign = sim_id(f"x/{campaign_part}")
            current = self._current(campaign, entities)
            found = self.ids.sim(criterion_part) or ""
            kept = [b for b in current if _key(campaign, b) != found]
            if len(kept) == len(current):
                raise ScheduleRefused("mutate_error", "RESOURCE_NOT_FOUND", f"resource {name} not found")
        else:
            create = operation.create
            campaign = sim_id(create.campaign)
            entity = entities.get(campaign)
            if entity is None or entity.level != "campaign":
                raise ScheduleRefused("mutate_error", "RESOURCE_NOT_FOUND", f"{create.campaign} not found")
            schedule = create.ad_schedule
            if schedule.day_of_week.name not in DAYS or "start_minute" not in schedule or "end_minute" not in schedule:
                raise ScheduleRefused("field_error", "REQUIRED", "AdScheduleInfo needs every field on create")
            if not 0 <= schedule.start_hour <= 23 or not 0 <= schedule.end_hour <= 24 \
                    or schedule.start_hour >= schedule.end_hour:
                raise ScheduleRefused("criterion_error", "AD_SCHEDULE_INVALID_TIME_INTERVAL", "bad ad schedule hours")
            if create.bid_modifier and not 0.1 <= create.bid_modifier <= 10:
                raise ScheduleRefused("range_error", "TOO_HIGH" if create.bid_modifier > 10 else "TOO_LOW",
                                      "bid modifier out of 0.1..10")
            block = {"day": DAYS[schedule.day_of_week.name], "start_hour": int(schedule.start_hour),
                     "end_hour": int(schedule.end_hour), "bid_modifier": round(float(create.bid_modifier or 1.0), 4)}
            current = self._current(campaign, entities)
            if any(b["day"] == block["day"] and b["start_hour"] < block["end_hour"] and block["start_hour"] < b["end_hour"]
                   for b in current):
                raise ScheduleRefused("criterion_error", "AD_SCHEDULE_TIME_INTERVALS_OVERLAP",
                                      "ad schedule intervals overlap")
            if sum(1 for b in current if b["day"] == block["day"]) >= 6:
                raise ScheduleRefused("criterion_error", "AD_SCHEDULE_EXCEEDED_INTERVALS_PER_DAY_LIMIT",
                                      "at most 6 ad schedules a day")
            kept = [*current, block]
            name = (f"customers/{customer}/campaignCriteria/{self.ids.numeric(campaign)}~"
                    f"{self.ids.numeric(_key(campaign, block))}")
        self.working[campaign] = kept
        return name, ("set_ad_schedule", campaign, {"ad_schedule": [dict(b) for b in kept]})

    def _current(self, campaign: str, entities: Mapping[str, Entity]) -> list[Block]:
        if campaign not in self.working:
            entity = entities.get(campaign)
            self.working[campaign] = [dict(b) for b in (entity.attributes.get("ad_schedule") or [])] if entity else []
        return self.working[campaign]

    def rows(self, entities: Mapping[str, Entity], customer: str, row_type: Any) -> list[Any]:
        rows = []
        reverse = {short: long for long, short in DAYS.items()}
        for entity in entities.values():
            if entity.level != "campaign":
                continue
            for block in entity.attributes.get("ad_schedule") or []:
                row = row_type()
                row.campaign.id = self.ids.numeric(entity.entity_id)
                criterion = row.campaign_criterion
                criterion.criterion_id = self.ids.numeric(_key(entity.entity_id, block))
                criterion.resource_name = f"customers/{customer}/campaignCriteria/{row.campaign.id}~{criterion.criterion_id}"
                criterion.type_ = "AD_SCHEDULE"
                criterion.status = "ENABLED"
                criterion.ad_schedule.day_of_week = reverse[block["day"]]
                criterion.ad_schedule.start_hour = block["start_hour"]
                criterion.ad_schedule.end_hour = block["end_hour"]
                criterion.ad_schedule.start_minute = "ZERO"
                criterion.ad_schedule.end_minute = "ZERO"
                criterion.bid_modifier = block["bid_modifier"]
                rows.append(row)
        return rows
