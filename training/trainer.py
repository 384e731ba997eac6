"""Training with k-fold cross-validation (seed paper §3.6) and the composite loss L = L_cls + alpha * L_exp (§3.8).

Adam (0.9, 0.999), cosine annealing, early stopping on validation loss, best checkpoint by validation AUC,
bf16 autocast + channels_last where the hardware does bf16 natively (`medxai.precision`), DDP when launched
by torchrun. After a fold, its best checkpoint is calibrated by temperature scaling on that fold's validation
logits (`medxai.metrics.calibration`; the temperature goes into the checkpoint). A run folder holds the resolved
config, per-fold histories (CSV + JSON), checkpoints, ROC curves, reliability diagrams and metrics.json;
`RUN/best.pt` is the selected fold's.
"""

import csv
import json
import math
import os
import random
import shutil
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from torch.utils.data import DataLoader, WeightedRandomSampler

from medxai.checkpoint import CheckpointInfo, save_atomically, save_checkpoint
from medxai.data import ImageDataset, load_dataset
from medxai.data.dataset import channel_statistics
from medxai.data.records import DatasetSpec
from medxai.errors import UserError
from medxai.metrics.calibration import (applied_temperature, expected_calibration_error, negative_log_likelihood,
                                       plot_reliability, reliability_bins)
from medxai.metrics.classification import classification_metrics, plot_roc
from medxai.models import MedicalClassifier, build_model, builder_options
from medxai.precision import hardware, use_bf16
from medxai.scope import Scope
from medxai.scope.fit import fit_scope
from medxai.scope.intended_use import intended_use_of
from training import distributed
from training import guidance, perturbation
from training.losses import ClassificationLoss, class_weights
from training.splits import folds, training_pool

console = Console(stderr=True)


def default_workers() -> int:
    """Data-loading processes the cores allow: one core stays with the training loop, at most 8 (on an H200
    host, 7 workers fed resnet50_attention at 224 px at about 4 s an epoch on brain_mri)."""
    return max(0, min(8, len(os.sched_getaffinity(0)) - 1))


@dataclass
class TrainConfig:
    data: str
    out: str
    model: str = "resnet50_attention"
    image_size: int = 224
    epochs: int = 100
    folds: int = 1
    val_fraction: float = 0.2
    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 0.0
    dropout: float = 0.3
    label_smoothing: float = 0.1
    patience: int = 10
    alpha_exp: float = 0.2
    exp_images: int = 4
    exp_every: int = 8
    ig_steps: int = 8
    weighted_sampler: bool = False
    seed: int = 42
    precision: str = "auto"
    channels_last: bool | None = None  # None: channels_last exactly when the precision resolves to bf16
    pretrained: str | None = None
    attention_stage: int = 3
    uncertainty: str = "ones"
    fold: int | None = None  # train only this fold (one per Kubernetes Job index); the last to finish selects
    workers: int = 0
    guidance: str = "none"  # lesion guidance from the data's masks or boxes: none, rrr or attention (training.guidance)
    guidance_weight: float = 1.0
    guidance_images: int = 8  # rrr: annotated images per step (double backprop)
    guidance_share: float = 1.0  # share of the training images whose masks or boxes guidance may use
    context_blur: float = 0.0  # share of the annotated training images shown with only the region kept (rest blurred)
    region_removal: float = 0.0  # share shown with the region removed, taught `removal_target` (and as many controls)
    region_removal_weight: float = 1.0  # weight of the removal term (training.perturbation)
    removal_target: str = "uniform"  # what a removed region is taught: uniform (no_evidence_loss) or background
    calibrate: bool = True  # fit a temperature on each fold's validation logits after training
    modality: str = ""  # intended use: DICOM Modality codes, comma-separated ("" = from the data's DICOM tags)
    body_part: str = ""  # intended use: DICOM Body Part Examined values, comma-separated ("" = from the data)
    ood_accept: float = 0.99  # share of the validation fold the out-of-distribution threshold accepts
    conformal_alpha: float = 0.1  # error rate of the conformal prediction sets
    recipe: str | None = None  # the `training.recipes` entry the CLI filled unset options from (a record only)

    def architecture_args(self) -> dict:
        options = builder_options(self.model)
        args: dict = {"dropout": self.dropout}
        if "attention_stage" in options:
            args["attention_stage"] = self.attention_stage
        if "image_size" in options:
            args["image_size"] = self.image_size
        return args


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def autocast(device: torch.device, enabled: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16) if enabled else nullcontext()


def predict_batches(model: MedicalClassifier, loader: DataLoader, device: torch.device, bf16: bool,
                    channels_last: bool, loss_fn: ClassificationLoss | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Probabilities [N, C], targets and mean loss over a loader, in eval mode."""
    model.eval()
    probabilities, targets, losses = [], [], []
    with torch.inference_mode(), autocast(device, bf16):
        for batch in loader:
            images = batch["image"].to(device)
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            logits = model(images).float()
            if loss_fn is not None:
                losses.append(loss_fn(logits, batch["target"].to(device)).item() * len(images))
            probabilities.append(model.probabilities(logits).cpu().numpy())
            targets.append(batch["target"].numpy())
    mean_loss = sum(losses) / sum(len(t) for t in targets) if losses else math.nan
    return np.concatenate(probabilities), np.concatenate(targets), mean_loss


def predict_logits(model: MedicalClassifier, loader: DataLoader, device: torch.device, bf16: bool,
                   channels_last: bool) -> tuple[np.ndarray, np.ndarray]:
    """Raw logits [N, C] (float32, computed as training computed them) and targets over a loader, in eval mode."""
    model.eval()
    logits, targets = [], []
    with torch.inference_mode(), autocast(device, bf16):
        for batch in loader:
            images = batch["image"].to(device)
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            logits.append(model(images).float().cpu().numpy())
            targets.append(batch["target"].numpy())
    return np.concatenate(logits), np.concatenate(targets)


def explanation_loss(model: MedicalClassifier, images: torch.Tensor, targets: torch.Tensor, logits: torch.Tensor,
                      config: TrainConfig) -> torch.Tensor:
    """L_exp on the first `exp_images` images of the batch (the true class; the top finding when multi-label)."""
    from medxai.explain.consistency import consistency_loss
    count = min(config.exp_images, len(images))
    classes = logits[:count].argmax(dim=1) if model.multi_label else targets[:count]
    return consistency_loss(model, images[:count], classes, ig_steps=config.ig_steps)


class FoldTrainer:
    """Trains one fold and keeps its best checkpoint (by validation AUC) in `folder/best.pt`."""

    def __init__(self, config: TrainConfig, spec: DatasetSpec, train_idx: np.ndarray, val_idx: np.ndarray,
                 folder: Path, device: torch.device):
        self.config, self.spec, self.folder, self.device = config, spec, folder, device
        train_spec, val_spec = spec.subset(train_idx), spec.subset(val_idx)
        self.train_spec = train_spec
        self.train_set = ImageDataset(train_spec, config.image_size, augment=True, seed=config.seed)
        self.val_set = ImageDataset(val_spec, config.image_size)
        mean, std = channel_statistics(ImageDataset(train_spec, config.image_size, cache=False), seed=config.seed)
        self.model = build_model(config.model, len(spec.class_names), multi_label=spec.multi_label,
                                 pretrained=config.pretrained, **config.architecture_args())
        self.model.set_normalization(mean, std)
        self.model.to(device)
        self.bf16 = use_bf16(config.precision, device)
        self.channels_last = self.bf16 if config.channels_last is None else config.channels_last
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.info = CheckpointInfo(config.model, config.architecture_args(), list(spec.class_names),
                                   spec.multi_label, config.image_size, mean, std, spec.fingerprint())
        self.loss_fn = ClassificationLoss(class_weights(train_spec), spec.multi_label,
                                          config.label_smoothing).to(device)
        self.train_loader = self._train_loader(train_spec)
        self.val_loader = DataLoader(self.val_set, batch_size=config.batch_size, num_workers=config.workers)
        self.network = distributed.wrap(self.model, device)
        # a hospital has masks for a few images: guidance sees those of a fixed random share of the training set
        rng = np.random.default_rng(config.seed)
        self.guided = torch.from_numpy(rng.random(len(train_idx)) < config.guidance_share)
        self.context_rng = torch.Generator().manual_seed(config.seed + 1)  # which images are perturbed, and how
        self.steps_done = 0  # across epochs: L_exp goes on every `exp_every`-th optimiser step
        self.background = None  # the training-only background output (training.perturbation.BackgroundHead)
        if config.region_removal > 0 and config.removal_target == "background":
            self.background = perturbation.BackgroundHead(self.model.head.fc.in_features, config.dropout).to(device)
        parameters = list(self.model.parameters()) + (list(self.background.parameters())
                                                  if self.background is not None else [])
        self.optimizer = torch.optim.Adam(parameters, lr=config.lr, betas=(0.9, 0.999),
                                          weight_decay=config.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=max(config.epochs, 1))

    def _train_loader(self, train_spec: DatasetSpec) -> DataLoader:
        generator = torch.Generator().manual_seed(self.config.seed)
        sampler = None
        if distributed.is_active():
            sampler = distributed.sampler(self.train_set, self.config.seed)
        elif self.config.weighted_sampler and not train_spec.multi_label:
            weights = class_weights(train_spec)[torch.as_tensor(train_spec.targets())]
            sampler = WeightedRandomSampler(weights.double(), len(weights), generator=generator)
        return DataLoader(self.train_set, batch_size=self.config.batch_size, shuffle=sampler is None,
                          sampler=sampler, generator=generator, num_workers=self.config.workers, drop_last=False)

    def _guided_masks(self, batch: dict) -> torch.Tensor:
        """The batch's masks [N,H,W]; those of the images outside the guided share count as none (255)."""
        return torch.where(self.guided[batch["index"]][:, None, None], batch["mask"], 255)

    def _train_epoch(self, progress: Progress, epoch: int) -> tuple[float, float, float, float]:
        """Mean classification loss (over the images that keep their label), mean L_exp (nan when alpha is 0),
        mean guidance loss (nan without) and mean region-removal loss (nan without; the uniform target's divergence
        or the background target's cross-entropy, `training.perturbation`) over one epoch."""
        self.network.train()
        if hasattr(self.train_loader.sampler, "set_epoch"):
            self.train_loader.sampler.set_epoch(epoch)
        task = progress.add_task(f"epoch {epoch + 1}", total=len(self.train_loader))
        cls_total, cls_seen, exp_values, guide_values, removal_values = 0.0, 0, [], [], []
        perturbing = self.config.context_blur > 0 or self.config.region_removal > 0
        kind = self.config.guidance
        gate = guidance.gate_logits(self.model) if kind == "attention" else nullcontext({})
        head = perturbation.head_features(self.model) if self.background is not None else nullcontext({})
        with gate as record, head as features:  # the gate's logits and the head's input of each forward pass
            for batch in self.train_loader:
                images, targets = batch["image"], batch["target"].to(self.device)
                removed = torch.zeros(len(images), dtype=torch.bool)
                if perturbing:  # counterfactual perturbation (training.perturbation)
                    perturbed = perturbation.perturb(images, self._guided_masks(batch), self.config.context_blur,
                                                     self.config.region_removal, self.context_rng)
                    images, removed = perturbed.images, perturbed.removed.to(self.device)
                images = images.to(self.device)
                if self.channels_last:
                    images = images.contiguous(memory_format=torch.channels_last)
                with autocast(self.device, self.bf16):
                    logits = self.network(images)
                    gate_logits = record.get("logits")  # before L_exp's own forward pass replaces it
                    kept = ~removed  # a batch of removed images only has no classification term (not NaN)
                    loss = self.loss_fn(logits[kept], targets[kept]) if kept.any() else logits.sum() * 0.0
                    cls_total += loss.item() * int(kept.sum())
                    cls_seen += int(kept.sum())
                    if self.config.region_removal > 0:  # no lesion left: the background output, or no answer
                        # the head's input of this forward pass: read before L_exp and rrr run passes of their own
                        removal = (perturbation.background_loss(logits, self.background(features["features"]),
                                                                targets, removed)
                                   if self.background is not None else perturbation.no_evidence_loss(logits[removed]))
                        removal_values.append(removal.item())
                        loss = loss + self.config.region_removal_weight * removal
                    if self.config.alpha_exp > 0 and self.steps_done % self.config.exp_every == 0:
                        exp = explanation_loss(self.model, images, targets, logits.detach(), self.config)
                        exp_values.append(exp.item())
                        loss = loss + self.config.alpha_exp * exp
                    if kind != "none":  # the masks of the images outside the guided share count as none (255)
                        masks = self._guided_masks(batch).to(self.device)
                        guide = (guidance.attention_loss(gate_logits, masks) if kind == "attention" else
                                 guidance.rrr_loss(self.model, images, masks, self.config.guidance_images,
                                                   self.model.multi_label))
                        guide_values.append(guide.item())
                        loss = loss + self.config.guidance_weight * guide
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                self.steps_done += 1
                progress.update(task, advance=1)
        progress.remove_task(task)
        self.scheduler.step()
        return (cls_total / max(cls_seen, 1), float(np.mean(exp_values)) if exp_values else math.nan,
                float(np.mean(guide_values)) if guide_values else math.nan,
                float(np.mean(removal_values)) if removal_values else math.nan)

    def fit(self) -> dict:
        """Train until `epochs` or early stopping; returns the best epoch's validation metrics."""
        self.folder.mkdir(parents=True, exist_ok=True)
        history: list[dict] = []
        best: dict | None = None
        best_loss, stale = math.inf, 0
        columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TimeElapsedColumn()]
        with Progress(*columns, console=console, transient=True,
                      disable=not distributed.is_main() or not console.is_terminal) as progress:
            for epoch in range(self.config.epochs):
                start = time.perf_counter()
                train_loss, exp_loss, guidance_loss, removal_loss = self._train_epoch(progress, epoch)
                train_seconds = time.perf_counter() - start
                probabilities, targets, val_loss = predict_batches(
                    self.model, self.val_loader, self.device, self.bf16, self.channels_last,
                    self.loss_fn)
                metrics = classification_metrics(probabilities, targets, self.spec.class_names, self.spec.multi_label)
                row = {"epoch": epoch + 1, "train_loss": train_loss, "exp_loss": exp_loss,
                       "guidance_loss": guidance_loss, "removal_loss": removal_loss, "val_loss": val_loss,
                       **{k: metrics[k] for k in ("accuracy", "auc", "precision", "recall", "f1")},
                       "lr": self.scheduler.get_last_lr()[0], "train_seconds": train_seconds,
                       "epoch_seconds": time.perf_counter() - start}
                history.append(row)
                improved = best is None or _better(metrics, val_loss, best)
                if improved:
                    best = {**metrics, "val_loss": val_loss, "epoch": epoch + 1}
                    if distributed.is_main():
                        self.info.metrics = {"validation": best}
                        save_checkpoint(self.folder / "best.pt", self.model, self.info)
                        if self.background is not None:  # beside best.pt, never in it: nothing served sees it
                            save_atomically(self.background.state_dict(),
                                            self.folder / perturbation.BACKGROUND_HEAD_FILE)
                        plot_roc(probabilities, targets, self.spec.class_names, self.spec.multi_label,
                                 self.folder / "roc.png", f"{self.folder.name} epoch {epoch + 1}")
                if distributed.is_main():
                    _write_history(self.folder, history)
                    console.print(f"{self.folder.name} epoch {row['epoch']}: train_loss {train_loss:.4f} "
                                  f"val_loss {val_loss:.4f} acc {row['accuracy']:.3f} auc {row['auc']:.3f} "
                                  f"({row['epoch_seconds']:.1f} s){' *' if improved else ''}", highlight=False)
                val_loss = distributed.from_main(val_loss)
                if val_loss < best_loss - 1e-4:
                    best_loss, stale = val_loss, 0
                else:
                    stale += 1
                    if stale >= self.config.patience:
                        console.print(f"{self.folder.name}: early stop after {epoch + 1} epochs")
                        break
        assert best is not None, "training ran no epoch"
        calibration = self.calibrate() if distributed.is_main() else {}
        return {**best, **calibration, "epochs_run": len(history),
                "mean_epoch_seconds": float(np.mean([h["epoch_seconds"] for h in history]))}

    def calibrate(self) -> dict:
        """Reload the best checkpoint, fit its temperature on this fold's validation logits (when `calibrate`;
        T = 1 is kept on a fold it gets all right: `applied_temperature` says why), store it in the
        checkpoint and draw the calibrated reliability diagram. Returns the temperature and the
        validation ECE and NLL before and after (T minimises the NLL; the binned ECE of a small validation fold
        can still rise); the other validation metrics stay those of the uncalibrated
        probabilities (accuracy is the same: T does not change the argmax)."""
        state = torch.load(self.folder / "best.pt", map_location=self.device, weights_only=True)["state_dict"]
        self.model.load_state_dict(state)
        logits, targets = predict_logits(self.model, self.val_loader, self.device, self.bf16, self.channels_last)
        temperature, fitted, note = (applied_temperature(logits, targets, self.model.multi_label)
                                     if self.config.calibrate else (1.0, 1.0, None))
        ece = {}
        for name, value in (("before", 1.0), ("after", temperature)):  # the model ends with the fitted T
            self.model.temperature = value
            probabilities = self.model.probabilities(torch.from_numpy(logits)).numpy()
            ece[name] = expected_calibration_error(probabilities, targets, self.model.multi_label)
        plot_reliability(reliability_bins(probabilities, targets, self.model.multi_label),  # calibrated
                         self.folder / "reliability.png",
                         f"{self.folder.name} T = {temperature:.3f}, ECE {ece['before']:.3f} -> {ece['after']:.3f}")
        calibration = {"temperature": temperature, "ece_before": ece["before"], "ece_after": ece["after"],
                       "nll_before": negative_log_likelihood(logits, targets, 1.0, self.model.multi_label),
                       "nll_after": negative_log_likelihood(logits, targets, temperature, self.model.multi_label),
                       "calibrated": self.config.calibrate, "fitted_temperature": fitted, "note": note}
        self.info.temperature = temperature
        self.info.metrics = {**self.info.metrics, "calibration": calibration}
        self.info.scope = self.fit_scope().to_dict()
        save_checkpoint(self.folder / "best.pt", self.model, self.info)
        if self.config.calibrate:
            console.print(f"{self.folder.name}: temperature {temperature:.3f}, validation ECE "
                          f"{ece['before']:.4f} -> {ece['after']:.4f}"
                          + (f" (fit {fitted:.3f}: {note})" if note else ""), highlight=False)
        return calibration


    def fit_scope(self) -> Scope:
        """The calibrated model's scope (`medxai.scope.fit.fit_scope`): intended use from the options or the data's
        DICOM tags, OOD detector on the training images, threshold and conformal quantile on this fold's
        validation images."""
        use = intended_use_of([r.source for r in self.train_spec.records], self.spec.class_names,
                              self.config.image_size, self.config.modality, self.config.body_part)
        scope = fit_scope(self.model, ImageDataset(self.train_spec, self.config.image_size, cache=False),
                          self.val_set, use, self.config.ood_accept, self.config.conformal_alpha)
        figures = scope.validation
        console.print(f"{self.folder.name}: scope {use.describe()}; OOD threshold {scope.threshold:.1f} accepts "
                      f"{figures['accepted']:.3f} of validation"
                      + (f"; prediction sets at alpha {scope.alpha:g} cover {figures['coverage']:.3f}, mean size "
                         f"{figures['mean_set_size']:.2f}" if "coverage" in figures else ""), highlight=False)
        return scope


def _better(metrics: dict, val_loss: float, best: dict) -> bool:
    """Higher validation AUC wins; a tie (or AUC undefined) falls back to lower validation loss."""
    auc, best_auc = metrics["auc"], best["auc"]
    if not math.isnan(auc) and (math.isnan(best_auc) or auc > best_auc + 1e-9):
        return True
    return (math.isnan(auc) or abs(auc - best_auc) <= 1e-9) and val_loss < best["val_loss"]


def _write_history(folder: Path, history: list[dict]) -> None:
    (folder / "history.json").write_text(json.dumps(history, indent=2))
    with open(folder / "history.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)


def _summary(fold_results: list[dict]) -> dict:
    keys = ("accuracy", "auc", "precision", "recall", "f1", "val_loss")
    values = {k: [r[k] for r in fold_results] for k in keys}
    return {"mean": {k: float(np.nanmean(v)) for k, v in values.items()},
            "std": {k: float(np.nanstd(v)) for k, v in values.items()}}


def train(config: TrainConfig) -> dict:
    """Run every fold, pick the fold with the best validation AUC, write RUN/best.pt and RUN/metrics.json."""
    if config.epochs < 1 or config.folds < 1 or config.batch_size < 1 or config.image_size < 32:
        raise UserError("epochs, folds and batch size must be >= 1 and image size >= 32")
    if config.alpha_exp < 0:
        raise UserError("--alpha-exp must be >= 0")
    if config.guidance not in guidance.KINDS:
        raise UserError(f"--guidance must be one of {', '.join(guidance.KINDS)}, got '{config.guidance}'")
    if config.guidance_weight < 0 or not 0 < config.guidance_share <= 1 or config.guidance_images < 1:
        raise UserError("--guidance-weight must be >= 0, --guidance-share in (0, 1] and --guidance-images >= 1")
    if not 0 <= config.context_blur <= 1:
        raise UserError(f"--context-blur must lie in [0, 1], got {config.context_blur}")
    if config.region_removal < 0 or config.region_removal_weight < 0 or \
            config.context_blur + 2 * config.region_removal > 1:
        raise UserError(f"--region-removal and its weight must be >= 0, with --context-blur + 2 x --region-removal <= 1 (each "
                        f"removal has a displaced control), got {config.region_removal}")
    if config.removal_target not in perturbation.REMOVAL_TARGETS:
        raise UserError(f"--removal-target must be one of {', '.join(perturbation.REMOVAL_TARGETS)}, "
                        f"got '{config.removal_target}'")
    if config.removal_target == "background" and config.region_removal == 0:
        raise UserError("--removal-target background needs --region-removal > 0 (the share of images whose region is "
                        "removed and taught the background output)")
    if config.removal_target == "background" and distributed.world_size() > 1:
        raise UserError("--removal-target background trains on one process only (its output is not synchronised)")
    if not 0 < config.ood_accept < 1 or not 0 < config.conformal_alpha < 1:
        raise UserError("--ood-accept and --conformal-alpha must be between 0 and 1")
    if config.fold is not None and not 0 <= config.fold < config.folds:
        raise UserError(f"--fold must be between 0 and {config.folds - 1} (--folds {config.folds})")
    seed_everything(config.seed)
    device = distributed.setup()
    spec = load_dataset(config.data, uncertainty=config.uncertainty)
    if config.region_removal > 0 and spec.multi_label:
        raise UserError("--region-removal needs single-label data: a multi-label model has no single answer to "
                        "withhold")
    if config.guidance == "attention":  # refused before the run folder is written (a meta model: no memory)
        with torch.device("meta"):
            guidance.spatial_gate(build_model(config.model, len(spec.class_names), **config.architecture_args()))
    out = Path(config.out)
    if distributed.is_main():
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps({**asdict(config), "device": str(device),
                                                     "world_size": distributed.world_size(),
                                                     "hardware": hardware(device, config.precision)}, indent=2))
    pool = training_pool(spec)
    results = []
    for fold, train_idx, val_idx in folds(spec, pool, config.folds, config.val_fraction, config.seed):
        if config.fold is not None and fold != config.fold:
            continue
        seed_everything(config.seed + fold)
        trainer = FoldTrainer(config, spec, train_idx, val_idx, out / f"fold{fold}", device)
        if distributed.is_main():  # which images validated this fold: explanation quality is scored on them
            (out / f"fold{fold}").mkdir(parents=True, exist_ok=True)
            (out / f"fold{fold}" / "validation_ids.txt").write_text(
                "".join(f"{spec.records[i].image_id}\n" for i in val_idx))
        results.append({"fold": fold, "train_images": len(train_idx), "val_images": len(val_idx), **trainer.fit()})
        if distributed.is_main():
            (out / f"fold{fold}" / "result.json").write_text(json.dumps(results[-1], default=_json_default))
    if config.fold is not None:
        finished = [out / f"fold{k}" / "result.json" for k in range(config.folds)]
        if not all(path.is_file() for path in finished):
            distributed.teardown()
            return {**results[0], "selected_fold": None, "folds_finished": sum(p.is_file() for p in finished)}
        results = [json.loads(path.read_text()) for path in finished]
    selected = max(range(len(results)), key=lambda i: (np.nan_to_num(results[i]["auc"], nan=-1),
                                                        -results[i]["val_loss"]))
    chosen = results[selected]
    metrics = {**{k: chosen[k] for k in ("accuracy", "auc", "precision", "recall", "f1", "val_loss")},
               **{k: chosen[k] for k in ("temperature", "ece_before", "ece_after") if k in chosen},
               "selected_fold": selected, "folds": results, **_summary(results),
               "data": str(config.data), "data_fingerprint": spec.fingerprint(), "device": str(device)}
    if distributed.is_main():
        shutil.copyfile(out / f"fold{selected}" / "best.pt", out / "best.pt")
        shutil.copyfile(out / f"fold{selected}" / "roc.png", out / "roc.png")
        shutil.copyfile(out / f"fold{selected}" / "reliability.png", out / "reliability.png")
        shutil.copyfile(out / f"fold{selected}" / "validation_ids.txt", out / "validation_ids.txt")
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=_json_default))
    distributed.teardown()
    return metrics


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")
