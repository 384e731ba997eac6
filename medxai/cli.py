"""The `medxai` command line: one Typer app, one module per command group under `medxai.commands`.

User errors (`UserError`, missing files, bad options, and a path the system cannot read or write: an `OSError`
with a file name) end in one clear line on stderr and exit code 2; an
input a viewer would still show (`DecodeWarning`) is one warning line on stderr.
"""

import os
import sys
import warnings

import typer
from rich.console import Console

from medxai.errors import UserError

# Click's plain help, not Typer's rich panels: at 80 columns the panels squeezed each option's help into a
# column 15 characters wide and cut long option names ("--region-remova…"); every group below inherits this.
app = typer.Typer(help="Explainable medical image diagnosis: train, explain, export, serve.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False, rich_markup_mode=None)
data_app = typer.Typer(help="Make or inspect data.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks (print one JSON object as their last line).", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(bench_app, name="bench")

stderr = Console(stderr=True)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version
        try:
            typer.echo(f"medxai {version('medxai')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            typer.echo("medxai (not installed: no version)")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                          help="Print medxai's version and exit.")) -> None:
    pass


def _register_commands() -> None:
    """Every command group. Each imports what its commands need (torch, the model registry, grpc, streamlit)
    inside the commands, so that `medxai --help` and every `--help` answer at once (`medxai bench cli`)."""
    from medxai.commands import (cli_speed, dashboard, data, demo, experiment, explain, k8s, pacs, scope, service,
                                 serving, stack, train)
    for module in (data, train, scope, explain, demo, serving, service, stack, experiment, k8s, dashboard, pacs,
                   cli_speed):
        module.register(app, data_app=data_app, bench_app=bench_app)


_register_commands()


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Decode warnings as one line for the user; any other warning as Python shows it."""
    from medxai.data.values import DecodeWarning
    if issubclass(category, DecodeWarning):
        stderr.print(f"[bold yellow]warning:[/] {message}", highlight=False, soft_wrap=True)
    else:
        _python_show_warning(message, category, filename, lineno, file, line)


_python_show_warning = warnings.showwarning


def main() -> None:
    """Console-script entry: Click handles usage errors (exit 2); user errors become one line and exit 2."""
    warnings.showwarning = _show_warning
    try:
        app()
    except UserError as exc:
        stderr.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except OSError as exc:  # a path the user gave that cannot be written or read (exists, no folder, permission)
        if exc.filename is None or os.environ.get("MEDXAI_DEBUG"):
            raise
        stderr.print(f"[bold red]error:[/] {exc.strerror or type(exc).__name__}: {exc.filename}"
                     " (MEDXAI_DEBUG=1 shows where)", highlight=False, soft_wrap=True)
        sys.exit(2)
