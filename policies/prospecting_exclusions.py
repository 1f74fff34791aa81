"""Prospecting exclusions: campaigns that exist to find new customers should not pay for people who
already buy. An account names its prospecting campaigns (or ad sets) and a synced CRM segment
(`prospecting: {campaigns: [...], exclude_segment: existing-customers}`, docs/segments.md); every
active prospecting ad set (Meta, LinkedIn) or campaign (Google Ads) that does not exclude that
segment's platform audience gets an `exclude_audience` proposal.

Nothing is proposed while the platform does not hold the audience yet: the caller passes the
members our sync has seen the platform accept (`held_members`), and with none of them the audience
is not excluded (an empty or unknown audience would exclude nobody, or fail). Nor when the
platform's audience list is known and does not show the audience. An entity that already excludes
it is never proposed again.

Where each platform takes the exclusion:
- Meta: on the ad set (`excluded_custom_audiences`).
- Google Ads: on the campaign, a negative user-list criterion that covers every ad group, so one
  proposal per campaign, never per ad group. Only campaigns whose connector lists their audience
  exclusions (`excluded_audience_ids`: Search and Display) get one; Performance Max takes no
  user-list criterion and gets none.
- LinkedIn: on the campaign (our ad set), through the DMP segment's own ad segment
  (`urn:li:adSegment:N`), which the sync records (`exclusion_id`); until it has, nothing is proposed.

Evidence: the audience's size (members held, and the platform's estimate where it gives one) and,
where imported outcomes allow, the share of the campaign's CRM conversions that came from people
who were already customers, with its interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from connectors.records import Entity
from policies.base import Proposal, Snapshot
from policies.protection import is_protected

POLICY_NAME = "prospecting_exclusions"
# where each platform's connector executes exclude_audience (connectors/*/writes.py)
EXCLUSION_LEVEL: Mapping[str, str] = {"meta": "ad_set", "google_ads": "campaign", "linkedin": "ad_set"}


@dataclass(frozen=True)
class CustomerShare:
    """Conversions of one campaign from CRM records, and how many came from existing customers."""

    conversions: int
    existing: int
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class ProspectingTarget:
    """What the account configured, and what the sync knows of the audience."""

    patterns: tuple[str, ...]  # campaign or ad set ids, or name patterns (* and ?, case-insensitive)
    segment: str
    audience_id: str
    held_members: int  # members the platform surely holds, by our sync's ledger
    # the id the platform excludes, where it is not the synced audience's own (LinkedIn: the DMP
    # segment's ad segment); None there means the sync has not seen it yet
    exclusion_id: str | None = None
    shares: Mapping[str, CustomerShare] = field(default_factory=dict)  # campaign id -> share
    window: tuple[str, str] | None = None  # the shares' period (ISO days)


def matches(entity: Entity, patterns: Sequence[str]) -> bool:
    """An entity is named by an exact id, or by a name pattern (case-insensitive, * and ?)."""
    name = entity.name.casefold()
    return any(entity.entity_id == pattern or fnmatchcase(name, pattern.casefold()) for pattern in patterns)


def prospecting_ad_sets(snapshot: Snapshot, patterns: Sequence[str]) -> list[Entity]:
    """Active ad sets in active campaigns that are prospecting: the ad set or its campaign matches."""
    found = []
    for entity in sorted(snapshot.entities.values(), key=lambda e: e.entity_id):
        if entity.level != "ad_set" or entity.status != "ACTIVE":
            continue
        campaign = snapshot.entities.get(entity.parent_id or "")
        if campaign is not None and campaign.status != "ACTIVE":
            continue
        if matches(entity, patterns) or (campaign is not None and matches(campaign, patterns)):
            found.append(entity)
    return found


def prospecting_campaigns(snapshot: Snapshot, patterns: Sequence[str]) -> list[Entity]:
    """Active campaigns that are prospecting (the campaign, or one of its active ad sets, matches) and
    whose connector lists their audience exclusions (a campaign type that takes one)."""
    found = []
    for campaign in sorted(snapshot.entities.values(), key=lambda e: e.entity_id):
        if campaign.level != "campaign" or campaign.status != "ACTIVE" \
                or campaign.attributes.get("excluded_audience_ids") is None:
            continue
        ad_sets = [e for e in snapshot.entities.values() if e.level == "ad_set" and e.parent_id == campaign.entity_id
                   and e.status == "ACTIVE"]
        if matches(campaign, patterns) or any(matches(a, patterns) for a in ad_sets):
            found.append(campaign)
    return found


def exclusion_id(snapshot: Snapshot, target: ProspectingTarget) -> str | None:
    """The id the platform excludes: the audience's own, or (LinkedIn) the ad segment the sync recorded."""
    if snapshot.platform == "linkedin":
        return target.exclusion_id
    return target.exclusion_id or target.audience_id


def platform_size(snapshot: Snapshot, audience_id: str) -> int | None:
    return next((a.estimated_size for a in snapshot.audiences if a.audience_id == audience_id), None)


def audience_ready(snapshot: Snapshot, target: ProspectingTarget, excluded_id: str) -> bool:
    """Whether the platform holds the audience: our sync saw members accepted, and the platform's
    audience list (when the snapshot has one) shows it."""
    if target.held_members <= 0:
        return False
    return not snapshot.audiences or platform_size(snapshot, excluded_id) is not None


def propose_prospecting_exclusions(snapshot: Snapshot, target: ProspectingTarget) -> list[Proposal]:
    """exclude_audience of the segment's audience on each prospecting ad set (or campaign) that lacks it."""
    level = EXCLUSION_LEVEL.get(snapshot.platform)
    excluded_id = exclusion_id(snapshot, target)
    if level is None or excluded_id is None or not target.patterns \
            or not audience_ready(snapshot, target, excluded_id):
        return []
    size = platform_size(snapshot, excluded_id)
    proposals = []
    entities = (prospecting_ad_sets(snapshot, target.patterns) if level == "ad_set"
                else prospecting_campaigns(snapshot, target.patterns))
    for entity in entities:
        excluded = sorted(str(a) for a in entity.attributes.get("excluded_audience_ids", ()))
        if excluded_id in excluded or excluded_id in {str(a) for a in entity.attributes.get("audience_ids", ())}:
            continue  # already kept apart; or it targets that audience on purpose
        if is_protected(snapshot, entity.entity_id):
            continue
        campaign = entity if level == "campaign" else snapshot.entities.get(entity.parent_id or "")
        campaign_id = entity.entity_id if level == "campaign" else (entity.parent_id or "")
        share = target.shares.get(campaign_id)
        evidence: dict[str, object] = {
            "segment": target.segment, "excluded_audience_id": excluded_id,
            "audience_members_synced": target.held_members, "audience_platform_size": size,
            "prospecting_match": [p for p in target.patterns if matches(entity, [p]) or (
                campaign is not None and matches(campaign, [p]))],
        }
        if excluded_id != target.audience_id:
            evidence["synced_audience_id"] = target.audience_id
        said = ""
        if share is not None and share.conversions:
            evidence.update({"campaign_conversions": share.conversions, "campaign_existing_customers": share.existing,
                             "existing_share": round(share.existing / share.conversions, 4),
                             "existing_share_low": None if share.low is None else round(share.low, 4),
                             "existing_share_high": None if share.high is None else round(share.high, 4),
                             "window": list(target.window) if target.window else None})
            said = (f" {share.existing} of its campaign's {share.conversions} CRM conversions "
                    f"({share.existing / share.conversions:.0%}) came from people who were already customers.")
        people = f"{target.held_members:,} synced members" + (f", about {size:,} matched" if size else "")
        where = " (a campaign-level exclusion: every ad group of it)" if level == "campaign" else ""
        proposals.append(Proposal.about(
            snapshot.account_id, entity, kind="exclude_audience", policy=POLICY_NAME,
            change={"from": {"excluded_audience_ids": excluded}, "to": {"excluded_audience_id": excluded_id}},
            rationale=(f"{entity.name} is prospecting: it should not spend on the {target.segment!r} segment "
                       f"(audience {excluded_id}, {people}), so it excludes that audience{where}.{said}"),
            evidence=evidence))
    return proposals
