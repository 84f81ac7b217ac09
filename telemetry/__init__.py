"""agentwatch.telemetry"""
