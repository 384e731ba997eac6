"""The release gate: a model is published only if its graphs match PyTorch and its explanations are
sensitive to its weights (the model-randomisation sanity check, Adebayo et al. 2018).

Returns the reasons for refusal instead of raising, so the caller can print them and let `--force` override.
"""

import torch

from export.parity import ParityReport
from medxai.models import MedicalClassifier


def release_gate(model: MedicalClassifier, pixels: torch.Tensor, parity: list[ParityReport]) -> list[str]:
    """Why this model must not be released (empty when it may be)."""
    reasons = [report.line() for report in parity if not report.passed]
    return reasons + _sanity_reasons(model, pixels)


def _sanity_reasons(model: MedicalClassifier, pixels: torch.Tensor) -> list[str]:
    from medxai.explain.sanity import model_randomisation_check  # lazily: captum is heavy to import
    with torch.no_grad():
        targets = model(pixels).argmax(dim=1)
    result = model_randomisation_check(model, pixels, targets)
    if result["passed"]:
        return []
    constant = f"; the {result['method']} maps of {len(result['degenerate'])} of {len(pixels)} sample images are " \
               f"constant" if result["degenerate"] else ""
    return [f"explanations barely change when the weights are randomised (Spearman {result['spearman']:.2f}"
            f"{constant}): the model-randomisation sanity check failed"]
