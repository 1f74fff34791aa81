"""The language model's brief: brand voice and rules, the ad set's context, the account's evidence,
and a JSON schema that makes the answer machine-checkable (structured output)."""

from __future__ import annotations

import json
from typing import Any

from agent.copywriter.drafting import DraftRequest
from agent.copywriter.language import language_name

SYSTEM = """You are a senior performance copywriter for {brand}.
Brand voice: {voice}
Write {count} distinct ad variants for one {platform} ad set. Every variant must:
- keep each {headline} within {headline_max} characters and each {body} within {body_max} characters;
- give {headline_items} {headline}(s) and {body_items} {body}(s) per variant;
- use only facts, offers and numbers that appear in the material below (never invent prices, discounts or ratings);
- contain no placeholders, brackets or notes to the editor;
- differ clearly from the existing ads and from each other.
{emoji_rule}{language_rule}{segment_rule}{extra_rules}Answer only with JSON matching the schema."""


def _items(minimum: int, maximum: int) -> str:
    return str(minimum) if minimum == maximum else f"{minimum} to {maximum}"


def build_messages(request: DraftRequest) -> list[dict[str, str]]:
    """System and user messages for one ad set."""
    limits, brand, context = request.limits, request.brand, request.context
    rules = [*brand.rules]
    if brand.banned_words:
        rules.append("Never use these words: " + ", ".join(brand.banned_words) + ".")
    if brand.spellings:
        rules.append("Spell these names exactly so: " + ", ".join(brand.spellings) + ".")
    system = SYSTEM.format(
        brand=brand.name or "the advertiser", voice=brand.voice, count=request.count, platform=request.platform,
        headline=limits.headline.label, headline_max=limits.headline.max_chars,
        body=limits.description.label, body_max=limits.description.max_chars,
        headline_items=_items(limits.headline.min_items, min(limits.headline.max_items, 5)),
        body_items=_items(limits.description.min_items, min(limits.description.max_items, 3)),
        emoji_rule="" if limits.emoji_allowed else "- use no emoji;\n",
        language_rule=(f"- be written in {language_name(request.language)} (language code {request.language}), "
                       "whatever language the material below is in; keep brand and product names as they are;\n"
                       if request.language else ""),
        segment_rule=(f"- speak to this audience segment ({request.segment.name}): {request.segment.description};\n"
                      if request.segment else ""),
        extra_rules="".join(f"- {rule}\n" for rule in rules),
    )
    ranked = sorted(request.history, key=lambda r: -r.ctr)
    siblings = [r for r in ranked if r.ad_set_id == context.ad_set.entity_id]
    material = {
        "why_new_copy": request.reason,
        **({"language": request.language} if request.language else {}),
        **({"audience_segment": {"name": request.segment.name, "description": request.segment.description,
                                 **({"breakdown": {"dimension": request.segment.dimension,
                                                   "segment": request.segment.segment}}
                                    if request.segment.dimension else {})}}
           if request.segment else {}),
        "ad_set": {"name": context.ad_set.name, "theme": context.theme, "campaign": context.campaign,
                   "audiences": list(context.audiences), "landing_page": context.landing},
        "winning_patterns": [p.as_evidence() for p in request.patterns if p.winning],
        "losing_patterns_to_avoid": [p.as_evidence() for p in request.patterns if not p.winning],
        "existing_ads_in_this_ad_set": [
            {"headlines": list(a.headlines), "descriptions": list(a.descriptions), "cta": a.call_to_action}
            for a in context.existing
        ],
        "best_ads_in_the_account": [
            {"headlines": list(r.text.headlines), "descriptions": list(r.text.descriptions), "ctr": round(r.ctr, 5)}
            for r in ranked[:5]
        ],
        "sibling_ads_by_ctr": [{"headline": r.text.headlines[0], "ctr": round(r.ctr, 5)} for r in siblings],
        "allowed_calls_to_action": list(limits.calls_to_action) or None,
    }
    return [{"role": "system", "content": system},
            {"role": "user", "content": json.dumps(material, ensure_ascii=False, indent=1)}]


def response_format(request: DraftRequest) -> dict[str, Any]:
    """`response_format` for chat.completions: a strict JSON schema of `count` variants."""
    limits = request.limits
    cta: dict[str, Any] = (
        {"type": "string", "enum": list(limits.calls_to_action)} if limits.calls_to_action else {"type": "null"}
    )
    variant = {
        "type": "object",
        "properties": {
            "headlines": {"type": "array", "items": {"type": "string"}, "minItems": limits.headline.min_items,
                          "maxItems": min(limits.headline.max_items, 5)},
            "descriptions": {"type": "array", "items": {"type": "string"}, "minItems": limits.description.min_items,
                             "maxItems": min(limits.description.max_items, 3)},
            "call_to_action": cta,
            "rationale": {"type": "string"},
        },
        "required": ["headlines", "descriptions", "call_to_action", "rationale"],
        "additionalProperties": False,
    }
    schema = {
        "type": "object",
        "properties": {"variants": {"type": "array", "items": variant, "minItems": 1, "maxItems": request.count}},
        "required": ["variants"],
        "additionalProperties": False,
    }
    return {"type": "json_schema", "json_schema": {"name": "ad_variants", "strict": True, "schema": schema}}
