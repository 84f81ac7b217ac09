"""agentwatch.alerts"""
