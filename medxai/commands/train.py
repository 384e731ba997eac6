"""`medxai train`, `evaluate`, `predict` and `bench train`."""

import json
from pathlib import Path

import typer

from medxai.commands.options import dicom_tags_option, ids_option, precision_option, require_paths, split_option


def _recipe_values(setting: str) -> str:
    """A setting's value in each named recipe, for help texts ("paper / scratch"), read from
    `training.recipes` so the help cannot drift from what `resolve` applies."""
    from training.recipes import RECIPES
    values = [RECIPES[name][setting] for name in RECIPES]
    return "recipe " + " / ".join(RECIPES) + ": " + " / ".join(f"{v:g}" if isinstance(v, float) else str(v)
                                                              for v in values)


def register(app: typer.Typer, data_app: typer.Typer, bench_app: typer.Typer) -> None:
    @app.command("train")
    def train(
        data: Path = typer.Option(..., help="Labelled folder, CheXpert/ISIC CSV or MedMNIST npz."),
        out: Path = typer.Option(..., help="Run folder to write."),
        recipe: str = typer.Option(None, help="Settings for what is not given: paper (the paper's, for "
                                              "--pretrained weights; its default) or scratch (measured for random "
                                              "weights on a CPU; the default without --pretrained)."),
        model: str = typer.Option(None, help=f"Architecture from the registry ({_recipe_values('model')})."),
        image_size: int = typer.Option(None, help=f"Square input size ({_recipe_values('image_size')})."),
        epochs: int = typer.Option(None, help="Maximum epochs, early stopping may end sooner "
                                                f"({_recipe_values('epochs')})."),
        folds: int = typer.Option(1, help="k for stratified group k-fold; 1 = one 80/20 holdout."),
        alpha_exp: float = typer.Option(None, help="Weight of the explanation-consistency loss L_exp "
                                                   f"({_recipe_values('alpha_exp')})."),
        exp_images: int = typer.Option(4, help="Images per batch that L_exp is computed on."),
        exp_every: int = typer.Option(8, help="Compute L_exp every k-th step (8: about 2x a plain step on average)."),
        batch_size: int = typer.Option(32, help="Images per optimisation step."),
        lr: float = typer.Option(None, help=f"Learning rate ({_recipe_values('lr')})."),
        patience: int = typer.Option(10, help="Early stopping: epochs without a lower validation loss before "
                                     "training stops (best.pt is the epoch with the best validation AUC)."),
        seed: int = typer.Option(42, min=0), precision: str = precision_option(),
        channels_last: bool = typer.Option(None, help="Default: on exactly when the precision is bf16."),
        weighted_sampler: bool = typer.Option(False),
        pretrained: str = typer.Option(None, help="ImageNet weights file, or 'imagenet' for torch's hub cache."),
        attention_stage: int = typer.Option(3, help="Residual stage followed by the attention module."),
        uncertainty: str = typer.Option("ones", help="CheXpert uncertain labels: ones, zeros or ignore."),
        fold: int = typer.Option(None, help="Train only this fold (0-based) of --folds, e.g. one per Kubernetes "
                                            "Job index; the last fold to finish writes RUN/best.pt."),
        workers: int = typer.Option(None, help="Data-loading processes (default: the cores available less one, "
                                               "at most 8)."),
        guidance: str = typer.Option(None, help="Lesion guidance from the data's masks or boxes: none, attention "
                                                "(supervise the attention gate; cheap) or rrr (input gradients "
                                                "outside the region; double backprop) "
                                                f"({_recipe_values('guidance')})."),
        guidance_weight: float = typer.Option(1.0, help="Weight of the guidance term."),
        guidance_images: int = typer.Option(8, help="rrr: annotated images per step."),
        guidance_share: float = typer.Option(1.0, help="Share of the training images whose masks or boxes guidance "
                                                       "uses (a hospital has masks for a few)."),
        context_blur: float = typer.Option(0.0, help="Context perturbation: share of the images with a mask or box "
                                                     "(within --guidance-share) shown with everything outside the "
                                                     "region blurred, so the model must answer from the lesion."),
        region_removal: float = typer.Option(0.0, help="Counterfactual training: share of the images with a mask or "
                                                       "box (within --guidance-share) shown with the region blurred "
                                                       "away and taught what --removal-target names; "
                                                       "as many others get a patch of its shape blurred elsewhere "
                                                       "and keep their label. Single-label data."),
        region_removal_weight: float = typer.Option(1.0, help="Weight of the region-removal term."),
        removal_target: str = typer.Option("uniform", help="What an image with its region removed is taught: "
                                                          "uniform (the same probability for every class) or "
                                                          "background (a training-only extra output, dropped from "
                                                          "the checkpoint, that each class must outscore)."),
        calibrate: bool = typer.Option(True, help="Fit a temperature on each fold's validation logits and store it "
                                                  "in the checkpoint (temperature scaling, Guo et al. 2017)."),
        modality: str = typer.Option("", help="Intended use: the DICOM Modality codes the model is for, "
                                              "comma-separated (e.g. MR); default: the training files' DICOM tags.",
                                     rich_help_panel="Intended use"),
        body_part: str = typer.Option("", help="Intended use: DICOM Body Part Examined values, comma-separated "
                                               "(e.g. BRAIN); default: the training files' DICOM tags.",
                                      rich_help_panel="Intended use"),
        ood_accept: float = typer.Option(0.99, help="Share of the validation images the out-of-distribution "
                                                    "threshold accepts.", rich_help_panel="Intended use"),
        conformal_alpha: float = typer.Option(0.1, help="Error rate of the conformal prediction sets (APS): a "
                                                        "set misses the true class at most this often.",
                                              rich_help_panel="Intended use"),
    ) -> None:
        """Train with cross-validation; writes RUN/best.pt and RUN/metrics.json.

        Example: medxai train --data demo/data --out runs/mine --model resnet50_attention --image-size 224 --epochs 5 --folds 5
        """
        from training.recipes import resolve
        from training.trainer import TrainConfig, default_workers, train as run_training
        recipe, chosen = resolve(recipe, pretrained, {"model": model, "image_size": image_size, "epochs": epochs,
                                                      "lr": lr, "alpha_exp": alpha_exp, "guidance": guidance})
        require_paths(data, what="data", folder=True)
        if workers is not None and workers < 0:
            from medxai.errors import UserError
            raise UserError("--workers must be >= 0")
        metrics = run_training(TrainConfig(
            data=str(data), out=str(out), **chosen, recipe=recipe, folds=folds,
            exp_images=exp_images, exp_every=exp_every, batch_size=batch_size,
            patience=patience, seed=seed, precision=precision, channels_last=channels_last, weighted_sampler=weighted_sampler,
            pretrained=pretrained, attention_stage=attention_stage, uncertainty=uncertainty, fold=fold,
            workers=default_workers() if workers is None else workers,
            guidance_weight=guidance_weight, guidance_images=guidance_images, guidance_share=guidance_share,
            context_blur=context_blur, region_removal=region_removal, region_removal_weight=region_removal_weight,
            removal_target=removal_target,
            calibrate=calibrate, modality=modality, body_part=body_part, ood_accept=ood_accept,
            conformal_alpha=conformal_alpha))
        from training import distributed
        if distributed.rank() == 0:
            best = out / "best.pt" if metrics["selected_fold"] is not None else out / f"fold{fold}" / "best.pt"
            typer.echo(json.dumps({k: metrics[k] for k in ("accuracy", "auc", "f1", "selected_fold")}
                                  | {"best": str(best)}))

    @app.command("evaluate")
    def evaluate(
        checkpoint: Path = typer.Option(..., help="A medxai checkpoint (best.pt)."),
        data: Path = typer.Option(..., help="Data source with the checkpoint's classes."),
        out: Path = typer.Option(..., help="Folder for metrics.json and the ROC and reliability PNGs."),
        split: str = split_option(),
        ids: Path = ids_option(),
        explanations: bool = typer.Option(True, help="Score explanations when the data has masks or boxes."),
        max_explained: int = typer.Option(32, min=0, help="Images with a mask or box whose explanations are "
                                                          "scored, an equal share of each class (seed 0: the same "
                                                          "images every run; 0: none)."),
        precision: str = precision_option(),
    ) -> None:
        """Diagnostic metrics (and explanation quality where masks exist) of a checkpoint on data.

        Example: medxai evaluate --checkpoint demo/run/best.pt --data demo/data --out demo/eval
        """
        from training.evaluate import evaluate as run_evaluation
        require_paths(checkpoint, what="checkpoint")
        require_paths(data, what="data", folder=True)
        require_paths(ids, what="ids file")
        metrics = run_evaluation(checkpoint, data, out, split,
                                 explanations=explanations, max_explained=max_explained,
                                 precision=precision, ids=ids)
        if "warning" in metrics:
            typer.echo(f"warning: {metrics['warning']}", err=True)
        if "explanations_by_class_md" in metrics:
            typer.echo(Path(metrics["explanations_by_class_md"]).read_text(), err=True)
        typer.echo(json.dumps({k: metrics[k] for k in ("images", "accuracy", "auc", "precision", "recall", "f1", "ece")}
                              | {"metrics": str(out / "metrics.json")}))

    @app.command("predict")
    def predict(
        images: list[Path] = typer.Argument(..., help="PNG, JPEG, TIFF, DICOM or NumPy .npy files."),
        checkpoint: Path = typer.Option(..., help="A medxai checkpoint."),
        precision: str = precision_option(),
        allow_out_of_scope: bool = typer.Option(False, help="Answer images outside the model's intended use too, "
                                                            "marked research_only (default: no prediction)."),
        dicom_tags: str = dicom_tags_option(),
    ) -> None:
        """Print class probabilities for each image as JSON (an unreadable image gets its error instead, and
        the command then exits 2). Each answer has its "scope": an image outside the model's intended use (its
        DICOM tags, or an out-of-distribution score above the checkpoint's threshold) gets the reason and no
        prediction, and the command then exits 2 too; "prediction_set" lists the classes conformal prediction
        cannot rule out, and "refer" says so when there is more than one.

        Example: medxai predict --checkpoint demo/run/best.pt scan1.png scan2.dcm
        """
        from medxai.errors import UserError
        from training.evaluate import predict as run_prediction
        require_paths(checkpoint, what="checkpoint")
        results = run_prediction(checkpoint, images, precision, allow_out_of_scope, dicom_tags)
        typer.echo(json.dumps(results, indent=2))
        failed = [f"{result['image']}: {result['error']}" for result in results if "error" in result]
        if failed:  # the others' answers are printed above; the exit code still says not all were read
            raise UserError(f"{len(failed)} of {len(results)} images could not be read: " + "; ".join(failed))
        refused = [f"{result['image']}: {result['scope']['reason']}" for result in results
                   if "prediction" not in result and not result.get("scope", {}).get("in_scope", True)]
        if refused:  # as `medxai explain` and the service do: a script must not read "no answer" as success
            raise UserError(f"{len(refused)} of {len(results)} images got no prediction: " + "; ".join(refused))

    @bench_app.command("train")
    def bench_train(
        model: str = typer.Option("resnet50_attention"), image_size: int = typer.Option(224),
        batch_size: int = typer.Option(32, help="The trainer's default batch."),
        steps: int = typer.Option(8, help="Timed steps per setting."),
        device: str = typer.Option("cpu", help="cpu, or cuda on a GPU machine."),
        precision: str = precision_option(),
    ) -> None:
        """Training images/s for fp32 against bf16 autocast + channels_last on this machine, and the composite
        loss's cost at the precision `--precision` resolves to.

        Example: medxai bench train --model resnet50_attention --image-size 224
        """
        from training.bench import bench_training
        typer.echo(json.dumps(bench_training(model, image_size, batch_size, steps, device, precision)))
