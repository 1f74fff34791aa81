"""Bounds of the fuzz tests: a few hundred examples inside `make test`, more with FUZZ_MAX_EXAMPLES=N
(`make fuzz`)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "200"))
bounded = settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
