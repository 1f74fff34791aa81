"""Meta connector (facebook-business SDK, Graph API v26.0). Entry point: `connectors.meta:MetaConnector`."""

from connectors.meta.connector import MetaConnector

__all__ = ["MetaConnector"]
