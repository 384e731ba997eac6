"""Evaluate a checkpoint on a data source, and predict single images: the same preprocessing as training."""

import json
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from medxai.checkpoint import load_checkpoint
from medxai.data import ImageDataset, load_dataset, read_frames
from medxai.data.dataset import to_model_input
from medxai.errors import UserError
from medxai.metrics.calibration import expected_calibration_error, plot_reliability, reliability_bins
from medxai.metrics.classification import classification_metrics, plot_roc
from medxai.precision import hardware, use_bf16
from medxai.scope import Assessment, Scope, assess
from medxai.scope.fit import probabilities_and_ood
from medxai.scope.intended_use import DEFAULT_TAG_RULE, tag_values
from training.trainer import autocast, predict_batches


def _records_for_split(spec, split: str | None, ids_file: str | Path | None = None):
    """The records of `split` and/or whose ids `ids_file` lists (one a line, e.g. RUN/validation_ids.txt)."""
    chosen = spec.chosen(split, ids_file)
    if not chosen:
        given = " and ".join(([f"split '{split}'"] if split else []) + ([f"the ids in {ids_file}"] if ids_file else []))
        raise UserError(f"no records with {given} in {spec.name}")
    return spec if len(chosen) == len(spec.records) else spec.subset(chosen)


TRAINING_DATA_WARNING = ("{data} is the data this checkpoint was trained on, and no --split or --ids was given: "
                         "the figures include its training images (give --ids RUN/validation_ids.txt)")


def evaluate(checkpoint: str | Path, data: str | Path, out: str | Path, split: str | None = None,
             precision: str = "auto", batch_size: int = 32, explanations: bool = True, max_explained: int = 32,
             ids: str | Path | None = None) -> dict:
    """Write OUT/metrics.json (accuracy, auc, precision, recall, f1, per-class AUC, confusion matrix, the
    checkpoint's temperature, expected calibration error and reliability bins), OUT/roc.png and
    OUT/reliability.png; with expert masks or boxes in the data, add `explanations.<method>` localisation and
    faithfulness scores on up to `max_explained` images drawn across classes, with each class's means and 95 %
    bootstrap intervals (`by_class`, `interval`), and the per-class table in OUT/explanations_by_class.md.
    Probabilities are the calibrated ones the model serves (logits / its temperature).
    `split` and `ids` choose records; with neither, on the data the checkpoint was trained on (same
    fingerprint), `metrics["warning"]` says the figures include training images."""
    model, info = load_checkpoint(checkpoint)
    full = load_dataset(data)
    spec = _records_for_split(full, split, ids)
    warning = (TRAINING_DATA_WARNING.format(data=data) if split is None and ids is None and info.data_fingerprint
               and full.fingerprint() == info.data_fingerprint else None)
    if spec.class_names != info.class_names:
        raise UserError(f"{data} has classes {spec.class_names}, the checkpoint was trained on {info.class_names}")
    dataset = ImageDataset(spec, info.image_size, cache=False)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # explanation scoring follows the model
    model.to(device)
    bf16 = use_bf16(precision, device)
    probabilities, targets, _ = predict_batches(model, DataLoader(dataset, batch_size=batch_size),
                                                device, bf16, channels_last=bf16)
    metrics = classification_metrics(probabilities, targets, info.class_names, info.multi_label)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plot_roc(probabilities, targets, info.class_names, info.multi_label, out / "roc.png", f"{spec.name} ROC")
    bins = reliability_bins(probabilities, targets, info.multi_label)
    ece = expected_calibration_error(probabilities, targets, info.multi_label)
    plot_reliability(bins, out / "reliability.png", f"{spec.name} T = {info.temperature:.3f}, ECE {ece:.3f}")
    metrics.update({"temperature": info.temperature, "ece": ece, "reliability": bins,
                    "reliability_png": str(out / "reliability.png")})
    metrics.update({"checkpoint": str(checkpoint), "data": str(data), "split": split,
                    "ids": str(ids) if ids else None, "images": len(spec.records), "roc_png": str(out / "roc.png"),
                    "hardware": hardware(device, precision), **({"warning": warning} if warning else {})})
    if explanations and max_explained > 0 and spec.has_localisation():
        from rich.console import Console
        from medxai.explain.evaluation import evaluate_explanations
        console = Console(stderr=True)
        with console.status("explanations") as status:
            metrics["explanations"] = evaluate_explanations(
                model, dataset, max_images=max_explained, precision=precision,
                log=lambda stage: (status.update(stage), console.log(stage)))
        if metrics["explanations"]:
            from medxai.explain.comparison import markdown_by_class
            table = markdown_by_class(metrics["explanations"], list(metrics["explanations"]), info.class_names)
            (out / "explanations_by_class.md").write_text(table + "\n")
            metrics["explanations_by_class_md"] = str(out / "explanations_by_class.md")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


def predict(checkpoint: str | Path, images: list[str | Path], precision: str = "auto",
            allow_out_of_scope: bool = False, tag_rule: str = DEFAULT_TAG_RULE) -> list[dict]:
    """Class probabilities for each image file (any of `medxai.data.decode.FORMATS`), in the given order; a
    multi-frame DICOM image gets one answer per frame, each with its "frame" (from 1). An image that cannot be read
    (`UserError`) gets `{"image", "error"}` instead, so one bad file in a batch does not cost the others their
    answer. Each answer carries its "scope" (`medxai.scope.Assessment`): an image outside the checkpoint's
    intended use (DICOM tags that contradict it under `tag_rule`, or an OOD score above the threshold) gets no
    prediction unless `allow_out_of_scope`, and then is marked "research_only"."""
    model, info = load_checkpoint(checkpoint)
    scope = Scope.from_dict(info.scope)
    pixels, results = [], []
    for path in images:
        try:
            frames = read_frames(path)
        except UserError as exc:
            results.append({"image": str(path), "error": str(exc)})
            continue
        tags = tag_values(Path(path).read_bytes()) if scope is not None else None
        for number, frame in enumerate(frames, start=1):
            result = {"image": str(path)} | ({"frame": number} if len(frames) > 1 else {})
            model_input = to_model_input(frame, info.image_size)
            refusal = scope.intended_use.refusal(model_input, tags, tag_rule) if scope is not None else None
            if refusal and not allow_out_of_scope:
                result["scope"] = Assessment(in_scope=False, reason=refusal).as_dict()
            else:
                pixels.append(model_input)
                result["refused_before"] = refusal
            results.append(result)
    if pixels:
        with torch.inference_mode(), autocast(torch.device("cpu"), use_bf16(precision, "cpu")):
            probabilities, ood = probabilities_and_ood(model, scope, torch.stack(pixels))
        ood_scores = iter([None] * len(pixels) if ood is None else ood.tolist())
        probabilities = iter(probabilities.float().numpy())
        for result in (result for result in results if "refused_before" in result):
            row, refusal = next(probabilities), result.pop("refused_before")
            assessment = assess(scope, row, info.class_names, next(ood_scores), info.multi_label)
            if refusal:
                assessment.in_scope, assessment.reason = False, refusal
            result["scope"] = assessment.as_dict()
            if assessment.in_scope or allow_out_of_scope:
                result.update({"prediction": info.class_names[int(np.argmax(row))],
                               "probabilities": {name: round(float(p), 6) for name, p in zip(info.class_names, row)}}
                              | ({} if assessment.in_scope else {"research_only": True}))
    return results
