"""LinkedIn connector (Marketing API over httpx). Entry point: `connectors.linkedin.connector:LinkedInConnector`;
its account spec: `connectors.linkedin.spec`."""
