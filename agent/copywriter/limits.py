"""Platform text limits, as data: what each platform accepts (hard) or advises (recommended).

Recommended limits are where the platform truncates the text in most placements ("... See more");
by default they are enforced like hard ones, because truncated copy is not the copy we tested.
Sources: Google Ads responsive search ad specs; Meta ads guide (feed placements); LinkedIn single
image ad specs. Update here when a platform changes its rules; nothing else hard-codes a number.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from agent.errors import NoTextLimits

LimitKind = Literal["hard", "recommended"]


@dataclass(frozen=True)
class FieldLimit:
    """One text field of an ad: how long each item may be and how many items an ad has."""

    label: str  # the platform's own name for the field, used in messages
    max_chars: int  # the limit we validate against (the recommended one where there is one)
    kind: LimitKind
    hard_max_chars: int  # what the platform refuses outright
    min_items: int
    max_items: int


@dataclass(frozen=True)
class PlatformLimits:
    """Everything a draft must satisfy to be sent to one platform."""

    platform: str
    headline: FieldLimit
    description: FieldLimit
    wide_counts_double: bool  # Google counts CJK and other full-width characters as two
    emoji_allowed: bool  # Google's editorial policy refuses emoji and most symbols in text ads
    calls_to_action: tuple[str, ...]  # the platform's fixed CTA buttons; empty: no CTA field
    body_attribute: str  # the ad attribute holding the body text on this platform

    def field(self, name: str) -> FieldLimit:
        return self.headline if name == "headlines" else self.description


PLATFORM_LIMITS: dict[str, PlatformLimits] = {
    "google_ads": PlatformLimits(
        platform="google_ads",
        headline=FieldLimit("headline", 30, "hard", 30, 3, 15),
        description=FieldLimit("description", 90, "hard", 90, 2, 4),
        wide_counts_double=True,
        emoji_allowed=False,
        calls_to_action=(),
        body_attribute="descriptions",
    ),
    "meta": PlatformLimits(
        platform="meta",
        headline=FieldLimit("headline", 40, "recommended", 255, 1, 1),
        description=FieldLimit("primary text", 125, "recommended", 2200, 1, 1),
        wide_counts_double=False,
        emoji_allowed=True,
        calls_to_action=("SHOP_NOW", "LEARN_MORE", "SIGN_UP", "GET_OFFER", "BOOK_NOW", "DOWNLOAD", "SUBSCRIBE",
                         "ORDER_NOW", "GET_QUOTE", "CONTACT_US", "APPLY_NOW"),
        body_attribute="primary_text",
    ),
    "linkedin": PlatformLimits(
        platform="linkedin",
        headline=FieldLimit("headline", 70, "recommended", 200, 1, 1),
        description=FieldLimit("introductory text", 150, "recommended", 600, 1, 1),
        wide_counts_double=False,
        emoji_allowed=True,
        calls_to_action=("LEARN_MORE", "REQUEST_DEMO", "DOWNLOAD", "SIGN_UP", "REGISTER", "SUBSCRIBE", "APPLY",
                         "JOIN", "ATTEND", "VIEW_QUOTE"),
        body_attribute="introductory_text",
    ),
}


def limits_for(platform: str, enforce_recommended: bool = True) -> PlatformLimits:
    """The limits of `platform`; with `enforce_recommended=False` only the hard limits apply."""
    try:
        limits = PLATFORM_LIMITS[platform]
    except KeyError:
        raise NoTextLimits(
            f"no ad text limits for platform {platform!r}: known are {', '.join(sorted(PLATFORM_LIMITS))} "
            "(add them to agent/copywriter/limits.py)"
        ) from None
    if enforce_recommended:
        return limits
    return replace(
        limits,
        headline=replace(limits.headline, max_chars=limits.headline.hard_max_chars),
        description=replace(limits.description, max_chars=limits.description.hard_max_chars),
    )
