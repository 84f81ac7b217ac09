"""The ``agentwatch`` command: one entry point for every tool in the project.

Each ``agentwatch.commands`` module adds its commands to the apps below when imported, so the
modules stay small and independent.
"""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    name="agentwatch",
    help="Observability, SLOs and autoscaling for AI-agent deployments.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
generate_app = typer.Typer(help="Generate artefacts (rules, dashboards, manifests) from the spec.",
                           no_args_is_help=True)
import_app = typer.Typer(help="Convert a foreign SLO spec (Sloth, OpenSLO) to an agentwatch spec.",
                         no_args_is_help=True)
dashboards_app = typer.Typer(help="Work with the generated Grafana dashboards.", no_args_is_help=True)
app.add_typer(generate_app, name="generate")
app.add_typer(import_app, name="import")
app.add_typer(dashboards_app, name="dashboards")


@app.command()
def version() -> None:
    """Print the agentwatch version."""
    from agentwatch import __version__

    typer.echo(__version__)


@generate_app.command("all")
def generate_all(
    spec: str = typer.Option("agentwatch.yaml", "--spec", help="The agentwatch spec file."),
) -> None:
    """Regenerate every committed artefact (rules, alert tests, dashboards, compose, k8s, README
    catalogue table) from the spec."""
    from agentwatch.alerts import write_all as write_rules
    from agentwatch.commands.spec import write_artefacts
    from agentwatch.compose import write_compose
    from agentwatch.dashboards import write_all as write_dashboards
    from agentwatch.docs import write_readme
    from agentwatch.k8s import write_all as write_k8s

    spec_dir = Path(spec).parent
    write_artefacts(lambda: (*write_rules(spec), *write_dashboards(spec), *write_compose(spec), *write_k8s(spec),
                             *write_readme(spec_dir / "README.md")))


def _register_commands() -> None:
    # Imported for their side effect: each module adds its commands to the apps above.
    from agentwatch.commands import compose, dashboards, hpa_sim, k8s, lab, rules, serve, spec  # noqa: F401

    app.registered_commands += hpa_sim.app.registered_commands + lab.app.registered_commands


def main() -> None:
    _register_commands()
    app()


if __name__ == "__main__":
    # Under `python -m agentwatch.cli` this file is `__main__`, a second module object: the
    # command modules register on `agentwatch.cli.app`, so run that one.
    from agentwatch.cli import main as _main

    _main()
