"""Autoscaling the agent: the HPA controller's algorithm, its replay (``agentwatch hpa-sim``) and a
closed-loop lab with real agent processes (``agentwatch lab``).

Modules: ``hpa`` (the controller's decision), ``manifest`` (an ``autoscaling/v2`` HPA from YAML),
``load`` (the load CSV), ``sim`` (replay), ``coldstart`` (the measured cold start).
"""
