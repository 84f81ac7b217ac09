"""The agentwatch spec (``agentwatch.yaml``): pydantic models, loading and foreign imports."""
