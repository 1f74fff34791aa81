"""Which drafter writes the copy: OpenAI only when chosen and a key is configured, else offline."""

from __future__ import annotations

from agent.copywriter.drafting import Drafter
from agent.copywriter.offline import OfflineDrafter
from agent.copywriter.settings import CopywriterSettings


def make_drafter(settings: CopywriterSettings) -> Drafter:
    """The OpenAI drafter when chosen and a key is set, else the offline one (the default)."""
    key = settings.openai.api_key
    wants_openai = settings.drafter == "openai" or (settings.drafter == "auto" and key is not None)
    if wants_openai and key is not None and key.get_secret_value():
        # the openai package takes about a second to import: loaded only when this drafter is chosen
        from agent.copywriter.openai_drafter import OpenAIDrafter

        return OpenAIDrafter(settings.openai)
    return OfflineDrafter()
