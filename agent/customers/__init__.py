"""CRM segments: customer lists, segment membership, privacy (retention and erasure)."""
