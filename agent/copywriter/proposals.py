"""The copywriter's entry point: fatigued or low-CTR ad sets in, `new_ad` proposals out.

`draft_new_ads` is pure apart from the drafter it is given (which may call a language model): it
reads a Snapshot, never the database or a platform, and never raises for a drafting failure. Each
proposal creates the ad PAUSED, so a person (or a later rule) decides when it goes live.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from statistics import NormalDist
from typing import Any

from agent.copywriter.ctr_model import CtrPrediction, FittedModel, TrainingSet, fit, refitter
from agent.copywriter.drafter_choice import make_drafter
from agent.copywriter.drafting import Drafter, DraftRequest, Variant
from agent.copywriter.features import FEATURE_NAMES, feature_vector
from agent.copywriter.history import AdRecord, AdText, ad_history, ad_set_context
from agent.copywriter.launch_feedback import LaunchFeedback
from agent.copywriter.limits import PlatformLimits, limits_for
from agent.copywriter.offline import LABEL as OFFLINE_LABEL
from agent.copywriter.patterns import Pattern, find_patterns
from agent.copywriter.segment_copy import (
    SegmentDelivery,
    brief,
    draft_language,
    in_segment,
    segment_history,
    segments_for,
)
from agent.copywriter.selection import SelectionCorrection, selection_correction
from agent.copywriter.settings import CopySegment, CopywriterSettings
from agent.copywriter.triggers import Trigger, find_triggers
from agent.copywriter.validation import Rejection, clean_variant, validate
from agent.errors import NoTextLimits
from connectors.records import SegmentRow
from policies.base import Proposal, Snapshot

log = logging.getLogger(__name__)
POLICY_NAME = "copywriter"


@dataclass
class DraftReport:
    """What one account's drafting produced; `rejected_counts` is per validation rule."""

    proposals: list[Proposal] = field(default_factory=list)
    rejected_counts: Counter[str] = field(default_factory=Counter)
    drafted: int = 0
    rejected: int = 0
    ad_sets: list[str] = field(default_factory=list)
    drafter: str = ""
    model: str = ""
    patterns: list[Pattern] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    malformed_responses: int = 0
    notes: list[str] = field(default_factory=list)  # segments not drafted for, and why

    def as_dict(self) -> dict[str, Any]:
        return {"proposals": len(self.proposals), "drafted": self.drafted, "rejected": self.rejected,
                "rejected_counts": dict(self.rejected_counts), "ad_sets": list(self.ad_sets),
                "drafter": self.drafter, "model": self.model, "errors": list(self.errors),
                "malformed_responses": self.malformed_responses, "notes": list(self.notes)}


@dataclass(frozen=True)
class AccountModel:
    """Everything learnt from the account's history, shared by all its ad sets this cycle."""

    limits: PlatformLimits
    history: list[AdRecord]
    themes: dict[str, str]
    patterns: list[Pattern]
    model: FittedModel
    brand: str
    data: TrainingSet | None = None

    @cached_property
    def correction(self) -> SelectionCorrection | None:
        """The model's selection correction (selection.py), computed on first use: leave-one-ad-out
        refits cost a few fits, paid only when a draft is predicted."""
        return selection_correction(self.data, refitter(self.model)) if self.data is not None else None

    def features(self, text: AdText, ad_set_id: str) -> list[float]:
        return feature_vector(text, self.limits, self.themes.get(ad_set_id, ""), self.brand)

    def predict(self, text: AdText, ad_set_id: str, level: float) -> CtrPrediction:
        return self.model.predict(self.features(text, ad_set_id), ad_set_id, level)


def learn_account(snapshot: Snapshot, settings: CopywriterSettings) -> AccountModel:
    """Patterns and the CTR model from the account's ads (raises NoTextLimits)."""
    limits = limits_for(snapshot.platform, settings.enforce_recommended_limits)
    themes = {e.entity_id: ad_set_context(snapshot, e).theme for e in snapshot.entities.values()
              if e.level == "ad_set"}
    history = ad_history(snapshot, settings.fresh_days, settings.min_ad_impressions)
    brand = settings.brand.name
    vectors = {r.ad_id: feature_vector(r.text, limits, themes.get(r.ad_set_id, ""), brand) for r in history}
    named = {r.ad_id: dict(zip(FEATURE_NAMES, vectors[r.ad_id], strict=True)) for r in history}
    patterns = find_patterns(history, named, settings.pattern_min_ads, settings.pattern_min_z)
    data = TrainingSet.build(history, vectors)
    model = fit(data, settings.ctr_model)
    return AccountModel(limits, history, themes, patterns, model, brand, data)


@dataclass(frozen=True)
class CopyTarget:
    """Whom one drafting is for: the whole ad set, or one of its segments (segment_copy.py)."""

    language: str | None
    segment: CopySegment | None = None
    seen: SegmentDelivery | None = None  # the ad set's delivery in the segment, where broken down
    history: list[AdRecord] | None = None  # the ads' history within the segment; None: the account's
    patterns: list[Pattern] | None = None  # patterns within the segment; None: the account's
    model: FittedModel | None = None  # CTR model fitted within the segment; None: the account's x the ratio

    def evidence(self) -> dict[str, Any]:
        if self.segment is None:
            return {}
        return {"name": self.segment.name, "description": self.segment.description,
                "dimension": self.segment.dimension, "segment": self.segment.segment_label,
                "delivery": self.seen.as_evidence() if self.seen else None,
                "patterns_from": ("ads' performance within the segment" if self.patterns is not None
                                  else "the whole account (no per-ad breakdown for this segment)")}


def targets_for(snapshot: Snapshot, ad_set_id: str, learnt: AccountModel, settings: CopywriterSettings,
                segment_rows: Sequence[SegmentRow]) -> list[CopyTarget]:
    """The ad set's general copy, then one drafting per configured segment it delivers to."""
    targets = [CopyTarget(draft_language(settings, None, learnt.history, ad_set_id))]
    for segment, seen in segments_for(settings, snapshot, segment_rows, ad_set_id):
        history = patterns = model = None
        if segment.dimension:
            inside = segment_history(snapshot, segment_rows, segment.dimension, segment.segment_values,
                                     settings.min_ad_impressions)
            if len(inside) >= 2 * settings.pattern_min_ads:
                vectors = {r.ad_id: learnt.features(r.text, r.ad_set_id) for r in inside}
                named = {ad_id: dict(zip(FEATURE_NAMES, vector, strict=True)) for ad_id, vector in vectors.items()}
                history = inside
                patterns = find_patterns(inside, named, settings.pattern_min_ads, settings.pattern_min_z)
                model = fit(TrainingSet.build(inside, vectors), settings.ctr_model)
        targets.append(CopyTarget(draft_language(settings, segment, learnt.history, ad_set_id), segment, seen, history,
                                  patterns, model))
    return targets


def new_ad_params(variant: Variant, limits: PlatformLimits, segment: str | None = None) -> dict[str, Any]:
    """The `new_ad` mutation params (the proposal's `change["to"]`): always created PAUSED."""
    label = f"{variant.drafter} copy" + (f" for {segment[:30]}" if segment else "")  # names stay short
    params: dict[str, Any] = {"headline": variant.headlines[0], "description": variant.descriptions[0],
                              "status": "PAUSED", "name": f"{label}: {variant.headlines[0][:40]}"}
    if limits.headline.max_items > 1 or len(variant.headlines) > 1:
        params["headlines"] = list(variant.headlines)
    if limits.description.max_items > 1 or len(variant.descriptions) > 1:
        params["descriptions"] = list(variant.descriptions)
    if variant.call_to_action:
        params["call_to_action"] = variant.call_to_action
    return params


def _confidence(prediction: CtrPrediction) -> float:
    """P(the variant's CTR beats its ad set's baseline), from the predictive interval."""
    z = NormalDist().inv_cdf(0.5 + prediction.level / 2)
    sigma = (math.log(prediction.high) - math.log(prediction.low)) / (2 * z) if prediction.low > 0 else 0.0
    if sigma <= 0:
        return 0.5
    return NormalDist().cdf(math.log(prediction.ctr / prediction.baseline_ctr) / sigma)


def _proposal(snapshot: Snapshot, trigger: Trigger, variant: Variant, prediction: CtrPrediction,
              learnt: AccountModel, report_rejections: Counter[str], target: CopyTarget) -> Proposal:
    ad_set = snapshot.entities[trigger.ad_set_id]
    patterns = learnt.patterns if target.patterns is None else target.patterns
    fitted = target.model or learnt.model
    winning = [p.name for p in patterns if p.winning][:4]
    segment = target.segment
    whose = "the segment's" if target.patterns is not None else "the account's"
    rationale = (
        (f"New copy for segment {segment.name!r}"
         + (f" ({segment.dimension} {segment.segment_label})" if segment.dimension else "")
         + f" of ad set {ad_set.name!r} ({segment.description})" if segment else f"New copy for ad set {ad_set.name!r}")
        + f": {trigger.reason}. Drafted by {variant.drafter}"
        + (f" in {target.language}" if target.language else "")
        + (f" from {whose} winning patterns ({', '.join(winning)})" if winning else "")
        + f". Predicted CTR{' in the segment' if target.seen else ''} {prediction.ctr:.2%} "
        f"({prediction.level:.0%} interval {prediction.low:.2%}-{prediction.high:.2%}) against "
        f"{prediction.baseline_ctr:.2%} for its current ads ({prediction.model} model, {prediction.training_ads} ads)."
        " Created paused for review."
    )
    return Proposal(
        kind="new_ad", policy=POLICY_NAME, account_id=snapshot.account_id, entity_id=ad_set.entity_id,
        entity_level="ad_set", entity_name=ad_set.name,
        change={"from": {}, "to": new_ad_params(variant, learnt.limits, segment.name if segment else None)},
        rationale=rationale,
        evidence={
            "trigger": {"kind": trigger.kind, "reason": trigger.reason, **trigger.evidence},
            "drafter": variant.drafter,
            "drafter_note": variant.note,
            "predicted_ctr": prediction.as_evidence(),
            "confidence": round(_confidence(prediction), 4),
            **({"selection_correction": learnt.correction.as_evidence()}
               if target.model is None and learnt.correction is not None else {}),
            "patterns": [p.as_evidence() for p in patterns],
            **({"segment": target.evidence()} if segment else {}),
            **({"language": target.language} if target.language else {}),
            "model": {"name": fitted.name, "training_ads": fitted.training_ads,
                      "unexplained_sd_log_ctr": round(math.sqrt(fitted.scatter), 4),
                      **({"fitted_on": "ads' delivery within the segment"} if target.model else {}),
                      **{k: v for k, v in fitted.details.items() if isinstance(v, int | float | str)}},
            "validation": {"passed": True, "rejected_siblings": dict(report_rejections)},
            "test": "within-ad-set CTR model on the account's own ads; platform limits and brand rules checked",
        },
    )


def draft_new_ads(snapshot: Snapshot, refresh_proposals: Sequence[Proposal], settings: CopywriterSettings,
                  drafter: Drafter | None = None, skip_ad_sets: Collection[str] = (),
                  segment_rows: Sequence[SegmentRow] = (), feedback: LaunchFeedback | None = None) -> DraftReport:
    """`new_ad` proposals for ad sets with fatigued creative (`refresh_proposals`) or a lagging CTR,
    and for each configured copy segment they deliver to (`segment_rows`: the stored breakdowns of
    the segments' dimensions over `segment_window_days`). `feedback`: the platform's launched drafts'
    errors, applied to every prediction last (agent/copywriter/launch_feedback.py).

    `skip_ad_sets`: ad sets that already have an open new_ad action (the cycle knows). Never raises
    for drafting failures; they are in `errors`.
    """
    report = DraftReport()
    if not settings.enabled:
        return report
    drafter = drafter or make_drafter(settings)
    report.drafter = drafter.label
    triggers = find_triggers(snapshot, refresh_proposals, settings.low_ctr_ratio, settings.low_ctr_window_days,
                             settings.low_ctr_min_impressions, skip_ad_sets)[: settings.max_ad_sets_per_cycle]
    if not triggers:
        return report
    try:
        learnt = learn_account(snapshot, settings)
    except NoTextLimits as error:
        report.errors.append(str(error))
        return report
    report.model, report.patterns = learnt.model.name, learnt.patterns
    for trigger in triggers:
        proposed: list[Variant] = []  # this ad set's variants so far: a segment's must differ from them
        targets = targets_for(snapshot, trigger.ad_set_id, learnt, settings, segment_rows)
        for target in targets:
            if (target.segment is not None and drafter.label == OFFLINE_LABEL and target.history is None
                    and target.language == targets[0].language):
                report.notes.append(
                    f"{trigger.ad_set_id}: no copy for segment {target.segment.name!r}: the offline drafter has "
                    "nothing specific to it (breakdowns per ad set only, the same language), so its drafts "
                    "would repeat the ad set's")
                log.info("copywriter: %s", report.notes[-1])
                continue
            proposed += _draft_ad_set(snapshot, trigger, learnt, settings, drafter, report, target, proposed,
                                      feedback)
    return report


def _draft_ad_set(snapshot: Snapshot, trigger: Trigger, learnt: AccountModel, settings: CopywriterSettings,
                  drafter: Drafter, report: DraftReport, target: CopyTarget,
                  proposed: Sequence[Variant] = (), feedback: LaunchFeedback | None = None) -> list[Variant]:
    """Draft for one target of an ad set; the variants proposed (validated against `proposed` too)."""
    context = ad_set_context(snapshot, snapshot.entities[trigger.ad_set_id])
    model = target.model or learnt.model
    request = DraftRequest(
        platform=snapshot.platform, limits=learnt.limits, context=context, brand=settings.brand,
        patterns=learnt.patterns if target.patterns is None else target.patterns,
        history=learnt.history if target.history is None else target.history,
        count=settings.variants_per_ad_set, reason=trigger.reason,
        themes=learnt.themes, max_similarity=settings.max_similarity,
        score=lambda text: model.predict_log(learnt.features(text, trigger.ad_set_id), trigger.ad_set_id)[0],
        language=target.language, segment=brief(target.segment) if target.segment else None,
    )
    try:
        result = drafter.draft(request)
    except Exception as error:  # a drafter bug must not stop the account's other proposals
        log.exception("copywriter: drafter %s failed on %s", drafter.label, trigger.ad_set_id)
        report.errors.append(f"{trigger.ad_set_id}: {type(error).__name__}: {error}")
        return []
    if trigger.ad_set_id not in report.ad_sets:
        report.ad_sets.append(trigger.ad_set_id)
    report.errors += result.errors
    report.malformed_responses += result.malformed_responses
    accepted: list[tuple[Variant, CtrPrediction]] = []
    rejections: Counter[str] = Counter()
    for raw in result.variants:
        report.drafted += 1
        variant = clean_variant(raw)
        problems = validate(variant, learnt.limits, settings.brand, context.existing,
                            [*proposed, *(v for v, _ in accepted)], settings.max_similarity)
        prediction = model.predict(learnt.features(variant.text, trigger.ad_set_id), trigger.ad_set_id,
                                   settings.interval)
        if target.model is None and learnt.correction is not None:
            prediction = learnt.correction.apply(prediction)
        if target.model is None and target.seen is not None:
            prediction = in_segment(prediction, target.seen)
        if feedback is not None:
            prediction = feedback.apply(prediction)
        if not problems and prediction.lift < settings.min_predicted_lift:
            problems = [Rejection("predicted_below_baseline",
                                  f"predicted lift {prediction.lift:+.1%} is under {settings.min_predicted_lift:+.1%}")]
        if problems:
            report.rejected += 1
            rules = {p.rule for p in problems}
            rejections.update(rules)
            log.info("copywriter: %s draft rejected (%s): %s", trigger.ad_set_id, ", ".join(sorted(rules)),
                     "; ".join(p.message for p in problems)[:300])
            continue
        accepted.append((variant, prediction))
    report.rejected_counts.update(rejections)
    accepted.sort(key=lambda pair: (-pair[1].ctr, pair[0].headlines))
    chosen = accepted[: settings.max_proposals_per_ad_set]
    for variant, prediction in chosen:
        report.proposals.append(_proposal(snapshot, trigger, variant, prediction, learnt, rejections, target))
    return [variant for variant, _ in chosen]
