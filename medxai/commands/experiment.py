"""`medxai experiment`: the paper's tables recomputed from one TOML config."""

import json
from pathlib import Path

import typer


def register(app: typer.Typer, data_app: typer.Typer, bench_app: typer.Typer) -> None:
    @app.command("experiment")
    def experiment(
        config: Path = typer.Argument(..., help="Experiment TOML (see experiments/)."),
        profile: str = typer.Option("cpu", help="cpu (sized for a small machine) or gpu (the paper's settings)."),
        out: Path = typer.Option(None, help="Report folder (default: reports/NAME)."),
        work: Path = typer.Option(None, help="Checkpoints and finished folds, reused on rerun "
                                             "(default: runs/experiments/NAME-PROFILE)."),
    ) -> None:
        """k-fold training of ours and the baselines, explanation quality, the paper's ablations and paired tests;
        writes report.md, CSV/JSON of every number and figures. Finished folds are not trained again.

        Example: medxai experiment experiments/xray_phantoms.toml --profile cpu --out reports/xray_phantoms
        """
        from training.experiment import run_experiment
        from training.experiment_config import load_experiment
        from training.experiment_report import write_report
        chosen = load_experiment(config, profile)
        out = out or Path("reports") / chosen.name
        work = work or Path("runs") / "experiments" / f"{chosen.name}-{profile}"
        run = run_experiment(chosen, work)
        report = write_report(run, out, f"medxai experiment {config} --profile {profile} --out {out}")
        typer.echo(json.dumps({"report": str(report), "work": str(work)}))
