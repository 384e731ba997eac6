"""`medxai explain` and `medxai bench explain`."""

import json
from pathlib import Path

import typer

from medxai.commands.options import dicom_tags_option, ids_option, precision_option, require_paths, split_option


def _emit(result: dict, out: Path | None) -> None:
    """A bench's result: JSON written to `out` when given (its folder made), and printed last on stdout."""
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))
    typer.echo(json.dumps(result))


def register(app: typer.Typer, data_app: typer.Typer, bench_app: typer.Typer) -> None:
    @app.command("explain")
    def explain(
        checkpoint: Path = typer.Option(..., help="A medxai checkpoint (best.pt)."),
        image: Path = typer.Option(..., help="PNG, JPEG, TIFF, DICOM or NumPy .npy image."),
        out: Path = typer.Option(..., help="Folder for <method>.npy, <method>.png and explanation.json."),
        methods: str = typer.Option("cam,ig,lime,fusion", help="Comma-separated: cam (the default CAM), gradcam (the "
                                    "paper's), gradcam++, hirescam, layercam, ig, lime, fusion."),
        fusion: str = typer.Option("faithfulness", help="Fusion rule: faithfulness (dead maps weigh 0, the others by "
                                                        "their own insertion minus deletion AUC), alive (dead maps "
                                                        "weigh 0), paper (0.4/0.4/0.2)."),
        target: str = typer.Option(None, help="Class name to explain (default: the top prediction)."),
        seed: int = typer.Option(0, min=0, help="LIME sampling and segmentation seed."),
        precision: str = precision_option(),
        allow_out_of_scope: bool = typer.Option(False, help="Explain an image outside the model's intended use "
                                                            "too, marked research_only (default: refused)."),
        dicom_tags: str = dicom_tags_option(),
    ) -> None:
        """Explain one image: per-method maps (.npy), colour overlays (.png) and explanation.json. An image
        outside the model's intended use is refused with the reason (explanation.json says it too).

        Example: medxai explain --checkpoint demo/run/best.pt --image scan.png --out explained --methods cam,ig,lime,fusion
        """
        from medxai.errors import UserError
        from medxai.explain.pipeline import parse_methods
        from medxai.explain.report import explain_file
        require_paths(checkpoint, what="checkpoint")
        require_paths(image, what="image")
        from medxai.explain.fusion import RULES
        try:
            chosen = parse_methods(methods)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        if fusion not in RULES:
            raise UserError(f"unknown fusion rule '{fusion}'; choose one of {', '.join(RULES)}")
        report = explain_file(checkpoint, image, out, chosen, target, seed, precision, fusion, allow_out_of_scope,
                              dicom_tags)
        typer.echo(json.dumps({"prediction": report["prediction"]["class"],
                               "prediction_set": report["scope"]["prediction_set"],
                               "seconds": {name: m["seconds"] for name, m in report["methods"].items()},
                               "explanation": str(out / "explanation.json")}))

    @bench_app.command("explain")
    def bench_explain(
        image_size: int = typer.Option(224, help="Square input size (training and explaining)."),
        model: str = typer.Option("resnet50_attention", help="Architecture trained on phantoms when no checkpoint."),
        checkpoint: Path = typer.Option(None, help="Use this checkpoint instead of training one on phantoms."),
        epochs: int = typer.Option(4, help="Epochs of the quick phantom training."),
        train_images: int = typer.Option(160, help="Phantoms generated for the quick training."),
        seed: int = typer.Option(0, min=0, help="LIME seed, for both pipelines."),
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
        from medxai.explain.bench import bench_explain as run_bench
        require_paths(checkpoint, what="checkpoint")
        with tempfile.TemporaryDirectory(prefix="medxai-bench-explain-") as folder:
            if checkpoint is None:
                from training.quick import phantom_model
                typer.echo(f"training {model} at {image_size} px on phantoms for {epochs} epochs ...", err=True)
                checkpoint = phantom_model(model, image_size, Path(folder), train_images, epochs)
                if keep_checkpoint is not None:
                    shutil.copyfile(checkpoint, keep_checkpoint)
            typer.echo(json.dumps(run_bench(checkpoint, seed, device, images, lime_ceiling, precision)))

    @bench_app.command("maps")
    def bench_maps(
        checkpoint: Path = typer.Option(..., help="A medxai checkpoint (best.pt)."),
        data: Path = typer.Option(..., help="Labelled folder with masks or boxes."),
        split: str = split_option(),
        ids: Path = ids_option(),
        images: int = typer.Option(40, min=1, help="Images with a mask or box scored, an equal share of each "
                                                     "class (seed 0: the same images every run)."),
        out: Path = typer.Option(None, help="Also write the table as JSON here (X.json), and as markdown in X.md."),
        noise_tunnel: bool = typer.Option(False, help="Add IG averaged under Captum's NoiseTunnel (8 noisy copies: "
                                                      "8x IG's cost)."),
        precision: str = precision_option(),
    ) -> None:
        """Every CAM variant and layer, IG smoothing, LIME and the fusion rules, scored on the same images:
        dead share, pointing game, top-area IoU, energy in mask, deletion and insertion AUC; then the served
        maps (and the alternative CAM) per explained class (markdown on stderr and, with --out X.json, in X.md;
        JSON last on stdout).

        Example: medxai bench maps --checkpoint demo/run/best.pt --data demo/data --split test --images 40
        """
        from rich.console import Console
        from medxai.explain.comparison import (class_rows, compare, held_out_images, markdown, markdown_by_class,
                                               markdown_report)
        from medxai.precision import hardware
        require_paths(checkpoint, what="checkpoint")
        console = Console(stderr=True)
        model, info, pixels, masks, targets = held_out_images(str(checkpoint), str(data), split,
                                                              str(ids) if ids else None, images, precision)
        console.print(f"{len(pixels)} images with masks; explaining their true class")
        table = compare(model, pixels, masks, targets, precision=precision, noise_tunnel=noise_tunnel,
                        log=console.print)
        names = class_rows(model, table)
        console.print(markdown(table))
        console.print(markdown_by_class(table, names, info["class_names"]))
        result = {"checkpoint": str(checkpoint), "data": str(data), "split": split, "ids": str(ids) if ids else None,
                  **info, "images": len(pixels), "rows": table, "hardware": hardware("cpu", precision)}
        _emit(result, out)
        if out is not None:
            source = f"{out}: {checkpoint} {len(pixels)} images, {result['hardware']['precision']}"
            out.with_suffix(".md").write_text(markdown_report(table, names, info["class_names"], source))


    @bench_app.command("shortcut")
    def bench_shortcut(
        checkpoint: Path = typer.Option(..., help="A medxai checkpoint (best.pt)."),
        data: Path = typer.Option(..., help="Labelled folder with masks or boxes."),
        split: str = split_option(),
        ids: Path = ids_option(),
        images: int = typer.Option(90, min=0, help="Images explained, an equal share of each class (seeded); the "
                                                     "model itself is tested on every chosen image. 0: the model "
                                                     "only, no maps."),
        seed: int = typer.Option(0, help="Seed of the draw and of the displaced patches."),
        margin: float = typer.Option(0.0, min=0.0, help="Grow each region on every side by this share of its size "
                                                        "(the side of a square of its area) before the tests: how "
                                                        "far beyond the box the model's evidence reaches."),
        out: Path = typer.Option(None, help="Write the report as JSON here (X.json), as markdown in X.md, and a gallery "
                                             "per class in X_<class>.png."),
        precision: str = precision_option(),
    ) -> None:
        """What the model uses, per class: its accuracy and probability with only the expert region kept, with
        it removed, with a patch of its shape removed elsewhere, with the region replaced by the tissue there,
        and with the whole image blurred (every chosen image); where the served maps' energy lies: the region,
        the image's edges, the rest of the body part, the background, against their areas (the images drawn).
        Markdown on stderr (and OUT.md), JSON last on stdout.

        Example: medxai bench shortcut --checkpoint demo/run/best.pt --data demo/data --split test --out demo/shortcut.json
        """
        from rich.console import Console
        from medxai.explain.shortcut_analysis import analyse, held_out, markdown
        from medxai.precision import hardware
        require_paths(checkpoint, what="checkpoint")
        console = Console(stderr=True)
        model, info, pixels, regions, labels = held_out(checkpoint, data, split, ids)
        if margin > 0:
            from medxai.metrics.counterfactual import grown_regions
            regions = grown_regions(regions, margin)
        report = analyse(model, pixels, regions, labels, list(info.class_names), images, precision, seed,
                         gallery=out.with_suffix("") if out else None, log=console.print)
        report |= {"checkpoint": str(checkpoint), "data": str(data), "split": split, "margin": margin,
                   "ids": str(ids) if ids else None, "hardware": hardware("cpu", precision)}
        table = markdown(report)
        console.print(table)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            source = (f"{checkpoint}, {report['images']} images with a region "
                      f"({report['explained']} explained{f', regions grown by {margin}' if margin else ''}), "
                      f"{report['hardware']['precision']}, "
                      f"{report['hardware']['device']}")
            galleries = "".join(f"\n![{name}]({Path(row['gallery']).name})\n" for name, row in report["zones"].items()
                                if "gallery" in row)
            out.with_suffix(".md").write_text(f"{source}\n\n{table}\n{galleries}")
        _emit(report, out)

    @bench_app.command("paired")
    def bench_paired(
        checkpoint: Path = typer.Option(..., help="The reference model (best.pt), e.g. trained without guidance."),
        against: Path = typer.Option(..., help="The model compared with it, at the same image size."),
        data: Path = typer.Option(..., help="Labelled folder with masks or boxes."),
        split: str = split_option(),
        ids: Path = ids_option(),
        images: int = typer.Option(30, min=2, help="Images with a mask or box scored, an equal share of each "
                                                     "class (seed 0: the same images every run)."),
        out: Path = typer.Option(None, help="Also write the table as JSON here."),
        precision: str = precision_option(),
    ) -> None:
        """Both models' served maps on the same images: pointing game, top-area IoU and deletion AUC per
        image, their means, differences and Wilcoxon signed-rank p (markdown on stderr, JSON last on stdout).

        Example: medxai bench paired --checkpoint runs/brain128/best.pt --against runs/brain128_att/best.pt --data ../shared/data/brain_mri --ids runs/brain128/validation_ids.txt
        """
        from rich.console import Console
        from medxai.checkpoint import load_checkpoint, read_checkpoint_info
        from medxai.errors import UserError
        from medxai.explain.comparison import held_out_images
        from medxai.explain.paired import markdown, paired_comparison, per_image_scores
        from medxai.precision import hardware
        require_paths(checkpoint, against, what="checkpoint")
        infos = [read_checkpoint_info(path) for path in (checkpoint, against)]
        if infos[0].image_size != infos[1].image_size or infos[0].class_names != infos[1].class_names:
            raise UserError(f"the models differ in image size ({infos[0].image_size} and {infos[1].image_size} px) "
                            "or classes: a paired comparison needs the same pixels and explained classes")
        console = Console(stderr=True)
        first, info, pixels, masks, targets = held_out_images(str(checkpoint), str(data), split,
                                                              str(ids) if ids else None, images, precision)
        second = load_checkpoint(str(against))[0]
        console.print(f"{len(pixels)} images with masks; explaining their true class with each model")
        table = paired_comparison(per_image_scores(first, pixels, masks, targets, precision),
                                  per_image_scores(second, pixels, masks, targets, precision))
        console.print(markdown(table, checkpoint.parent.name, against.parent.name))
        result = {"checkpoint": str(checkpoint), "against": str(against), "data": str(data), "split": split,
                  "ids": str(ids) if ids else None, **info, "images": len(pixels), "maps": table,
                  "hardware": hardware("cpu", precision)}
        _emit(result, out)
