"""Google Ads connector (google-ads SDK, API v26). Entry point: `connectors.google_ads.connector:GoogleAdsConnector`;
its account spec, which loads no SDK: `connectors.google_ads.spec`."""
