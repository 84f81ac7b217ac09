"""agentwatch.dashboards"""
