"""Copy variants from the account's winning creative patterns, with a predicted CTR and interval.

Entry point: `draft_new_ads(snapshot, refresh_proposals, settings, drafter)` -> `DraftReport`.
"""

from agent.copywriter.drafter_choice import make_drafter
from agent.copywriter.drafting import Drafter, DraftRequest, DraftResult, Variant
from agent.copywriter.proposals import DraftReport, draft_new_ads
from agent.copywriter.settings import CopywriterSettings

__all__ = ["CopywriterSettings", "DraftReport", "DraftRequest", "DraftResult", "Drafter", "Variant",
           "draft_new_ads", "make_drafter"]
