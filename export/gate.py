"""The release gate: a model is published only if its graphs match PyTorch, its explanations are sensitive to
its weights (the model-randomisation sanity check, Adebayo et al. 2018) and its evidence lies inside the expert
regions of the sample images (the shortcut check, `export.shortcut`; refuse, warn or off).

Returns the reasons for refusal instead of raising, so the caller can print them and let `--force` override.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from export.parity import ParityReport
from export.shortcut import explained_per_class, shortcut_check
from medxai.models import MedicalClassifier


SHORTCUT_MODES = ("refuse", "warn", "off")
"""What a failed shortcut check does: refuse the release, only log a warning, or the check is not run."""


@dataclass
class GateDecision:
    """`refusals`: why the model must not be released (empty when it may be); `randomisation`: the
    model-randomisation check of each served map (spearman, dead sample images, passed); `shortcut`: the
    shortcut check's mode and numbers (`ShortcutReport.as_dict`), or why it was skipped."""

    refusals: list[str]
    randomisation: dict = field(default_factory=dict)
    shortcut: dict = field(default_factory=dict)


def release_gate(model: MedicalClassifier, pixels: torch.Tensor, parity: list[ParityReport],
                 log: Callable[[str], None] = print, *, regions: torch.Tensor | None = None,
                 labels: torch.Tensor | None = None, shortcut: str = "refuse",
                 class_names: list[str] | None = None) -> GateDecision:
    """The gate's decision on `model` for sample `pixels` [N,3,S,S] with their expert `regions` [N,S,S] (bool)
    and class `labels` [N] where known (`class_names` name them in the shortcut check's rows); every check is
    logged. `shortcut` is one of SHORTCUT_MODES."""
    if shortcut not in SHORTCUT_MODES:
        raise ValueError(f"shortcut must be one of {SHORTCUT_MODES}, got '{shortcut}'")
    reasons = [report.line() for report in parity if not report.passed]
    sanity, checks = _sanity_reasons(model, pixels, log)
    outside, record = _shortcut_reasons(model, pixels, regions, labels, class_names, shortcut, log)
    return GateDecision(reasons + sanity + outside, checks, record)


GATE_OPTIONS = {"lime": {"max_samples": 100, "min_samples": 50}, "ig": {"max_steps": 8}}
"""Lighter LIME and IG for the gate's sample images: the check compares rankings, not fine detail."""
GATE_IMAGES = 8
"""Sample images the randomisation check explains (twice each, every served map): the check is a mean of rank
correlations, stable at 8 images, and it runs on every export."""


def _sanity_reasons(model: MedicalClassifier, pixels: torch.Tensor, log: Callable[[str], None]
                    ) -> tuple[list[str], dict]:
    from medxai.explain.sanity import model_randomisation_check  # lazily: captum is heavy to import
    pixels = pixels[:GATE_IMAGES]
    with torch.no_grad():
        targets = model(pixels).argmax(dim=1)
    result = model_randomisation_check(model, pixels, targets, options=GATE_OPTIONS)
    for method, row in result["methods"].items():
        dead = f", dead on {len(row['dead'])} of {len(pixels)}" if row["dead"] else ""
        log(f"randomisation check {method}: Spearman {row['spearman']:.2f}{dead}"
            f"{'' if row['passed'] else ' (unchanged)'}")
    checks = {method: {"spearman": round(row["spearman"], 4), "dead": len(row["dead"]), "passed": row["passed"]}
              for method, row in result["methods"].items()}
    return _sanity_refusals(result, len(pixels)), checks


def _sanity_refusals(result: dict, images: int) -> list[str]:
    """Why the model-randomisation check `result` refuses the model (empty when it passed)."""
    if result["all_dead"]:
        return [f"every served map ({', '.join(result['methods'])}) is dead on all {images} sample images: "
                f"the model gives no positive evidence to explain: the model-randomisation sanity check failed"]
    if result["passed"]:
        return []
    decisive = result["methods"][result["decisive"]]
    dead = f"; the {result['decisive']} maps of {len(decisive['dead'])} of {images} sample images are " \
           f"dead" if decisive["dead"] else ""
    return [f"the {result['decisive']} map barely changes when the weights are randomised (Spearman "
            f"{result['spearman']:.2f}{dead}): the model-randomisation sanity check failed"]


def _shortcut_reasons(model: MedicalClassifier, pixels: torch.Tensor, regions: torch.Tensor | None,
                      labels: torch.Tensor | None, class_names: list[str] | None, mode: str,
                      log: Callable[[str], None]
                      ) -> tuple[list[str], dict]:
    """The shortcut check on the sample images: the served maps of `shortcut.PER_CLASS` images of each class,
    explaining the true class (the randomisation check's maps explain the predicted class of the first few
    images, which can all be one class's)."""
    if mode == "off":
        return [], {"mode": mode}
    skipped = ("the sample images have no expert regions (masks or boxes) of the model's classes (give --data: "
               "a labelled folder of its own data)" if regions is None
               else "the model is multi-label (the check needs one class per image)" if labels is None
               else "every sample image's region is empty" if not bool(regions.flatten(1).any()) else None)
    if skipped:
        log(f"shortcut check skipped: {skipped}")
        return [], {"mode": mode, "skipped": skipped}
    from medxai.explain.pipeline import DEFAULT_METHODS, run_methods  # lazily: captum is heavy to import
    explained = explained_per_class(regions, labels)
    explanations = run_methods(model, pixels[explained], labels[explained], list(DEFAULT_METHODS), GATE_OPTIONS)
    report = shortcut_check(model, pixels, regions, labels, explanations, explained=explained,
                            class_names=class_names)
    maps = ", ".join(f"{method} {'dead' if share is None else f'{share:.3f}'}"
                     for method, share in report.outside.items())
    lift = "not known (dead)" if report.lift is None else f"{report.lift:.2f}x no-skill"
    log(f"shortcut check: {report.decisive} map's energy in the region {lift}; map energy outside the region "
        f"{maps} (no-skill {report.no_skill:.3f}, {report.explained} images); on the gate's {report.images} sample "
        f"images accuracy {report.accuracy:.3f}, region only {report.region_only_accuracy:.3f}"
        f"{'' if report.passed else ': the shortcut check failed'}")
    for name, row in report.by_class.items():
        class_lift = "not known (dead)" if row["lift"] is None else f"{row['lift']:.2f}x no-skill"
        log(f"shortcut check, class {name}: {report.decisive} map's energy in the region {class_lift} on "
            f"{row['explained']} images; accuracy {row['accuracy']:.3f}, region only {row['region_only_accuracy']:.3f} "
            f"on {row['images']}")
    if not report.passed and mode == "warn":
        log(f"warning: {report.reason}")
    return ([report.reason] if not report.passed and mode == "refuse" else []), {"mode": mode} | report.as_dict()
