"""What a drafter receives and returns, and the drafter interface the cycle depends on.

Two implementations: `OpenAIDrafter` (openai_drafter.py) and `OfflineDrafter` (offline.py).
`make_drafter` picks one from the settings: OpenAI only when a key is configured.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from agent.copywriter.history import AdRecord, AdSetContext, AdText
from agent.copywriter.limits import PlatformLimits
from agent.copywriter.patterns import Pattern
from agent.copywriter.settings import BrandSettings, CopywriterSettings


@dataclass(frozen=True)
class Variant:
    """One drafted ad, labelled with the drafter that wrote it."""

    headlines: tuple[str, ...]
    descriptions: tuple[str, ...]
    call_to_action: str | None
    drafter: str
    note: str = ""  # the drafter's own one-line reason, if it gave one

    @property
    def text(self) -> AdText:
        return AdText(self.headlines, self.descriptions, self.call_to_action)


@dataclass(frozen=True)
class DraftRequest:
    """Everything a drafter may use to write `count` variants for one ad set."""

    platform: str
    limits: PlatformLimits
    context: AdSetContext
    brand: BrandSettings
    patterns: Sequence[Pattern]
    history: Sequence[AdRecord]  # the account's ads with their fresh CTR (offline components)
    count: int
    reason: str  # why new copy is wanted (fatigue, low CTR), in words
    themes: dict[str, str] = field(default_factory=dict)  # ad set id -> theme, to re-theme components
    score: Callable[[AdText], float] | None = None  # predicted log CTR of a text in this ad set, if known
    max_similarity: float = 0.85


@dataclass
class DraftResult:
    """Variants and anything that went wrong; a failed request gives no variants, never an exception."""

    variants: list[Variant]
    errors: list[str] = field(default_factory=list)
    malformed_responses: int = 0


class Drafter(Protocol):
    label: str

    def draft(self, request: DraftRequest) -> DraftResult:
        """Up to `request.count` variants; must not raise for platform or model failures."""
        ...


def make_drafter(settings: CopywriterSettings) -> Drafter:
    """The OpenAI drafter when chosen and a key is set, else the offline one (the default)."""
    from agent.copywriter.offline import OfflineDrafter

    key = settings.openai.api_key
    wants_openai = settings.drafter == "openai" or (settings.drafter == "auto" and key is not None)
    if wants_openai and key is not None and key.get_secret_value():
        from agent.copywriter.openai_drafter import OpenAIDrafter

        return OpenAIDrafter(settings.openai)
    return OfflineDrafter()
