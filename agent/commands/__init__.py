"""CLI command groups, registered by agent/cli.py."""
