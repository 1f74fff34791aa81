"""Backtests on the simulator: the reference arms and their measurement (`arms`), and the agent arm
driven through the daemon's own cycle (`cycle_arm`)."""
