"""agentwatch.agent"""
