"""The release gate: a model is published only if its graphs match PyTorch and its explanations are
sensitive to its weights (the model-randomisation sanity check, Adebayo et al. 2018).

Returns the reasons for refusal instead of raising, so the caller can print them and let `--force` override.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from export.parity import ParityReport
from medxai.models import MedicalClassifier


@dataclass
class GateDecision:
    """`refusals`: why the model must not be released (empty when it may be); `randomisation`: the
    model-randomisation check of each served map (spearman, dead sample images, passed)."""

    refusals: list[str]
    randomisation: dict = field(default_factory=dict)


def release_gate(model: MedicalClassifier, pixels: torch.Tensor, parity: list[ParityReport],
                 log: Callable[[str], None] = print) -> GateDecision:
    """The gate's decision on `model` for sample `pixels` [N,3,S,S]; each served map's check is logged."""
    reasons = [report.line() for report in parity if not report.passed]
    sanity, checks = _sanity_reasons(model, pixels, log)
    return GateDecision(reasons + sanity, checks)


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
    if result["all_dead"]:
        return [f"every served map ({', '.join(result['methods'])}) is dead on all {len(pixels)} sample images: "
                f"the model gives no positive evidence to explain: the model-randomisation sanity check failed"], checks
    if result["passed"]:
        return [], checks
    decisive = result["methods"][result["decisive"]]
    dead = f"; the {result['decisive']} maps of {len(decisive['dead'])} of {len(pixels)} sample images are " \
           f"dead" if decisive["dead"] else ""
    return [f"the {result['decisive']} map barely changes when the weights are randomised (Spearman "
            f"{result['spearman']:.2f}{dead}): the model-randomisation sanity check failed"], checks
