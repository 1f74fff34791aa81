"""Human decisions on the action queue, whatever the channel (CLI, Slack, email)."""
