"""`medxai explain` and `medxai bench explain`."""

import json
from pathlib import Path

import typer

from medxai.commands.options import precision_option


def register(app: typer.Typer, data_app: typer.Typer, bench_app: typer.Typer) -> None:
    @app.command("explain")
    def explain(
        checkpoint: Path = typer.Option(..., help="A medxai checkpoint (best.pt)."),
        image: Path = typer.Option(..., help="PNG, JPEG, TIFF, DICOM or NumPy .npy image."),
        out: Path = typer.Option(..., help="Folder for <method>.npy, <method>.png and explanation.json."),
        methods: str = typer.Option("gradcam,ig,lime,fusion", help="Comma-separated: gradcam, ig, lime, fusion."),
        target: str = typer.Option(None, help="Class name to explain (default: the top prediction)."),
        seed: int = typer.Option(0, help="LIME sampling and segmentation seed."),
        precision: str = precision_option(),
    ) -> None:
        """Explain one image: per-method maps (.npy), colour overlays (.png) and explanation.json.

        Example: medxai explain --checkpoint runs/demo/best.pt --image scan.png --out explained --methods gradcam,ig,lime,fusion
        """
        from medxai.errors import UserError
        from medxai.explain.pipeline import parse_methods
        from medxai.explain.report import explain_file
        if not checkpoint.is_file():
            raise UserError(f"checkpoint not found: {checkpoint}")
        if not image.is_file():
            raise UserError(f"image not found: {image}")
        try:
            chosen = parse_methods(methods)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        report = explain_file(checkpoint, image, out, chosen, target, seed, precision)
        typer.echo(json.dumps({"prediction": report["prediction"]["class"],
                               "seconds": {name: m["seconds"] for name, m in report["methods"].items()},
                               "explanation": str(out / "explanation.json")}))

    @bench_app.command("explain")
    def bench_explain(
        image_size: int = typer.Option(224, help="Square input size (training and explaining)."),
        model: str = typer.Option("resnet50_attention", help="Architecture trained on phantoms when no checkpoint."),
        checkpoint: Path = typer.Option(None, help="Use this checkpoint instead of training one on phantoms."),
        epochs: int = typer.Option(4, help="Epochs of the quick phantom training."),
        train_images: int = typer.Option(160, help="Phantoms generated for the quick training."),
        seed: int = typer.Option(0, help="LIME seed, for both pipelines."),
        keep_checkpoint: Path = typer.Option(None, help="Copy the phantom-trained checkpoint here for reruns."),
        device: str = typer.Option("cpu", help="Where both pipelines run: cpu, or cuda on a GPU machine."),
        images: int = typer.Option(1, min=1, help="Held-out phantoms compared (means reported when several)."),
        lime_ceiling: bool = typer.Option(False, help="Rerun the naive LIME with another sampling seed: how well "
                                                      "LIME agrees with itself."),
        precision: str = precision_option(),
    ) -> None:
        """Naive pipeline (Captum fp32 50-step IG, LIME 1000 samples batch 10) against ours on one image.

        Example: medxai bench explain --image-size 224 --model resnet50_attention
        """
        import shutil
        import tempfile
        from medxai.errors import UserError
        from medxai.explain.bench import bench_explain as run_bench
        if checkpoint is not None and not checkpoint.is_file():
            raise UserError(f"checkpoint not found: {checkpoint}")
        with tempfile.TemporaryDirectory(prefix="medxai-bench-explain-") as folder:
            if checkpoint is None:
                from training.quick import phantom_model
                typer.echo(f"training {model} at {image_size} px on phantoms for {epochs} epochs ...", err=True)
                checkpoint = phantom_model(model, image_size, Path(folder), train_images, epochs)
                if keep_checkpoint is not None:
                    shutil.copyfile(checkpoint, keep_checkpoint)
            typer.echo(json.dumps(run_bench(checkpoint, seed, device, images, lime_ceiling, precision)))
