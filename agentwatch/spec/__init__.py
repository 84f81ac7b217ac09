"""The agentwatch spec (``agentwatch.yaml``): pydantic models, loading and foreign imports.

Usage::

    from agentwatch.spec import load_spec, SpecError
    spec = load_spec("agentwatch.yaml")
"""

from agentwatch.spec.loader import Issue, SpecError, load_spec, parse_spec
from agentwatch.spec.model import SLI, SLO, Spec

__all__ = ["SLI", "SLO", "Issue", "Spec", "SpecError", "load_spec", "parse_spec"]
