"""`python -m agent` is the same as `paid-media-agent`."""

from agent.cli import main

main()
