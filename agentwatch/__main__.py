"""``python -m agentwatch``: the agentwatch CLI."""

from agentwatch.cli import main

main()
