"""`medxai bench cli`: how long the command line takes to answer `--help`, measured the way a user meets it (a new
process each time), so that the heavy imports (torch, the model registry, grpc, streamlit) stay inside the
commands that use them."""

import json
import statistics
import subprocess
import sys
import time

import typer


def help_seconds(arguments: list[str], repeats: int) -> float:
    """Median wall seconds of `medxai ARGUMENTS --help` in a new Python process, over `repeats` runs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "medxai", *arguments, "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def register(app: typer.Typer, data_app: typer.Typer, bench_app: typer.Typer) -> None:
    @bench_app.command("cli")
    def bench_cli(
        repeats: int = typer.Option(5, min=1, help="Runs per command; the median is reported."),
    ) -> None:
        """Median seconds of `medxai --help` and of each command's `--help` (a new process each), slowest first.

        Example: medxai bench cli --repeats 5
        """
        from typer.main import get_command

        root = get_command(app)
        commands = [[]]
        for name, command in root.commands.items():
            commands.append([name])
            commands += [[name, sub] for sub in getattr(command, "commands", {})]
        seconds = {" ".join(["medxai", *arguments]): round(help_seconds(arguments, repeats), 3)
                   for arguments in commands}
        slowest = dict(sorted(seconds.items(), key=lambda item: -item[1]))
        typer.echo(json.dumps({"repeats": repeats, "median_s": slowest, "max_s": max(seconds.values())}))
