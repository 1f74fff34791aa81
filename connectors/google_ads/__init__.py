"""Google Ads connector (google-ads SDK, API v26). Entry point: `connectors.google_ads:GoogleAdsConnector`."""

from connectors.google_ads.connector import GoogleAdsConnector

__all__ = ["GoogleAdsConnector"]
