"""`medxai stack up/down`: a local Triton on an exported repository plus the explain service (and, with `--pacs`,
the test PACS), for a laptop or a demo.

Composing export, Triton, the service and the PACS is the command line's job (it alone knows every component),
so it lives here, not in any of them. Each server runs as its own detached process (`medxai triton serve`,
`medxai serve`, `medxai pacs test-server`); their pids and addresses go to `<workdir>/stack.json`, which `down`
reads to stop them.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import typer

from medxai.errors import UserError

STATE_FILE = "stack.json"
STOP_TIMEOUT_S = 40.0
PACS_FOLDER = "pacs"
"""The test PACS's configuration, storage and password, under the stack's workdir."""
SERVERS = ("service", "triton", "pacs")
"""What `down` stops, in this order (the service before the Triton it calls)."""


@dataclass
class StackPorts:
    triton_http: int = 8000
    triton_grpc: int = 8001
    triton_metrics: int = 8002
    service: int = 50051
    service_metrics: int = 9100


PORT_OPTIONS = {"triton_http": "--triton-http-port", "triton_grpc": "--triton-grpc-port",
                "triton_metrics": "--triton-metrics-port", "service": "--port", "service_metrics": "--metrics-port"}


def ensure_exported(checkpoint: Path, repository: Path, model: str, force: bool) -> None:
    """Export `checkpoint` (CPU target) unless the newest version of `model` already is that checkpoint
    (Triton serves the newest version only)."""
    from export.release import export_checkpoint
    from export.repository import existing_versions
    from export.spec import PROVENANCE_FILE
    from medxai.checkpoint import checkpoint_sha256
    versions = existing_versions(repository / model)
    if versions:
        provenance = repository / model / str(versions[-1]) / PROVENANCE_FILE
        if provenance.is_file() and \
                json.loads(provenance.read_text()).get("checkpoint_sha256") == checkpoint_sha256(checkpoint):
            return
    export_checkpoint(checkpoint, repository, model, target="cpu", enforce_gate=not force)


def process_alive(pid: int) -> bool:
    """Whether a process with this pid exists (ours or not)."""
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _spawn(arguments: list[str], log: Path) -> subprocess.Popen:
    """`python -m medxai ...` in its own session (a terminal's Ctrl-C does not reach it), output to `log`."""
    with open(log, "ab") as handle:
        return subprocess.Popen([sys.executable, "-m", "medxai", *arguments], stdout=handle,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)


def _wait(ready: Callable[[], bool], process: subprocess.Popen, what: str, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise UserError(f"{what} exited with code {process.returncode} while starting: {tail[0]} (log: {log})")
        if ready():
            return
        time.sleep(0.5)
    _stop(process.pid)
    raise UserError(f"{what} was not ready within {timeout_s:.0f} s (log: {log})")


def _triton_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _pacs_ready(info_file: Path) -> bool:
    """`medxai pacs test-server` writes its pacs.json once Orthanc answers with the credentials."""
    try:
        return "dicomweb" in json.loads(info_file.read_text())
    except (OSError, ValueError):
        return False


def _check_ports_free(ports: StackPorts) -> None:
    """Say which port is taken, and which option moves it, before starting anything."""
    for name, option in PORT_OPTIONS.items():
        port = getattr(ports, name)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                raise UserError(f"port {port} ({name.replace('_', ' ')}) is busy: pick another with {option}") \
                    from None


def stack_up(workdir: Path, checkpoint: Path | None, model: str, ports: StackPorts, force: bool = False,
             timeout_s: float = 300.0, pacs: bool = False) -> dict:
    """Export if needed, start Triton, then the service, then (with `pacs`) the test PACS on free loopback ports;
    wait until each is ready; write and return the state."""
    from explain_service.client import service_serving
    from medxai.triton_server import free_port
    from pacs import orthanc

    workdir = workdir.resolve()
    state_path = workdir / STATE_FILE
    if state_path.is_file() and any(process_alive(entry["pid"]) for entry in json.loads(state_path.read_text()).values()
                                    if isinstance(entry, dict) and "pid" in entry):
        raise UserError(f"a stack is already running from {workdir}: run `medxai stack down --workdir {workdir}` first")
    checkpoint = (checkpoint or workdir / "run" / "best.pt").resolve()
    if not checkpoint.is_file():
        raise UserError(f"no checkpoint at {checkpoint}: run `medxai demo --workdir {workdir}` or pass --checkpoint")
    _check_ports_free(ports)
    if pacs and (reason := orthanc.missing()) is not None:
        raise UserError(f"no test PACS: {reason}")
    repository = workdir / "model_repository"
    ensure_exported(checkpoint, repository, model, force)

    address = f"127.0.0.1:{ports.service}"
    state = {"triton": {"grpc": f"127.0.0.1:{ports.triton_grpc}", "http": f"127.0.0.1:{ports.triton_http}",
                        "metrics": f"http://127.0.0.1:{ports.triton_metrics}/metrics",
                        "log": str(workdir / "triton.log")},
             "service": {"address": address, "metrics": f"http://127.0.0.1:{ports.service_metrics}/metrics",
                         "log": str(workdir / "service.log")},
             "model": model, "checkpoint": str(checkpoint), "repository": str(repository),
             "audit_log": str(workdir / "audit.jsonl")}
    started: list[subprocess.Popen] = []

    def launch(name: str, arguments: list[str]) -> subprocess.Popen:
        """Start one server and put its pid on disk before anything waits for it."""
        process = _spawn(arguments, Path(state[name]["log"]))
        started.append(process)
        state[name]["pid"] = process.pid
        state_path.write_text(json.dumps(state, indent=2))
        return process

    try:  # an interrupt (Ctrl-C) or a failed start leaves nothing running and no state file
        triton = launch("triton", ["triton", "serve", "--repository", str(repository), "--http-port",
                                   str(ports.triton_http), "--grpc-port", str(ports.triton_grpc), "--metrics-port",
                                   str(ports.triton_metrics), "--log-file", str(workdir / "tritonserver.log")])
        _wait(lambda: _triton_ready(ports.triton_http), triton, "tritonserver", workdir / "triton.log", timeout_s)
        service = launch("service", ["serve", "--checkpoint", str(checkpoint), "--triton-url",
                                     f"127.0.0.1:{ports.triton_grpc}", "--model", model, "--port", str(ports.service),
                                     "--metrics-port", str(ports.service_metrics), "--audit-log",
                                     str(workdir / "audit.jsonl")])
        _wait(lambda: service_serving(address), service, "explain service", workdir / "service.log", timeout_s)
        if pacs:
            folder, http_port, dicom_port = workdir / PACS_FOLDER, free_port(), free_port()
            info_file = folder / "pacs.json"
            info_file.unlink(missing_ok=True)  # a previous run's: readiness is the new one appearing
            state["pacs"] = {"dicomweb": f"http://127.0.0.1:{http_port}/dicom-web", "user": orthanc.USER,
                             "password_file": str(folder / orthanc.PASSWORD_FILE),
                             "dicom": f"{orthanc.AE_TITLE}@127.0.0.1:{dicom_port}", "log": str(workdir / "pacs.log")}
            server = launch("pacs", ["pacs", "test-server", "--workdir", str(folder), "--http-port", str(http_port),
                                     "--dicom-port", str(dicom_port)])
            _wait(lambda: _pacs_ready(info_file), server, "test PACS", workdir / "pacs.log", timeout_s)
    except BaseException:  # KeyboardInterrupt (Ctrl-C) included
        for process in reversed(started):
            _stop(process.pid)
        state_path.unlink(missing_ok=True)
        raise
    return state


def _stop(pid: int) -> None:
    """SIGTERM (each server finishes in-flight requests), SIGKILL after STOP_TIMEOUT_S."""
    if not process_alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:  # not our child (a later `stack down`): poll instead
            if not process_alive(pid):
                return
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)


def stack_down(workdir: Path) -> list[str]:
    """Stop the service, then Triton, then the test PACS if one runs; returns what was stopped."""
    state_path = workdir.resolve() / STATE_FILE
    if not state_path.is_file():
        raise UserError(f"no running stack in {workdir} ({STATE_FILE} not found)")
    state = json.loads(state_path.read_text())
    stopped = []
    for name in SERVERS:
        if "pid" in state.get(name, {}) and process_alive(state[name]["pid"]):
            _stop(state[name]["pid"])
            stopped.append(f"{name} (pid {state[name]['pid']})")
    state_path.unlink()
    return stopped


def register(app: typer.Typer, data_app: typer.Typer, bench_app: typer.Typer) -> None:
    stack_app = typer.Typer(help="A local Triton plus the explain service (and a test PACS), for a laptop or a "
                                 "demo.", no_args_is_help=True)
    app.add_typer(stack_app, name="stack")

    @stack_app.command("up")
    def up(
        workdir: Path = typer.Option(Path("demo"), help="Folder with run/best.pt (from medxai demo); the repository, "
                                                        "logs, audit trail and stack.json go here."),
        checkpoint: Path = typer.Option(None, help="Checkpoint to serve; default: WORKDIR/run/best.pt."),
        model: str = typer.Option("medxai", help="Model name in Triton."),
        port: int = typer.Option(50051), metrics_port: int = typer.Option(9100),
        triton_http_port: int = typer.Option(8000), triton_grpc_port: int = typer.Option(8001),
        triton_metrics_port: int = typer.Option(8002),
        force: bool = typer.Option(False, help="Export even when the release gate refuses the model."),
        pacs: bool = typer.Option(False, help="Also start the test PACS (Orthanc with DICOMweb, as `medxai pacs "
                                              "test-server`) in WORKDIR/pacs on free loopback ports."),
    ) -> None:
        """Export the checkpoint if needed, start Triton and the explain service (and the test PACS), wait until
        each is ready.

        Example: medxai stack up --workdir demo --pacs
        """
        state = stack_up(workdir, checkpoint, model, StackPorts(triton_http_port, triton_grpc_port,
                                                                triton_metrics_port, port, metrics_port),
                         force, pacs=pacs)
        typer.echo(f"explain service: {state['service']['address']} (metrics {state['service']['metrics']})")
        typer.echo(f"triton: gRPC {state['triton']['grpc']}, HTTP {state['triton']['http']} "
                   f"(metrics {state['triton']['metrics']})")
        if "pacs" in state:
            typer.echo(f"test PACS: DICOMweb {state['pacs']['dicomweb']}, user {state['pacs']['user']}, password in "
                       f"{state['pacs']['password_file']} (DICOM {state['pacs']['dicom']})")
        typer.echo(f"stop with: medxai stack down --workdir {workdir}")

    @stack_app.command("down")
    def down(workdir: Path = typer.Option(Path("demo"), help="The folder `stack up` used.")) -> None:
        """Stop the explain service, Triton and the test PACS started by `medxai stack up`.

        Example: medxai stack down --workdir demo
        """
        stopped = stack_down(workdir)
        typer.echo(f"stopped: {', '.join(stopped) or 'nothing was running'}")
