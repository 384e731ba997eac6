"""`medxai demo`: the main job end to end on the embedded default (phantom data): train, evaluate, explain,
export, serve on a local Triton with the explain service, ask it for one explanation, report."""

import json
import time
from pathlib import Path

import typer
from rich.console import Console


def register(app: typer.Typer, data_app: typer.Typer, bench_app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        workdir: Path = typer.Option(Path("demo"), help="Folder for data, run, evaluation, maps, serving and report."),
        model: str = typer.Option("resnet18_attention", help="Architecture (resnet50_attention for the paper's)."),
        image_size: int = typer.Option(96), epochs: int = typer.Option(20), n: int = typer.Option(300),
        alpha_exp: float = typer.Option(0.2, help="Weight of the explanation-consistency loss."),
        explained_images: int = typer.Option(16, help="Held-out images whose explanations are scored."),
        serve: bool = typer.Option(True, help="Export, start Triton + the explain service, send one request."),
    ) -> None:
        """Phantoms -> training with L_cls + alpha L_exp -> held-out evaluation (with explanation quality) ->
        explanation of one held-out image -> export -> Triton + explain service -> one streamed request -> report.

        Example: medxai demo --workdir demo
        """
        from medxai.data import load_dataset
        from medxai.data.phantoms import make_phantoms
        from medxai.explain.pipeline import DEFAULT_METHODS
        from medxai.explain.report import explain_file
        from medxai.precision import hardware
        from training.evaluate import evaluate
        from training.trainer import TrainConfig, train

        console = Console(stderr=True)
        timings: dict[str, float] = {}

        def step(name: str):
            console.rule(name)
            timings[name] = time.perf_counter()

        step("phantoms")
        data = make_phantoms(workdir / "data", "xray", n=n, seed=0, size=128)
        console.print(f"{n} x-ray phantoms of 128 px with their nodules' masks in {data}", highlight=False)
        step("train")
        train(TrainConfig(data=str(data), out=str(workdir / "run"), model=model, image_size=image_size,
                          epochs=epochs, lr=1e-3, alpha_exp=alpha_exp))
        checkpoint = workdir / "run" / "best.pt"
        step("evaluate")
        metrics = evaluate(checkpoint, data, workdir / "evaluation", split="test", max_explained=explained_images)
        console.print(f"held-out test split: accuracy {metrics['accuracy']:.3f}, AUC {metrics['auc']:.3f} "
                      f"({workdir / 'evaluation'})", highlight=False)
        step("explain")
        image = _in_scope_image(checkpoint, [r.source for r in load_dataset(data).records if r.split == "test"])
        explained = explain_file(checkpoint, image, workdir / "explained", list(DEFAULT_METHODS))
        console.print(f"{Path(image).name}: {explained['prediction']['class']}; {', '.join(explained['methods'])} "
                      f"maps in {workdir / 'explained'}", highlight=False)
        served = None
        if serve:
            step("export + serve + request")
            served = _serve_and_ask(workdir, image, console)
        timings["end"] = time.perf_counter()
        names = list(timings)
        seconds = {name: round(timings[after] - timings[name], 1) for name, after in zip(names, names[1:])}
        report = {"data": str(data), "checkpoint": str(checkpoint),
                  "held_out": {k: metrics[k] for k in ("accuracy", "auc", "precision", "recall", "f1")},
                  "explanations": metrics.get("explanations", {}),
                  "explained_image": {"image": str(image), "prediction": explained["prediction"]["class"],
                                      "maps": str(workdir / "explained"),
                                      "seconds": {k: m["seconds"] for k, m in explained["methods"].items()}},
                  "served": served, "seconds": seconds, "hardware": hardware("cpu")}
        (workdir / "report.json").write_text(json.dumps(report, indent=2))
        console.rule("summary")
        for line in summary_lines(report):
            console.print(line, soft_wrap=True, highlight=False)
        console.print(f"report: {workdir / 'report.json'}; evaluation: {workdir / 'evaluation' / 'metrics.json'}; "
                      f"maps: {workdir / 'explained'}", soft_wrap=True)  # paths are not broken across lines
        if serve:
            console.print(f"serve it again with: medxai stack up --workdir {workdir}", soft_wrap=True)
            console.print(f"review it in the dashboard: medxai dashboard --local-stack --workdir {workdir} "
                          f"--ratings-db {workdir / 'ratings.sqlite'}", soft_wrap=True)


def summary_lines(report: dict) -> list[str]:
    """What the demo's last screen says of its report (the whole of it is in report.json, which it used to print
    there, burying the gate's verdict and the streamed maps above 180 lines of JSON)."""
    held, fused = report["held_out"], report["explanations"].get("fusion")
    lines = [f"held-out phantoms: accuracy {held['accuracy']:.3f}, AUC {held['auc']:.3f}"]
    if fused:
        lines.append(f"default fused map on {fused['images']} of them: pointing game {fused['pointing_game']:.3f}, "
                     f"top-area IoU {fused['iou']:.3f}, deletion AUC {fused['deletion_auc']:.3f} (lower is better)")
    served = report["served"]
    if served:
        refusals = served["gate"]["refusals"]
        verdict = "passed" if not refusals else "released with warnings: " + "; ".join(refusals)
        lines.append(f"release gate: {verdict}")
        arrivals = ", ".join(f"{method} {seconds:.2f} s" for method, seconds in served["received_after_s"].items())
        lines.append(f"served: predicted {served['prediction']} (prediction set: "
                     f"{', '.join(served['prediction_set']) or '-'}); maps streamed after {arrivals}")
        if served.get("out_of_scope_example"):
            lines.append(f"served, a vertebra CT (pydicom's CT_small.dcm): {served['out_of_scope_example']}")
    lines.append("seconds: " + ", ".join(f"{step} {seconds}" for step, seconds in report["seconds"].items()))
    return lines


def _in_scope_image(checkpoint: Path, images: list[Path]) -> Path:
    """The first of `images` within the model's intended use (about 1 in 100 of its own kind is not)."""
    from training.evaluate import predict
    answers = predict(checkpoint, images[:16])
    return next((Path(a["image"]) for a in answers if a.get("scope", {}).get("in_scope")), Path(images[0]))


def _out_of_scope_example(address: str) -> str:
    """What the service answers for pydicom's vertebra CT (a file pydicom ships): the reason it is refused, or
    the diagnosis it gave."""
    from pydicom.data import get_testdata_file

    from explain_service.client import channel
    from explain_service.protos import explain_pb2 as pb
    from explain_service.protos import explain_pb2_grpc as pb_grpc
    with channel(address) as open_channel:
        reply = pb_grpc.ExplainServiceStub(open_channel).Predict(
            pb.PredictRequest(image=pb.Image(encoded=Path(get_testdata_file("CT_small.dcm")).read_bytes())),
            timeout=60)
    scope = reply.prediction.scope
    if not scope.in_scope:
        return f"not assessed: {scope.reason}"
    top = max(reply.prediction.probabilities, key=lambda p: p.probability)
    return f"answered {top.name} {top.probability:.0%} (the detector did not refuse it)"


def _serve_and_ask(workdir: Path, image: Path, console: Console) -> dict:
    """Export to a Triton repository, start Triton and the explain service on free ports, stream one
    explanation through them, stop both; returns what came back."""
    from explain_service.client import explain_to_folder
    from medxai.commands.stack import StackPorts, stack_down, stack_up
    from medxai.explain.pipeline import DEFAULT_METHODS
    from medxai.triton_server import free_port

    ports = StackPorts(*(free_port() for _ in range(5)))
    state = stack_up(workdir, None, "medxai", ports)
    try:
        console.print(f"Triton on {state['triton']['grpc']}, explain service on {state['service']['address']}")
        summary = explain_to_folder(state["service"]["address"], Path(image), workdir / "served",
                                    list(DEFAULT_METHODS), log=console.print)
        example = _out_of_scope_example(state["service"]["address"])
    finally:
        stack_down(workdir)
    provenance = json.loads((Path(state["repository"]) / "medxai" / str(summary["model"]["version"]) /
                             "provenance.json").read_text())
    return {"request_id": summary["request_id"], "prediction": summary["predicted"], "model": summary["model"],
            "prediction_set": summary["scope"]["prediction_set"], "out_of_scope_example": example,
            "maps": str(workdir / "served"), "received_after_s": {m["method"]: m["received_after_s"]
                                                                   for m in summary["maps"]},
            "repository": state["repository"], "audit_log": state["audit_log"],
            "gate": {"refusals": provenance["gate_refusals"], "checks": provenance["randomisation_check"],
                     "shortcut": provenance["shortcut_check"], "scope": provenance.get("scope_check", {})}}
