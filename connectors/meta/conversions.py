"""What a Meta account counts as a conversion: its `conversion_event` and `platform_attribution`.

Insights rows carry the same conversions several times over, under overlapping action types
(https://developers.facebook.com/docs/marketing-api/reference/ads-action-stats/): a web purchase
appears as `purchase`, `omni_purchase` and `offsite_conversion.fb_pixel_purchase`; a lead as `lead`,
`onsite_conversion.lead_grouped` (instant forms) and `offsite_conversion.fb_pixel_lead` (website).
Summing the types counts each conversion two or three times. So each event has its
de-duplicated totals, in order of preference (`omni_*` is Meta's total across web, app, offline
and on-Meta), and the disjoint parts that add up to the total when no total is in the row.

`platform_attribution` names the attribution windows asked for with `action_attribution_windows`
(e.g. `7d_click_1d_view`). Since January 12, 2026, Meta no longer returns `7d_view` and `28d_view`
(https://developers.facebook.com/blog/post/2025/10/16/ads-insights-api-metric-availability-updates/):
they are refused, not silently counted as zero. Without a setting Meta counts with the ad
account's own attribution setting (each action's `value`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

# event -> (de-duplicated totals, most preferred first; disjoint parts, each with its synonyms)
_EVENTS: dict[str, tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]] = {
    "purchase": (("omni_purchase", "purchase"),
                 (("offsite_conversion.fb_pixel_purchase",), ("app_custom_event.fb_mobile_purchase",),
                  ("offline_conversion.purchase",), ("onsite_conversion.purchase",))),
    "lead": (("lead",),
             (("offsite_conversion.fb_pixel_lead",), ("onsite_conversion.lead_grouped", "leadgen_grouped"))),
}
WINDOWS = ("1d_click", "7d_click", "28d_click", "1d_view", "1d_ev")
RETIRED_WINDOWS = ("7d_view", "28d_view")
_WINDOW = re.compile(r"\d+d_(?:click|view|ev)")
CUSTOM_EVENT = re.compile(r"^[a-z0-9_]+(\.[A-Za-z0-9_.\-]+)*$")


def parse_attribution(setting: str) -> tuple[str, ...]:
    """`7d_click_1d_view` -> ("7d_click", "1d_view"); ValueError naming what Meta does not return."""
    windows = tuple(_WINDOW.findall(setting))
    if not windows or "_".join(windows) != setting:
        raise ValueError(f"{setting!r} is not a list of attribution windows such as 7d_click_1d_view "
                         f"(windows: {', '.join(WINDOWS)})")
    retired = [w for w in windows if w in RETIRED_WINDOWS]
    if retired:
        raise ValueError(f"{', '.join(retired)} is no longer returned by Meta since January 12, 2026; "
                         "use 1d_view or a click window such as 7d_click_1d_view")
    unknown = [w for w in windows if w not in WINDOWS]
    if unknown:
        raise ValueError(f"unknown attribution window {', '.join(unknown)} (windows: {', '.join(WINDOWS)})")
    if len(set(windows)) != len(windows):
        raise ValueError(f"{setting!r} names a window twice")
    return windows


def check_event(event: str) -> str:
    """`purchase`, `lead`, or a custom event's action type (e.g. `offsite_conversion.custom.123`)."""
    if event not in _EVENTS and not CUSTOM_EVENT.match(event):
        raise ValueError(f"{event!r} is neither purchase, lead nor an action type such as "
                         "offsite_conversion.custom.<id>")
    return event


@dataclass(frozen=True)
class Conversions:
    """How one account's conversions are read from an insights row's `actions` / `action_values`."""

    event: str = "purchase"
    windows: tuple[str, ...] = ()
    configured: bool = False  # the account names its event (else lead campaigns count leads: leads.py)

    @classmethod
    def of(cls, account: Mapping[str, Any]) -> Conversions:
        attribution = account.get("platform_attribution")
        return cls(check_event(str(account.get("conversion_event") or "purchase")),
                   parse_attribution(str(attribution)) if attribution else (),
                   bool(account.get("conversion_event")))

    def count(self, actions: Iterable[Mapping[str, Any]] | None) -> Decimal:
        """The event's total in one row, each conversion counted once."""
        by_type = {str(a.get("action_type")): self._amount(a) for a in actions or () if isinstance(a, Mapping)}
        totals, parts = _EVENTS.get(self.event, ((self.event,), ()))
        for total in totals:
            if total in by_type:
                return by_type[total]
        found = Decimal(0)
        for synonyms in parts:
            found += next((by_type[s] for s in synonyms if s in by_type), Decimal(0))
        return found

    def _amount(self, action: Mapping[str, Any]) -> Decimal:
        # With windows asked for, each action carries one key per window with conversions in it
        # (click- and view-through conversions are disjoint); `value` stays the account's default.
        if self.windows:
            return sum((Decimal(str(action[w])) for w in self.windows if w in action), Decimal(0))
        return Decimal(str(action.get("value") or 0))
