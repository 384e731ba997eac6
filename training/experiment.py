"""`medxai experiment`: the paper's tables recomputed from one TOML file (see `experiment_config`).

For every fold of one stratified group k-fold split it trains ours (at the configured alpha), ours at alpha 0
(Table 9, same folds and seeds; only when alpha > 0), ours with lesion guidance (`guidance_ablation`) and each
baseline; scores every explanation of each variant of ours on the fold's held-out images; with
`spurious_marker`, trains ours once more (and once more with guidance) on phantoms whose malignant training
images carry a corner marker (the shortcut-learning report). Every finished fold is kept in the work folder,
so a rerun resumes where the last one stopped. `experiment_report` turns the results into the report.
"""

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch.utils.data import DataLoader

from medxai.checkpoint import load_checkpoint
from medxai.data import ImageDataset, load_dataset
from medxai.data.phantoms import make_phantoms
from medxai.data.records import DatasetSpec
from medxai.errors import UserError
from medxai.explain.evaluation import model_predictor
from medxai.explain.sanity import model_randomisation_check
from medxai.metrics.classification import classification_metrics
from training.experiment_config import Experiment, Settings
from training.experiment_scoring import score_model
from training.splits import folds, training_pool
from training.trainer import FoldTrainer, TrainConfig, seed_everything

console = Console(stderr=True)


@dataclass
class Job:
    """One model trained on every fold: `name` is its row in the tables."""

    name: str
    model: str
    alpha: float
    explained: bool
    guidance: str = "none"


def jobs(settings: Settings) -> list[Job]:
    ours = [Job("ours", settings.ours, settings.alpha, True)]
    if settings.alpha > 0:
        ours.append(Job("ours_alpha0", settings.ours, 0.0, True))
    if settings.guidance_ablation != "none":
        ours.append(Job("ours_guided", settings.ours, settings.alpha, True, settings.guidance_ablation))
    return ours + [Job(name, name, 0.0, False) for name in settings.baselines]


def prepare_data(experiment: Experiment, work: Path, spurious_marker: bool = False) -> Path:
    """The data folder: the configured path, or phantoms written once into the work folder."""
    if "path" in experiment.data:
        path = Path(experiment.data["path"])
        if not path.exists():
            raise UserError(f"data not found: {path}")
        return path
    folder = work / ("data_marker" if spurious_marker else "data")
    if not (folder / "labels.csv").exists():
        make_phantoms(folder, spurious_marker=spurious_marker, **experiment.data["phantoms"])
    return folder


def subsample(spec: DatasetSpec, max_images: int, seed: int) -> DatasetSpec:
    """Whole patient groups drawn at random (seeded) until `max_images`: a smaller set for a small machine."""
    if max_images <= 0 or max_images >= len(spec.records):
        return spec
    groups = spec.groups()
    order = np.random.default_rng(seed).permutation(np.unique(groups))
    chosen, count = set(), 0
    for group in order:
        if count >= max_images:
            break
        chosen.add(group)
        count += int((groups == group).sum())
    return spec.subset([i for i, group in enumerate(groups) if group in chosen])


def predict_dataset(model: torch.nn.Module, dataset, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities [N,C] and targets [N] over a dataset, on the model's device."""
    predict = model_predictor(model)
    probabilities, targets = [], []
    for batch in DataLoader(dataset, batch_size=batch_size):
        probabilities.append(predict(batch["image"]).float().numpy())
        targets.append(batch["target"].numpy())
    return np.concatenate(probabilities), np.concatenate(targets)


def train_config(settings: Settings, data: Path, folder: Path, job: Job) -> TrainConfig:
    return TrainConfig(data=str(data), out=str(folder), model=job.model, image_size=settings.image_size,
                       epochs=settings.epochs, folds=settings.folds, batch_size=settings.batch_size, lr=settings.lr,
                       patience=settings.patience, seed=settings.seed, alpha_exp=job.alpha, ig_steps=settings.ig_steps,
                       workers=settings.workers, guidance=job.guidance, guidance_weight=settings.guidance_weight)


def run_fold(job: Job, fold: int, spec: DatasetSpec, data: Path, train_idx: np.ndarray, val_idx: np.ndarray,
             settings: Settings, folder: Path, device: torch.device) -> dict:
    """Train (unless `folder/result.json` exists), then classify and explain the held-out fold.
    Returns the result, with the per-image explanation scores under "explanations" when `job.explained`."""
    result_file, scores_file = folder / "result.json", folder / "explanations.pt"
    if result_file.exists() and (scores_file.exists() or not job.explained):
        result = json.loads(result_file.read_text())
        if job.explained:
            result["explanations"] = torch.load(scores_file, weights_only=False)
        return result
    start = time.perf_counter()
    seed_everything(settings.seed + fold)
    trainer = FoldTrainer(train_config(settings, data, folder.parent, job), spec, train_idx,
                          val_idx, folder, device)
    best = trainer.fit()
    train_seconds = time.perf_counter() - start
    model, _ = load_checkpoint(folder / "best.pt")
    model.to(device)
    held_out = ImageDataset(spec.subset(val_idx), settings.image_size, cache=False)
    probabilities, targets = predict_dataset(model, held_out, settings.batch_size)
    metrics = classification_metrics(probabilities, targets, spec.class_names)
    result = {"job": job.name, "model": job.model, "alpha": job.alpha, "fold": fold, "val_indices": val_idx.tolist(),
              "train_images": len(train_idx), "val_images": len(val_idx), "best_epoch": best["epoch"],
              "epochs_run": best["epochs_run"], "train_seconds": train_seconds,
              "metrics": {k: metrics[k] for k in ("accuracy", "auc", "precision", "recall", "f1")},
              "calibration": {k: best.get(k) for k in ("temperature", "ece_before", "ece_after")},
              "probabilities": probabilities.tolist(), "targets": targets.tolist()}
    if job.explained:
        start = time.perf_counter()
        explanations = score_model(model, held_out, settings)
        result["explain_seconds"] = time.perf_counter() - start
        torch.save(explanations, scores_file)
    result_file.write_text(json.dumps(result))
    if job.explained:
        result["explanations"] = explanations
    return result


def marker_region(image_size: int, phantom_size: int) -> np.ndarray:
    """The corner square `make_phantoms(spurious_marker=True)` paints, at the model's image size."""
    scale = image_size / phantom_size
    side = max(phantom_size // 16, 3)
    region = np.zeros((image_size, image_size), bool)
    low, high = int(np.floor(2 * scale)), int(np.ceil((2 + side) * scale))
    region[low:high, low:high] = True
    return region


def shortcut_study(experiment: Experiment, work: Path, clean_model_file: Path, device: torch.device) -> dict:
    """Ours trained on marker phantoms (fold 0), with and (given `guidance_ablation`) without lesion guidance,
    against ours trained on clean phantoms (fold 0): accuracy on the validation fold (marker present in the
    malignant class) and on the test split (marker at random), each map's energy in the marker corner and in
    the lesion on marked test images, and the release gate's randomisation check, which is what would have had
    to stop the model. Guidance is the issue's question: does telling the model where the lesion is remove the
    shortcut (clean-test accuracy back near the clean model's)?"""
    settings = experiment.settings
    cached = work / "shortcut.json"
    if cached.exists():
        return json.loads(cached.read_text())
    data = prepare_data(experiment, work, spurious_marker=True)
    spec = load_dataset(data)
    pool = training_pool(spec)
    fold, train_idx, val_idx = next(folds(spec, pool, settings.folds, 0.2, settings.seed))
    marked = {"trained with marker": Job("ours_marker", settings.ours, settings.alpha, False)}
    if settings.guidance_ablation != "none":
        marked["trained with marker, guided"] = Job("ours_marker_guided", settings.ours, settings.alpha, False,
                                                    settings.guidance_ablation)
    marked_runs = {label: run_fold(job, fold, spec, data, train_idx, val_idx, settings, work / job.name / "fold0",
                                   device) for label, job in marked.items()}
    test_spec = spec.subset([i for i, r in enumerate(spec.records) if r.split == "test"])
    test_set = ImageDataset(test_spec, settings.image_size, cache=False)
    region = marker_region(settings.image_size, experiment.data["phantoms"].get("size", 256))
    marked_set = ImageDataset(test_spec.subset([i for i in range(len(test_set))
                                                if float(test_set[i]["image"][:, region].mean()) > 0.95]),
                              settings.image_size, cache=False)
    regions = {"marker": lambda images: np.broadcast_to(region, (len(images), *region.shape))}
    models = {**{label: work / job.name / "fold0" / "best.pt" for label, job in marked.items()},
              "trained without marker": clean_model_file}
    out = {"marked_test_images": len(marked_set), "test_images": len(test_set), "models": {}}
    for label, checkpoint in models.items():
        model, _ = load_checkpoint(checkpoint)
        model.to(device)
        probabilities, targets = predict_dataset(model, test_set, settings.batch_size)
        scored = score_model(model, marked_set, settings, extra_regions=regions)
        images = torch.from_numpy(scored["images"])
        gate = model_randomisation_check(model, images, torch.from_numpy(scored["targets"]),
                                         options={"lime": {"max_samples": 200, "min_samples": 100}})
        out["models"][label] = {
            "test_accuracy": classification_metrics(probabilities, targets, spec.class_names)["accuracy"],
            "validation_accuracy": marked_runs[label]["metrics"]["accuracy"] if label in marked_runs else None,
            "randomisation_check": {k: gate[k] for k in ("decisive", "spearman", "threshold", "passed")},
            "energy": {method: {"marker": float(np.mean(scores["energy_in_marker"])),
                                "lesion": float(np.mean(scores["energy_in_mask"]))}
                       for method, scores in scored["scores"].items()
                       if method in ("gradcam", "ig", "lime", "fusion", "whole_image")}}
    cached.write_text(json.dumps(out))
    return out


def run_experiment(experiment: Experiment, work: str | Path) -> dict:
    """Train and score every job on every fold (resuming finished folds); returns everything the report needs."""
    settings = experiment.settings
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    kept = {key: value for key, value in asdict(settings).items() if key != "baselines"}  # baselines: own folders
    recorded, current = work / "experiment.json", json.dumps(experiment.data | kept, indent=1)
    if recorded.exists() and recorded.read_text() != current:
        raise UserError(f"{work} holds folds of an experiment with other settings: delete it or give another --work")
    recorded.write_text(current)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if settings.threads:
        torch.set_num_threads(settings.threads)
    data = prepare_data(experiment, work)
    spec = subsample(load_dataset(data), settings.max_images, settings.seed)
    if spec.multi_label:
        raise UserError("medxai experiment handles single-label data (one diagnosis per image)")
    pool = training_pool(spec)
    splits = list(folds(spec, pool, settings.folds, 0.2, settings.seed))
    start = time.perf_counter()
    results: dict[str, list[dict]] = {}
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn(), TimeRemainingColumn()]
    all_jobs = jobs(settings)
    with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
        task = progress.add_task("folds", total=len(all_jobs) * len(splits))
        for job in all_jobs:
            for fold, train_idx, val_idx in splits:
                progress.update(task, description=f"{job.name} fold {fold + 1}/{len(splits)}")
                results.setdefault(job.name, []).append(run_fold(
                    job, fold, spec, data, train_idx, val_idx, settings, work / job.name / f"fold{fold}", device))
                progress.advance(task)
    shortcut = None
    if settings.spurious_marker:
        shortcut = shortcut_study(experiment, work, work / "ours" / "fold0" / "best.pt", device)
    from medxai.precision import hardware
    return {"experiment": experiment.as_dict(), "jobs": [job.__dict__ for job in all_jobs], "results": results,
            "shortcut": shortcut, "class_names": spec.class_names, "image_count": len(spec.records),
            "pool_images": len(pool), "data": str(data), "data_fingerprint": spec.fingerprint(),
            "hardware": hardware(device), "seconds": time.perf_counter() - start}
