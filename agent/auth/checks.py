"""What `config check` warns about in the authentication settings (errors are the config's own)."""

from __future__ import annotations

from typing import Any


def auth_warnings(service: Any) -> list[str]:
    """One line per risky or deprecated `service:` setting."""
    warnings: list[str] = []
    if service.insecure_no_auth:
        warnings.append("service.insecure_no_auth is true: the dashboard, /metrics and every page are served "
                        "WITHOUT authentication to anyone who can reach the port (and any proxy in front of it)")
    if service.dashboard_token is not None:
        warnings.append("service.dashboard_token is deprecated: move it to service.api_tokens "
                        "(api_tokens: {dashboard: ${DASHBOARD_TOKEN}})")
    return warnings
