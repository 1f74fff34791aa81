"""User-list campaign criteria in the fake Google Ads API: CampaignCriterionService operations carrying a
`user_list` (negative ones) and the USER_LIST rows of `FROM campaign_criterion` (filtered by the query's
WHERE in tests/fakes/google_ads_server.py): the exclusions, and the lists a test says a campaign targets
(`targeted`, positive criteria, which reads of exclusions must leave out).

As the v26 protos and reference describe them: `CampaignCriterion.user_list.user_list` is the resource
name `customers/{c}/userLists/{id}`, `negative` is immutable (an exclusion is created or removed, never
updated), removal is by `customers/{c}/campaignCriteria/{campaign_id}~{criterion_id}`. A list the
customer does not hold is refused (RESOURCE_NOT_FOUND), and so is a second criterion for the same
list on the same campaign (MutateError.RESOURCE_ALREADY_EXISTS). Performance Max campaigns take no
user-list criterion (CampaignCriterionError.CANNOT_EXCLUDE_CRITERIA_TYPE).

The exclusions live here, not in the simulator: they change what the API shows, not delivery.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.fakes.google_schedules import ScheduleRefused
from tests.fakes.platform_fixtures import IdMap


class UserListExclusions:
    def __init__(self, ids: IdMap, is_pmax: Callable[[str], bool]) -> None:
        self.ids = ids
        self.is_pmax = is_pmax  # whether a campaign resource name is a Performance Max campaign
        self.user_lists: dict[str, set[str]] = {}  # customer id -> the user list ids it holds
        self.excluded: dict[tuple[str, str], set[str]] = {}  # (customer, sim campaign id) -> user list ids
        self.targeted: dict[tuple[str, str], set[str]] = {}  # (customer, sim campaign id) -> targeted list ids

    def handles(self, operation: Any) -> bool:
        """Whether a CampaignCriterionOperation is about a user list (else: an ad schedule)."""
        if "create" in operation:
            return "user_list" in operation.create
        criterion = operation.remove.rsplit("~", 1)[-1] if "remove" in operation else ""
        return (self.ids.sim(criterion) or "").startswith("ul:")

    def criterion_id(self, campaign: str, list_id: str) -> int:
        return self.ids.numeric(f"ul:{campaign}:{list_id}")

    def translate(self, operation: Any, customer: str, sim_id: Callable[[str], str], validate_only: bool
                  ) -> tuple[str, None]:
        if "remove" in operation:
            name = operation.remove
            campaign_part, criterion_part = name.rsplit("/", 1)[-1].split("~")
            campaign = sim_id(f"x/{campaign_part}")
            found = self.ids.sim(criterion_part) or ""
            current = self.excluded.get((customer, campaign), set())
            list_id = found.rsplit(":", 1)[-1]
            if not found.startswith(f"ul:{campaign}:") or list_id not in current:
                raise ScheduleRefused("mutate_error", "RESOURCE_NOT_FOUND", f"resource {name} not found")
            if not validate_only:
                current.discard(list_id)
            return name, None
        create = operation.create
        if self.is_pmax(create.campaign):
            raise ScheduleRefused("campaign_criterion_error", "CANNOT_EXCLUDE_CRITERIA_TYPE",
                                  "Performance Max campaigns take no user list criteria")
        campaign = sim_id(create.campaign)
        if not create.negative:
            raise ScheduleRefused("campaign_criterion_error", "CANNOT_EXCLUDE_CRITERIA_TYPE",
                                  "only negative user list criteria are served by this fake")
        resource = create.user_list.user_list
        owner, list_id = resource.split("/")[1], resource.rsplit("/", 1)[-1]
        if owner != customer or list_id not in self.user_lists.get(customer, set()):
            raise ScheduleRefused("mutate_error", "RESOURCE_NOT_FOUND", f"user list {resource} not found")
        current = self.excluded.setdefault((customer, campaign), set())
        if list_id in current:
            raise ScheduleRefused("mutate_error", "RESOURCE_ALREADY_EXISTS",
                                  f"the campaign already has a criterion for {resource}")
        if not validate_only:
            current.add(list_id)
        name = (f"customers/{customer}/campaignCriteria/{create.campaign.rsplit('/', 1)[-1]}~"
                f"{self.criterion_id(campaign, list_id)}")
        return name, None

    def rows(self, customer: str, row_type: Any) -> list[Any]:
        rows = []
        for negative, held in ((True, self.excluded), (False, self.targeted)):
            for (owner, campaign), lists in sorted(held.items()):
                if owner != customer:
                    continue
                for list_id in sorted(lists):
                    row = row_type()
                    row.campaign.id = self.ids.numeric(campaign)
                    criterion = row.campaign_criterion
                    criterion.criterion_id = self.criterion_id(campaign, list_id)
                    criterion.resource_name = (f"customers/{customer}/campaignCriteria/{row.campaign.id}~"
                                               f"{criterion.criterion_id}")
                    criterion.type_ = "USER_LIST"
                    criterion.status = "ENABLED"
                    criterion.negative = negative
                    criterion.user_list.user_list = f"customers/{customer}/userLists/{list_id}"
                    rows.append(row)
        return rows
