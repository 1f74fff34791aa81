"""Meta connector (facebook-business SDK, Graph API v26.0). Entry point: `connectors.meta.connector:MetaConnector`;
its account spec, which loads no SDK: `connectors.meta.spec`."""
