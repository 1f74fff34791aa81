"""Placements in a Meta ad set's targeting spec: which of our placement segments it leaves out, and
the spec that excludes (or includes again) one of them.

Meta has no "excluded placements" field: an ad set lists the placements it delivers to, in
`publisher_platforms` and each platform's positions (`facebook_positions`, `instagram_positions`,
`audience_network_positions`, ...); a list left out means every default position of that field
(https://developers.facebook.com/docs/marketing-api/audiences/reference/placement-targeting).
A position is only honoured when its platform is in `publisher_platforms`. So excluding a
placement writes its platform's positions out in full minus that one; a platform left with no
position leaves `publisher_platforms` (which is then written out too).

Our segment names come from the insights breakdown `publisher_platform,platform_position`
(connectors/segments.py); targeting spells some positions differently (Instagram's feed is
`stream` there, Audience Network's classic is `classic`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

# publisher platform -> (targeting field, every position Meta lists for it)
PLATFORM_POSITIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "facebook": ("facebook_positions", ("feed", "right_hand_column", "marketplace", "video_feeds", "story", "search",
                                        "instream_video", "facebook_reels", "facebook_reels_overlay", "profile_feed",
                                        "notification")),
    "instagram": ("instagram_positions", ("stream", "story", "explore", "explore_home", "reels", "profile_feed",
                                          "ig_search", "profile_reels")),
    "audience_network": ("audience_network_positions", ("classic", "rewarded_video")),
    "messenger": ("messenger_positions", ("messenger_home", "sponsored_messages", "story")),
}
DEFAULT_PLATFORMS = ("facebook", "instagram", "messenger", "audience_network")
# our placement segment -> (publisher platform, targeting position)
PLACEMENTS: dict[str, tuple[str, str]] = {
    "facebook_feed": ("facebook", "feed"), "facebook_stories": ("facebook", "story"),
    "facebook_reels": ("facebook", "facebook_reels"), "facebook_marketplace": ("facebook", "marketplace"),
    "facebook_right_hand_column": ("facebook", "right_hand_column"), "facebook_search": ("facebook", "search"),
    "facebook_instream_video": ("facebook", "instream_video"), "facebook_profile_feed": ("facebook", "profile_feed"),
    "instagram_feed": ("instagram", "stream"), "instagram_stories": ("instagram", "story"),
    "instagram_reels": ("instagram", "reels"), "instagram_explore": ("instagram", "explore"),
    "instagram_explore_home": ("instagram", "explore_home"), "instagram_profile_feed": ("instagram", "profile_feed"),
    "audience_network_classic": ("audience_network", "classic"),
    "audience_network_rewarded_video": ("audience_network", "rewarded_video"),
}


def _platforms(targeting: Mapping[str, Any]) -> list[str]:
    listed = targeting.get("publisher_platforms")
    return [str(p) for p in listed] if listed else list(DEFAULT_PLATFORMS)


def _positions(targeting: Mapping[str, Any], platform: str) -> list[str]:
    field, every = PLATFORM_POSITIONS[platform]
    listed = targeting.get(field)
    return [str(p) for p in listed] if listed else list(every)


def excluded_placements(targeting: Mapping[str, Any]) -> list[str]:
    """Our placement segments this targeting does not deliver to (empty under automatic placements)."""
    platforms = set(_platforms(targeting))
    return sorted(segment for segment, (platform, position) in PLACEMENTS.items()
                  if platform not in platforms or position not in _positions(targeting, platform))


def with_placement(targeting: Mapping[str, Any], segment: str, excluded: bool) -> dict[str, Any]:
    """`targeting` with `segment` left out (`excluded`) or delivered to again; ValueError for a
    placement Meta's targeting cannot name, or a cut that would leave no placement at all."""
    if segment not in PLACEMENTS:
        raise ValueError(f"placement {segment!r} cannot be targeted; known: {', '.join(sorted(PLACEMENTS))}")
    platform, position = PLACEMENTS[segment]
    field = PLATFORM_POSITIONS[platform][0]
    updated = copy.deepcopy(dict(targeting))
    platforms = _platforms(targeting)
    positions = _positions(targeting, platform) if platform in platforms else []
    if excluded:
        positions = [p for p in positions if p != position]
        if not positions:
            platforms = [p for p in platforms if p != platform]
            if not platforms:
                raise ValueError(f"excluding {segment} would leave the ad set no placement")
            updated["publisher_platforms"] = platforms
            updated.pop(field, None)
            return updated
    else:
        if position not in positions:
            positions.append(position)
        if platform not in platforms:
            platforms.append(platform)
            updated["publisher_platforms"] = platforms
    if "publisher_platforms" in targeting or platforms != list(DEFAULT_PLATFORMS):
        updated["publisher_platforms"] = platforms
    updated[field] = positions
    return updated
