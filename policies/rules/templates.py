"""Rule templates: editable starting points (`rules templates`, `rules new --template NAME`).

Amounts are in the account's currency: edit them for each account (or scope the rule to accounts of one
currency). Each template is a rules file, validated against the schema by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    text: str


TEMPLATES: tuple[Template, ...] = (
    Template("cpa-stop-loss", "pause an ad set whose 3-day CPA is over a limit after real spend, proven on the "
             "true CPA", """\
rules:
  - name: cpa-stop-loss
    description: Pause an ad set whose CPA over the last 3 days is above 80 once it has spent 200.
    dry_run: true          # watch it for a week (rules trace cpa-stop-loss), then set false
    scope:
      level: ad_set
    when:
      all:
        - {metric: spend, window: last_3_days, op: ">", value: 200}
        # with_confidence: the true (lag-corrected) CPA must be above 80 with 90% probability,
        # not just the observed one; delete the line to fire on the observed CPA alone
        - {metric: cpa, window: last_3_days, op: ">", value: 80, with_confidence: 0.9}
    then:
      - {kind: pause}
    max_per_period: {count: 1, period: week}
    schedule: {daily_at: "08:00"}
"""),
    Template("scale-winners", "raise the budget 15% of an ad set whose 7-day ROAS is proven above 4", """\
rules:
  - name: scale-winners
    description: Raise the daily budget 15% where the 7-day ROAS is above 4 (at most once a week).
    dry_run: true
    when:
      all:
        - {metric: spend, window: last_7_days, op: ">", value: 100}
        - {metric: roas, window: last_7_days, op: ">", value: 4, with_confidence: 0.9}
    then:
      - {kind: change_budget_pct, pct: 15}
    max_per_period: {count: 1, period: week}
    schedule: {daily_at: "08:00"}
"""),
    Template("daily-budget-cap", "keep every daily budget in scope at or below a cap", """\
rules:
  - name: daily-budget-cap
    description: No daily budget above 300 (set back to 300 if a person or a policy raised it).
    dry_run: true
    when:
      {metric: budget, window: today, op: ">", value: 300}
    then:
      - {kind: set_budget, amount: "300"}
"""),
    Template("weekend-dimming", "cut budgets 15% for the weekend and restore them on Monday", """\
# Dimming by weekday or hour is better done in the platforms' own schedules (the weekend-schedule
# template: Google Ads ad schedules with a bid adjustment): they act at the hour without editing budgets
# twice. This template is for where no schedule fits (Meta ad sets on daily budgets, LinkedIn): it edits
# budgets, -15% on Saturday, then x 1/0.85 (+17.65%) on Monday. Both fit the default 20% budget-change
# guardrail; Monday is 48 hours after Saturday, so the budget cooldown must be shorter than that
# (guardrails.cooldown_hours.set_budget: 36), else Monday's restore waits.
rules:
  - name: weekend-dimming
    description: Cut every daily budget 15% on Saturday morning.
    dry_run: true
    when: {metric: budget, window: today, op: ">", value: 0}
    then:
      - {kind: change_budget_pct, pct: -15}
    max_per_period: {count: 1, period: week}
    schedule: {weekdays: [sat], daily_at: "00:30"}
  - name: weekend-restore
    description: Undo the weekend cut on Monday morning.
    dry_run: true
    when: {metric: budget, window: today, op: ">", value: 0}
    then:
      - {kind: change_budget_pct, pct: 17.65}
    max_per_period: {count: 1, period: week}
    schedule: {weekdays: [mon], daily_at: "00:30"}
"""),
    Template("weekend-schedule", "bid 15% lower on weekends through Google Ads ad schedules (no budget edits)",
             """\
# Written once into each campaign's ad schedule (Saturday and Sunday at -15%, the other days at 0%),
# and again only if someone changes it. Google Ads campaigns only: Meta ad set schedules can only switch
# delivery off (bid_modifier: 0) and need a lifetime budget; LinkedIn has no schedules. Permission kind:
# set_ad_schedule. `actions undo` puts back the schedule the campaign had before.
rules:
  - name: weekend-schedule
    description: Bid 15% lower on Saturdays and Sundays, through the campaigns' ad schedules.
    dry_run: true
    scope:
      platforms: [google_ads]
    when: {metric: spend, window: last_7_days, op: ">", value: 0}
    then:
      - {kind: ad_schedule, bid_modifier: 0.85}
    schedule: {weekdays: [sat, sun]}
"""),
    Template("fatigue-refresh", "flag ad sets whose frequency climbs while CTR falls: time for new creative", """\
rules:
  - name: fatigue-refresh
    description: Frequency above 3 and CTR 20% below its 4-week level; ask for new creative.
    when:
      all:
        - {metric: frequency, window: last_7_days, op: ">", value: 3}
        - {metric: ctr, window: last_7_days, op: "<", other: {window: last_28_days, factor: 0.8}}
        - {metric: impressions, window: last_7_days, op: ">", value: 5000}
    then:
      - {kind: notify, message: "creative fatigue: frequency up, CTR down; refresh the ads"}
    max_per_period: {count: 1, period: week}
    schedule: {daily_at: "08:00"}
"""),
    Template("zero-conversion-stop", "pause an ad set with no conversion after a spend threshold, once the "
             "lag-corrected evidence agrees", """\
rules:
  - name: zero-conversion-stop
    description: Pause an ad set that spent 150 over 14 days without a conversion, when the true CPA is
      above 150 with 90% probability (young days count for the conversions still to be reported).
    dry_run: true
    when:
      all:
        - {metric: spend, window: last_14_days, op: ">", value: 150}
        - {metric: conversions, window: last_14_days, op: "==", value: 0}
        - {metric: cpa, window: last_14_days, op: ">", value: 150, with_confidence: 0.9}
    then:
      - {kind: pause}
    max_per_period: {count: 1, period: week}
"""),
)


def template(name: str) -> Template:
    """The template called `name`; KeyError names the known ones."""
    for found in TEMPLATES:
        if found.name == name:
            return found
    raise KeyError(f"unknown template {name!r}; the templates are {', '.join(t.name for t in TEMPLATES)}")
