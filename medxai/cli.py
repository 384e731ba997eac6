"""The `medxai` command line: one Typer app, one module per command group under `medxai.commands`.

User errors (`UserError`, missing files, bad options) end in one clear line on stderr and exit code 2.
"""

import sys

import typer
from rich.console import Console

from medxai.errors import UserError

app = typer.Typer(help="Explainable medical image diagnosis: train, explain, export, serve.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
data_app = typer.Typer(help="Make or inspect data.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks (print one JSON object as their last line).", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(bench_app, name="bench")

stderr = Console(stderr=True)


def _register_commands() -> None:
    from medxai.commands import dashboard, data, demo, experiment, explain, k8s, pacs, service, serving, train
    for module in (data, train, explain, demo, serving, service, experiment, k8s, dashboard, pacs):
        module.register(app, data_app=data_app, bench_app=bench_app)


_register_commands()


def main() -> None:
    """Console-script entry: Click handles usage errors (exit 2); user errors become one line and exit 2."""
    try:
        app()
    except UserError as exc:
        stderr.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
