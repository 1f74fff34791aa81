"""Offline conversions through the real SDKs (google-ads-datamanager, google-ads, facebook-business,
httpx) against local fakes of the platforms' conversion APIs."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from connectors.conversion_uploads import Consent, ConversionEvent, UploadTarget, event_id_for
from connectors.google_ads.offline_conversions import GoogleConversionUploader
from connectors.linkedin.offline_conversions import LinkedInConversionUploader
from connectors.meta.offline_conversions import MetaConversionUploader
from connectors.meta.usage import UsageThrottle
from tests.fakes.conversions_http_servers import FakeLinkedInConversions, FakeMetaConversions
from tests.fakes.google_conversions_server import FakeGoogleConversions

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
EMAIL = hashlib.sha256(b"ann@example.com").hexdigest()
RULE = "urn:lla:llaPartnerConversion:7001"


def _event(crm_id: str, destination: str, *, days_ago: float = 2, click_days_before: float = 10,
           **fields: object) -> ConversionEvent:
    happened = NOW - timedelta(days=days_ago)
    return ConversionEvent(event_id=event_id_for(crm_id, "sql"), destination=destination, happened_at=happened,
                           clicked_at=happened - timedelta(days=click_days_before), **fields)  # type: ignore[arg-type]


@pytest.fixture
def google() -> Iterator[FakeGoogleConversions]:
    with FakeGoogleConversions({"1234567890": {"111", "222"}}, now=lambda: NOW) as fake:
        yield fake


def _google_target(**extra: object) -> UploadTarget:
    return UploadTarget("acme-g", "1234567890", {"developer_token": "DEV"}, **extra)  # type: ignore[arg-type]


def test_google_data_manager_upload_is_counted_once_with_consent(google: FakeGoogleConversions) -> None:
    uploader = GoogleConversionUploader(google.channel_factory())
    event = _event("L-1", "111", gclid="Cj0-abc", value=Decimal("2500"), currency="USD", email_sha256=EMAIL,
                   consent=Consent("granted", "denied"))
    assert [r.status for r in uploader.upload(_google_target(), [event])] == ["uploaded"]
    assert [r.status for r in uploader.upload(_google_target(), [event])] == ["uploaded"]  # a re-send
    assert google.sent("ingest") == 2
    assert list(google.counted) == [("1234567890", "111", event.event_id)]
    counted = google.counted[("1234567890", "111", event.event_id)]
    assert (counted["ad_user_data"], counted["ad_personalization"]) == ("CONSENT_GRANTED", "CONSENT_DENIED")
    assert counted["emails"] == [EMAIL] and counted["value"] == 2500.0


def test_google_refuses_an_unknown_conversion_action_and_unhashed_email(google: FakeGoogleConversions) -> None:
    uploader = GoogleConversionUploader(google.channel_factory())
    results = uploader.upload(_google_target(), [_event("L-2", "999", gclid="g2")])
    assert results[0].status == "rejected" and "INVALID_DESTINATION" in (results[0].error or "")
    results = uploader.upload(_google_target(), [_event("L-3", "111", gclid="g3", email_sha256="ann@example.com")])
    assert results[0].status == "rejected" and "SHA-256" in (results[0].error or "")
    assert google.counted == {}


def test_google_age_limit_is_ninety_days_after_the_click(google: FakeGoogleConversions) -> None:
    uploader = GoogleConversionUploader(google.channel_factory())
    assert uploader.too_old(_event("L-4", "111", click_days_before=91), NOW) is not None
    assert uploader.too_old(_event("L-4", "111", click_days_before=89), NOW) is None
    google.clicks["g-old"] = NOW - timedelta(days=120)
    results = uploader.upload(_google_target(), [_event("L-5", "111", gclid="g-old")])
    assert results[0].status == "rejected" and "EVENT_TIME_INVALID" in (results[0].error or "")


def test_google_lost_answer_is_unknown_and_the_resend_counts_once(google: FakeGoogleConversions) -> None:
    uploader = GoogleConversionUploader(google.channel_factory())
    event = _event("L-6", "111", gclid="g6")
    google.faults.inject("drop_answer", "ingest")
    assert uploader.upload(_google_target(), [event])[0].status == "unknown"
    assert uploader.upload(_google_target(), [event])[0].status == "uploaded"
    assert len(google.counted) == 1


def test_google_fallback_needs_an_allowlisted_token(google: FakeGoogleConversions) -> None:
    uploader = GoogleConversionUploader(google.channel_factory())
    event = _event("L-7", "222", gclid="g7", value=Decimal("10"), currency="USD")
    result = uploader.upload(_google_target(use_click_conversions=True), [event])[0]
    assert result.status == "rejected" and "CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE" in (result.error or "")
    google.allowlisted.add("1234567890")
    assert uploader.upload(_google_target(use_click_conversions=True), [event])[0].status == "uploaded"
    assert google.counted[("1234567890", "222", event.event_id)]["via"] == "google_ads"


def test_google_retraction_by_transaction_id(google: FakeGoogleConversions) -> None:
    uploader = GoogleConversionUploader(google.channel_factory())
    event = _event("L-8", "111", gclid="g8", value=Decimal("900"), currency="USD")
    uploader.upload(_google_target(), [event])
    never_sent = _event("L-9", "111", gclid="g9")
    results = uploader.retract(_google_target(), [event, never_sent], NOW)
    assert [r.status for r in results] == ["uploaded", "rejected"]
    assert google.retracted == {("1234567890", "111", event.event_id)}


def test_meta_conversions_api_dedups_by_event_id_and_refuses_old_events() -> None:
    with FakeMetaConversions({"555"}, now=lambda: NOW) as meta:
        uploader = MetaConversionUploader(UsageThrottle(lambda _s: None), graph_url=meta.url)
        target = UploadTarget("acme-m", "act_1", {"access_token": "TOKEN"}, dataset_id="555")
        event = _event("M-1", "QualifiedLead", fbclid="IwAR-1", email_sha256=EMAIL, value=Decimal("40"),
                       currency="EUR")
        assert uploader.upload(target, [event])[0].status == "uploaded"
        meta.faults.inject("drop_answer", "post")
        assert uploader.upload(target, [event])[0].status == "unknown"
        assert uploader.upload(target, [event])[0].status == "uploaded"
        assert len(meta.counted) == 1
        sent = meta.counted[("555", "QualifiedLead", event.event_id)]
        assert sent["action_source"] == "system_generated" and sent["user_data"]["em"] == [EMAIL]
        assert sent["user_data"]["fbc"].startswith("fb.1.") and sent["custom_data"]["value"] == 40.0
        assert sent["custom_data"]["event_source"] == "crm"
        old = _event("M-2", "QualifiedLead", days_ago=8, email_sha256=EMAIL)
        assert uploader.too_old(old, NOW) is not None
        result = uploader.upload(target, [old])[0]
        assert result.status == "rejected" and "7 days" in (result.error or "")
        assert len(meta.counted) == 1


def test_linkedin_conversions_api_per_event_answers_and_dedup() -> None:
    with FakeLinkedInConversions({RULE}, now=lambda: NOW) as linkedin:
        uploader = LinkedInConversionUploader.from_options(linkedin.url, "202608", None, 10.0, lambda: NOW)
        target = UploadTarget("acme-li", "5001", {"access_token": "TOKEN"})
        good = _event("N-1", RULE, li_fat_id="fat-1", email_sha256=EMAIL, value=Decimal("1200.50"), currency="USD")
        unknown_rule = _event("N-2", "urn:lla:llaPartnerConversion:1", li_fat_id="fat-2")
        results = uploader.upload(target, [good, unknown_rule])
        assert [r.status for r in results] == ["uploaded", "rejected"]
        uploader.upload(target, [good])
        assert list(linkedin.counted) == [(RULE, good.event_id, "")]
        body = linkedin.counted[(RULE, good.event_id, "")]
        assert body["conversionValue"] == {"currencyCode": "USD", "amount": "1200.50"}
        assert {u["idType"] for u in body["user"]["userIds"]} == {"SHA256_EMAIL",
                                                                  "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID"}
        assert uploader.too_old(_event("N-3", RULE, li_fat_id="f", days_ago=91), NOW) is not None
        assert uploader.too_old(_event("N-4", RULE), NOW) is not None  # nothing to match on
        assert uploader.retract(target, [good], NOW)[0].status == "rejected"
