"""The decision core: what may be done, and whether.

Snapshots for the policies, the permission gate, guardrails, budget plans kept whole, additive
effects deduplicated, the permission re-check before a write. Reads and writes through storage;
knows nothing of execution, the cycle or processes.
"""
