"""`medxai scope fit` (give a checkpoint trained before scopes its intended use, OOD detector and prediction sets)
and `medxai bench scope` (measure the OOD scores against images the model was never meant for)."""

import json
from pathlib import Path

import typer

from medxai.commands.options import require_paths


def register(app: typer.Typer, data_app: typer.Typer, bench_app: typer.Typer) -> None:
    scope_app = typer.Typer(help="A model's intended use, out-of-distribution refusal and prediction sets.",
                            no_args_is_help=True)
    app.add_typer(scope_app, name="scope")

    @scope_app.command("fit")
    def fit(
        checkpoint: Path = typer.Option(..., help="A medxai checkpoint (best.pt)."),
        data: Path = typer.Option(..., help="The data it was trained on."),
        ids: Path = typer.Option(..., help="Its validation images, one id a line (RUN/validation_ids.txt): the "
                                           "threshold and prediction sets are fitted on them, the detector on the "
                                           "rest."),
        out: Path = typer.Option(None, help="Checkpoint to write (default: replace --checkpoint)."),
        modality: str = typer.Option("", help="DICOM Modality codes the model is for, comma-separated."),
        body_part: str = typer.Option("", help="DICOM Body Part Examined values, comma-separated."),
        accept: float = typer.Option(0.99, help="Share of the validation images the OOD threshold accepts."),
        alpha: float = typer.Option(0.1, help="Error rate of the conformal prediction sets."),
        conformal_method: str = typer.Option("lac", help="Conformal score: lac (1 - p of the true class; the "
                                                         "default, measured closest to the target) or aps "
                                                         "(Adaptive Prediction Sets, without randomisation)."),
    ) -> None:
        """Fit (or refit) a checkpoint's scope, as training does, and write it into the checkpoint.

        Example: medxai scope fit --checkpoint runs/brain/best.pt --data ../shared/data/brain_mri --ids runs/brain/validation_ids.txt
        """
        from medxai.checkpoint import load_checkpoint, save_checkpoint
        from medxai.data import ImageDataset, load_dataset
        from medxai.errors import UserError
        from medxai.scope.fit import fit_scope
        from medxai.scope.intended_use import intended_use_of
        require_paths(checkpoint, ids, what="file")
        require_paths(data, what="data", folder=True)
        from medxai.scope.conformal import METHODS
        if not 0 < accept < 1 or not 0 < alpha < 1:
            raise UserError("--accept and --alpha must be between 0 and 1")
        if conformal_method not in METHODS:
            raise UserError(f"--conformal-method must be one of {', '.join(METHODS)}, got '{conformal_method}'")
        model, info = load_checkpoint(checkpoint)
        spec = load_dataset(data)
        if list(spec.class_names) != list(info.class_names):
            raise UserError(f"{data} has classes {spec.class_names}, the checkpoint {info.class_names}")
        chosen = set(spec.chosen(ids_file=ids))
        train_spec = spec.subset([i for i in range(len(spec.records)) if i not in chosen])
        use = intended_use_of([r.source for r in train_spec.records], info.class_names, info.image_size, modality,
                              body_part)
        scope = fit_scope(model, ImageDataset(train_spec, info.image_size, cache=False),
                          ImageDataset(spec.subset(sorted(chosen)), info.image_size), use, accept, alpha,
                          conformal_method)
        info.scope = scope.to_dict()
        info.format_version = max(info.format_version, 2)
        save_checkpoint(out or checkpoint, model, info)
        typer.echo(json.dumps({"checkpoint": str(out or checkpoint), "intended_use": use.describe(),
                               "threshold": scope.threshold, "quantile": scope.quantile, **scope.validation}))

    @bench_app.command("scope")
    def bench(
        checkpoint: Path = typer.Option(..., help="A medxai checkpoint."),
        data: Path = typer.Option(..., help="The data it was trained on."),
        ids: Path = typer.Option(..., help="Its validation images (RUN/validation_ids.txt): the in-distribution "
                                           "side; the rest give kNN its training features."),
        far: list[str] = typer.Option(..., help="NAME=FOLDER of images the model is not for (a data source, or "
                                                "every image file under the folder); repeat."),
        limit: int = typer.Option(200, min=1, help="Images read from each --far folder at most."),
        exclude_modality: str = typer.Option("", help="Skip DICOM files of these Modality codes, comma-separated "
                                                      "(e.g. MR, to keep an MR model's corpus out of scope)."),
        out: Path = typer.Option(None, help="Also write the report as JSON and markdown (OUT.json, OUT.md)."),
    ) -> None:
        """AUROC and FPR at 95 % TPR of four OOD scores (max softmax, energy, Mahalanobis, kNN) per --far set, the
        share each set and the validation fold lose at the served threshold, and conformal coverage.

        Example: medxai bench scope --checkpoint runs/brain/best.pt --data ../shared/data/brain_mri --ids runs/brain/validation_ids.txt --far ph2=../shared/data/ph2
        """
        from medxai.errors import UserError
        from medxai.scope.bench import bench_scope, markdown
        require_paths(checkpoint, ids, what="file")
        sets = {}
        for item in far:
            name, sep, folder = item.partition("=")
            if not sep or not name:
                raise UserError(f"--far takes NAME=FOLDER, got '{item}'")
            require_paths(Path(folder), what="folder", folder=True)
            sets[name] = Path(folder)
        report = bench_scope(checkpoint, data, ids, sets, limit,
                             {m.strip().upper() for m in exclude_modality.split(",") if m.strip()})
        table = markdown(report)
        typer.echo(table, err=True)
        if out:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.with_suffix(".json").write_text(json.dumps(report, indent=2))
            out.with_suffix(".md").write_text(table + "\n")
        typer.echo(json.dumps(report))
