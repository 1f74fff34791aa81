"""Which LinkedIn conversions an account counts: website conversions, or lead gen form leads.

LinkedIn reports lead gen form submissions as `oneClickLeads` in `adAnalytics`, beside
`externalWebsiteConversions` (Insight Tag / Conversions API), per pivot value and day
(https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads-reporting/ads-reporting-schema).
Reading it with the analytics the connector already asks for costs no request of its own; the
Lead Sync finder (`leadFormResponses?q=owner`) would return each lead with the member's answers
(personal data we must not hold), a page at a time, and still need a per-day count by campaign.

An account's `conversion_event` says which is its conversion: `website` (externalWebsiteConversions),
`lead` (oneClickLeads), or, unset, by each campaign's `objectiveType`: a LEAD_GENERATION campaign
(our ad set) and its creatives count leads, every other campaign website conversions. One of the
two is read, never their sum: the account's conversion rules may count other events about the same
people (a later CRM stage sent through the Conversions API, say), and adding them to the form
submissions would mix events. Lead forms report no value: such rows carry conversion value 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

CONVERSION_EVENTS: tuple[str, ...] = ("website", "lead")
LEAD_OBJECTIVES = frozenset({"LEAD_GENERATION"})
WEBSITE_FIELD = "externalWebsiteConversions"
LEADS_FIELD = "oneClickLeads"


def check_event(event: str) -> str:
    """`website` or `lead`; ValueError naming the choices otherwise."""
    if event not in CONVERSION_EVENTS:
        raise ValueError(f"{event!r} is neither website (externalWebsiteConversions) nor lead (oneClickLeads, "
                         "lead gen form submissions)")
    return event


def last_id(urn: Any) -> str:
    return str(urn).rsplit(":", 1)[-1]


@dataclass(frozen=True)
class LeadCampaigns:
    """The account's campaigns (our ad sets) by objective, and each creative's campaign."""

    campaigns: frozenset[str] = frozenset()  # every campaign id read
    lead_campaigns: frozenset[str] = frozenset()  # those with a lead gen objective
    creative_campaigns: Mapping[str, str] = field(default_factory=dict)  # creative id -> campaign id

    @classmethod
    def of(cls, campaigns: Iterable[Mapping[str, Any]], creatives: Iterable[Mapping[str, Any]]) -> LeadCampaigns:
        """From the raw `adCampaigns` and `creatives` elements (their `objectiveType` and `campaign`)."""
        campaigns = list(campaigns)
        return cls(frozenset(last_id(c.get("id")) for c in campaigns),
                   frozenset(last_id(c.get("id")) for c in campaigns if c.get("objectiveType") in LEAD_OBJECTIVES),
                   {last_id(c.get("id")): last_id(c.get("campaign")) for c in creatives if c.get("campaign")})

    def covers(self, campaign_ids: Iterable[str], creative_ids: Iterable[str]) -> bool:
        """Whether every campaign and creative of a report is known (else the structure is read again)."""
        return set(campaign_ids) <= self.campaigns and set(creative_ids) <= self.creative_campaigns.keys()

    def settled(self, campaign_ids: Iterable[str], creative_ids: Iterable[str]) -> LeadCampaigns:
        """The same, with reported ids the finders did not return (e.g. archived since) known as not
        lead gen, so they are not read for again on every pull."""
        return LeadCampaigns(self.campaigns | set(campaign_ids), self.lead_campaigns,
                             {**{c: "" for c in creative_ids}, **self.creative_campaigns})

    def counts_leads(self, configured: str | None, level: str, entity_id: str) -> bool:
        """Whether the row of this campaign (`ad_set`) or creative (`ad`) counts lead form leads."""
        if configured is not None:
            return configured == "lead"
        campaign = entity_id if level == "ad_set" else self.creative_campaigns.get(entity_id, "")
        return campaign in self.lead_campaigns


def conversions_of(raw: Mapping[str, Any], counts_leads: bool) -> float:
    """The row's conversions: its `oneClickLeads` or its `externalWebsiteConversions`."""
    return float(raw.get(LEADS_FIELD if counts_leads else WEBSITE_FIELD) or 0)
