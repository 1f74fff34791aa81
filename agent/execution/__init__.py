"""Execution: applying approved actions exactly once.

The executor (drift check, guardrails, kill switch, write), settlement of writes whose outcome is
unknown, reconciliation with the platform, and recovery after a crash. Uses the decision core and
storage; knows nothing of the cycle or processes.
"""
