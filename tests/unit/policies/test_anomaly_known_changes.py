"""Known changes: a drop the agent caused itself (or a promotion a person noted) is explained, not an alarm."""

from __future__ import annotations

from datetime import date, timedelta

from policies.anomalies import AnomalyFlag, detect_anomalies
from policies.base import KnownChange, Snapshot
from policies.settings import AnomalySettings
from tests.unit.policies.builders import TODAY, entity, rows, snapshot

YESTERDAY = TODAY - timedelta(days=1)
SETTINGS = AnomalySettings(min_clicks=0)


def _daily(base: float):
    def value(day: date) -> float:
        return base + (day.toordinal() * 7919) % 7
    return value


def _paused_yesterday(known_changes: tuple[KnownChange, ...] = ()) -> Snapshot:
    """Campaign c1 of two ad sets; A was paused yesterday morning and delivered nothing since."""
    def a_spend(day: date) -> float:
        return 0.0 if day == YESTERDAY else _daily(90)(day)

    def a_clicks(day: date) -> float:
        return 0.0 if day == YESTERDAY else _daily(200)(day)

    a = rows("A", 40, spend=a_spend, clicks=a_clicks, impressions=10_000, conversions=lambda d: 10 if a_spend(d) else 0,
             value=lambda d: 500 if a_spend(d) else 0)
    b = rows("B", 40, spend=_daily(90), clicks=_daily(200), impressions=10_000, conversions=10, value=500)
    return snapshot([entity("c1", level="campaign", parent=None), entity("A", budget="100", status="PAUSED"),
                     entity("B", budget="100")], a + b, known_changes=known_changes)


def _spend_drops(flags: list[AnomalyFlag]) -> list[AnomalyFlag]:
    return [f for f in flags if f.metric == "spend" and f.direction == "down"]


def test_without_knowing_the_pause_the_drop_is_critical() -> None:
    drops = _spend_drops(detect_anomalies(_paused_yesterday(), SETTINGS))
    assert drops and any(f.severity == "critical" for f in drops)


def test_a_drop_after_our_own_pause_is_explained_not_critical() -> None:
    ours = KnownChange(start=YESTERDAY, source="agent", entity_id="A", direction="down",
                       description=f"our own pause of name-A on {YESTERDAY}")

    drops = _spend_drops(detect_anomalies(_paused_yesterday(known_changes=(ours,)), SETTINGS))

    assert drops, "the drop is still shown"
    assert all(f.severity == "warning" and "our own pause" in f.explained_by for f in drops)


def test_our_own_raise_does_not_explain_a_drop() -> None:
    raise_ = KnownChange(start=YESTERDAY, source="agent", entity_id="A", direction="up", description="our raise")
    drops = _spend_drops(detect_anomalies(_paused_yesterday(known_changes=(raise_,)), SETTINGS))
    assert any(f.severity == "critical" and not f.explained_by for f in drops)


def test_an_annotation_explains_its_days_only() -> None:
    promo = KnownChange(start=YESTERDAY, end=YESTERDAY, source="annotation", description="annotated: site down")
    earlier = KnownChange(start=YESTERDAY - timedelta(days=9), end=YESTERDAY - timedelta(days=2), source="annotation",
                          description="annotated: last week's promo")

    covered = _spend_drops(detect_anomalies(_paused_yesterday(known_changes=(promo,)), SETTINGS))
    not_covered = _spend_drops(detect_anomalies(_paused_yesterday(known_changes=(earlier,)), SETTINGS))

    assert covered and all(f.explained_by == "annotated: site down" for f in covered)
    assert any(f.severity == "critical" for f in not_covered)
