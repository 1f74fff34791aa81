"""Alerts pushed where people work: anomalies and pacing breaches above a severity go to Slack
and/or email, deduplicated, optionally as a daily digest, never during quiet hours (held until
they end), each with a link to the console. Channels reuse the `approvals:` Slack app and SMTP."""
