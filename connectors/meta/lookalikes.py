"""Lookalike audiences on Meta, seeded by a synced custom audience: `POST /act_{id}/customaudiences`
with `subtype: LOOKALIKE`, `origin_audience_id` and `lookalike_spec` `{"ratio", "country"}`
(https://developers.facebook.com/docs/marketing-api/audiences/guides/lookalike-audiences), through
the facebook-business SDK (`AdAccount.create_custom_audience`, `get_custom_audiences`).

Creating is not idempotent, so the lookalike's name is deterministic and a creation whose answer was
lost is settled by listing the account's custom audiences for that name before creating again.
Meta also refuses a second lookalike of the same seed, country and size (error 2654, "Can't create a
duplicate lookalike"): that answer is settled the same way, by finding the existing one.
"""

from __future__ import annotations

import json

import requests
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.exceptions import FacebookRequestError

from connectors.audience_members import AudienceTarget, LookalikeAnswer, LookalikeRequest
from connectors.meta.api import build_api
from connectors.meta.usage import UsageThrottle

PLATFORM = "meta"
DUPLICATE_LOOKALIKE = 2654


def ad_account_id(target: AudienceTarget) -> str:
    account = target.platform_account_id
    return account if account.startswith("act_") else f"act_{account}"


class MetaLookalikeCreator:
    platform = PLATFORM

    def __init__(self, throttle: UsageThrottle, graph_url: str | None = None, timeout: float | None = None) -> None:
        self._throttle = throttle
        self._graph_url = graph_url
        self._timeout = timeout

    def _account(self, target: AudienceTarget) -> AdAccount:
        api = build_api(target.credentials, self._throttle, target.account_id, self._graph_url, self._timeout)
        return AdAccount(ad_account_id(target), api=api)

    def find(self, target: AudienceTarget, request: LookalikeRequest) -> str | None:
        """The id of the account's custom audience named `request.name`, if there is one."""
        audiences = self._account(target).get_custom_audiences(fields=["id", "name", "subtype"],
                                                               params={"limit": 500})
        for audience in audiences:  # the SDK's cursor follows the pages
            if audience.get("name") == request.name:
                return str(audience.get("id"))
        return None

    def create(self, target: AudienceTarget, request: LookalikeRequest) -> LookalikeAnswer:
        params = {"name": request.name, "subtype": "LOOKALIKE", "origin_audience_id": request.seed_audience_id,
                  "lookalike_spec": json.dumps({"ratio": float(request.ratio), "country": request.country})}
        try:
            created = self._account(target).create_custom_audience(params=params)
        except FacebookRequestError as error:
            if error.api_error_code() == DUPLICATE_LOOKALIKE:
                existing = self.find(target, request)
                if existing is not None:
                    return LookalikeAnswer("created", existing)
            transient = (error.http_status() or 0) >= 500 or error.api_transient_error()
            return LookalikeAnswer("unknown" if transient else "rejected",
                                   error=f"custom audiences: {error.api_error_message()}")
        except requests.RequestException as error:
            return LookalikeAnswer("unknown", error=f"no answer: {type(error).__name__}")
        return LookalikeAnswer("created", str(created.get("id")))
