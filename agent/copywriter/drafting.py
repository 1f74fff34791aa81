"""What a drafter receives and returns, and the drafter interface the cycle depends on.

Two implementations: `OpenAIDrafter` (openai_drafter.py) and `OfflineDrafter` (offline.py), both
importing these types; `make_drafter` (drafter_choice.py) picks one from the settings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from agent.copywriter.history import AdRecord, AdSetContext, AdText
from agent.copywriter.limits import PlatformLimits
from agent.copywriter.patterns import Pattern
from agent.copywriter.settings import BrandSettings


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
class SegmentBrief:
    """The segment a draft is for: its name, description (for the model) and where it comes from."""

    name: str
    description: str
    dimension: str | None = None
    segment: str | None = None

    @property
    def label(self) -> str:
        where = f" ({self.dimension} {self.segment})" if self.dimension else ""
        return f"{self.name}{where}"


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
    language: str | None = None  # ISO code the drafts must be written in; None: as the material
    segment: SegmentBrief | None = None  # the segment the copy is for; None: the whole ad set


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
