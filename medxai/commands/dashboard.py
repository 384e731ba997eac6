"""`medxai dashboard`: the Streamlit dashboard (`dashboard/app.py`) on the explain service; with
`--local-stack` it starts Triton and the service from a demo folder first and stops them afterwards."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import typer


def register(app: typer.Typer, data_app: typer.Typer, bench_app: typer.Typer) -> None:
    @app.command("dashboard")
    def dashboard(
        service: str = typer.Option("127.0.0.1:50051", envvar="MEDXAI_SERVICE", help="The explain service."),
        token_file: Path = typer.Option(None, help="File holding the service's bearer token."),
        tls_ca: Path = typer.Option(None, help="CA certificate of a TLS service."),
        prometheus: str = typer.Option(None, help="Prometheus base URL; default: scrape the /metrics endpoints."),
        service_metrics: str = typer.Option(None, help="The service's /metrics URL; default: SERVICE host, port "
                                                       "9100."),
        triton_metrics: str = typer.Option(None, help="Triton's /metrics URL; default: SERVICE host, port 8002."),
        model_repository: Path = typer.Option(None, help="Triton's repository folder (each version's provenance "
                                                         "and release gate)."),
        worklist: Path = typer.Option(None, help="A labelled folder whose cases can be picked for review."),
        pacs: str = typer.Option(None, envvar="MEDXAI_DICOMWEB", help="A PACS's DICOMweb root URL whose studies can "
                                                                      "be picked for review."),
        pacs_user: str = typer.Option(None, envvar="MEDXAI_DICOMWEB_USER", help="HTTP basic-auth user of the PACS."),
        pacs_password_file: Path = typer.Option(None, envvar="MEDXAI_DICOMWEB_PASSWORD_FILE",
                                                help="File holding its password."),
        pacs_audit_log: Path = typer.Option(None, envvar="MEDXAI_PACS_AUDIT_LOG",
                                            help="The PACS gateway's audit trail (its --audit-log): images it did "
                                                 "not explain are listed with the reason."),
        ratings_db: Path = typer.Option(Path("ratings.sqlite"), help="SQLite file of the trust ratings."),
        port: int = typer.Option(8501, help="The dashboard's HTTP port."),
        address: str = typer.Option("127.0.0.1", help="Address the dashboard listens on."),
        local_stack: bool = typer.Option(False, help="Start Triton + the service from WORKDIR (`medxai stack up`) "
                                                     "and stop them when the dashboard stops; a stack already "
                                                     "running there is used and left running, with its test "
                                                     "PACS if `stack up --pacs` started one."),
        workdir: Path = typer.Option(Path("demo"), help="With --local-stack: the folder of `medxai demo`."),
    ) -> None:
        """Serve the review dashboard: case review, trust ratings, agreement report, monitoring, models.

        Example: medxai dashboard --local-stack --workdir demo --ratings-db demo/ratings.sqlite
        """
        from importlib.util import find_spec

        from dashboard.settings import DashboardSettings
        from medxai.commands.stack import STATE_FILE, StackPorts, process_alive, stack_down, stack_up
        from medxai.errors import UserError
        from medxai.triton_server import free_port

        for path in (token_file, tls_ca, pacs_password_file):
            if path is not None and not path.is_file():
                raise UserError(f"file not found: {path}")
        for folder in (model_repository, worklist):
            if folder is not None and not folder.is_dir():
                raise UserError(f"folder not found: {folder}")
        started = False
        if local_stack:
            state_path = workdir / STATE_FILE
            state = json.loads(state_path.read_text()) if state_path.is_file() else None
            if state is None or not all(process_alive(state[name]["pid"]) for name in ("triton", "service")):
                typer.echo(f"starting Triton and the explain service from {workdir} ...", err=True)
                state = stack_up(workdir, None, "medxai", StackPorts(*(free_port() for _ in range(5))))
                started = True
            service, service_metrics = state["service"]["address"], state["service"]["metrics"]
            triton_metrics = state["triton"]["metrics"]
            model_repository = model_repository or Path(state["repository"])
            worklist = worklist or (workdir / "data" if (workdir / "data" / "labels.csv").is_file() else None)
            if pacs is None and "pacs" in state:  # `stack up --pacs`: its test PACS is the worklist's PACS
                pacs, pacs_user = state["pacs"]["dicomweb"], state["pacs"]["user"]
                pacs_password_file = Path(state["pacs"]["password_file"])
        settings = DashboardSettings(service=service, token_file=token_file, tls_ca=tls_ca, prometheus=prometheus,
                                     service_metrics=service_metrics, triton_metrics=triton_metrics,
                                     model_repository=model_repository, worklist=worklist,
                                     ratings_db=ratings_db.resolve(), pacs=pacs, pacs_user=pacs_user,
                                     pacs_password_file=pacs_password_file.resolve() if pacs_password_file else None,
                                     pacs_audit_log=pacs_audit_log.resolve() if pacs_audit_log else None)
        app_path = find_spec("dashboard.app").origin  # located, not imported: it is a Streamlit script
        command = [sys.executable, "-m", "streamlit", "run", app_path, "--server.port", str(port),
                   "--server.address", address, "--server.headless", "true", "--browser.gatherUsageStats", "false",
                   "--client.toolbarMode", "viewer"]
        typer.echo(f"dashboard on http://{address}:{port} (service {service}, ratings {settings.ratings_db})",
                   err=True)
        streamlit = subprocess.Popen(command, env=os.environ | settings.to_env())
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops the stack too, as Ctrl-C does
        try:
            code = streamlit.wait()
        except KeyboardInterrupt:
            streamlit.terminate()
            code = streamlit.wait()
        finally:
            if started:
                stack_down(workdir)
        raise typer.Exit(code)
