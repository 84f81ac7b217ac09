"""agentwatch.agent: the traced reference customer-service agent.

``create_app`` (``agentwatch.agent.app``) builds the FastAPI app; ``agentwatch serve`` runs it.
Modules: ``settings`` (environment), ``state`` (Redis), ``model`` + ``intents.yaml`` (MiniLM
intents), ``batcher`` (dynamic batching), ``generator`` (optional causal LM), ``dialogue``
(replies, escalation), ``faults`` (fault injection), ``service`` (one message, end to end),
``middleware`` + ``errors`` (the HTTP error contract), ``startup``, ``server``.
Kept import-light: importing a submodule does not load torch unless that module needs it.
"""
