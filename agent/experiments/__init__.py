"""Randomized holdouts of the agent's own actions and the estimate of what they earned.

`assign.py` draws the arm at gate time, `store.py` keeps the draws, `panel.py` reads each entity's
outcome before and after, and `policies/impact.py` estimates the effect (docs/experiments.md).
"""
