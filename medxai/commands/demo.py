"""`medxai demo`: the main job end to end on the embedded default (phantom data), with a report at the end."""

import json
import time
from pathlib import Path

import typer
from rich.console import Console


def register(app: typer.Typer, data_app: typer.Typer, bench_app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        workdir: Path = typer.Option(Path("demo"), help="Folder for data, run, evaluation and report."),
        model: str = typer.Option("resnet18_attention", help="Architecture (resnet50_attention for the paper's)."),
        image_size: int = typer.Option(96), epochs: int = typer.Option(20), n: int = typer.Option(300),
        alpha_exp: float = typer.Option(0.2, help="Weight of the explanation-consistency loss."),
    ) -> None:
        """Phantoms -> training with L_cls + alpha L_exp -> evaluation on the held-out split -> report.

        Example: medxai demo --workdir demo
        """
        from medxai.data.phantoms import make_phantoms
        from training.evaluate import evaluate
        from training.trainer import TrainConfig, train

        console = Console(stderr=True)
        timings: dict[str, float] = {}

        def step(name: str):
            console.rule(name)
            timings[name] = time.perf_counter()

        step("phantoms")
        data = make_phantoms(workdir / "data", "xray", n=n, seed=0, size=128)
        step("train")
        train(TrainConfig(data=str(data), out=str(workdir / "run"), model=model, image_size=image_size,
                          epochs=epochs, lr=1e-3, alpha_exp=alpha_exp))
        step("evaluate")
        metrics = evaluate(workdir / "run" / "best.pt", data, workdir / "evaluation", split="test")
        timings["end"] = time.perf_counter()
        names = list(timings)
        seconds = {name: round(timings[after] - timings[name], 1) for name, after in zip(names, names[1:])}
        report = {"data": str(data), "checkpoint": str(workdir / "run" / "best.pt"),
                  "held_out": {k: metrics[k] for k in ("accuracy", "auc", "precision", "recall", "f1")},
                  "explanations": metrics.get("explanations", {}), "seconds": seconds}
        (workdir / "report.json").write_text(json.dumps(report, indent=2))
        console.print_json(json.dumps(report))
        console.print(f"report: {workdir / 'report.json'}; evaluation: {workdir / 'evaluation' / 'metrics.json'}")
