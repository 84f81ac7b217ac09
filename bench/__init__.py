"""agentwatch.bench"""
