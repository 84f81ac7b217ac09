"""agentwatch: observability, SLOs and autoscaling for AI-agent deployments."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("agentwatch")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
