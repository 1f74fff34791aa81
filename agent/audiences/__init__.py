"""First-party audiences kept in step with CRM segments: the `sync_audience` action (docs/audiences.md)."""
