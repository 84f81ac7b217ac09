"""CLI command modules: each owns a typer ``app``; ``agentwatch.cli`` composes them."""
