"""What the checkpoint stores about a model's scope (`CheckpointInfo.scope`, a dict of plain values and tensors,
loadable with weights_only=True): the intended use, the out-of-distribution detector with its threshold, and the
conformal quantile."""

from dataclasses import dataclass, field

import torch

from medxai.scope.conformal import DEFAULT_ALPHA, DEFAULT_METHOD
from medxai.scope.intended_use import IntendedUse
from medxai.scope.ood import MahalanobisDetector

DEFAULT_ACCEPT = 0.99
"""Share of the validation fold's images the OOD threshold accepts."""


@dataclass
class Scope:
    """A fitted scope. `threshold` is in the detector's units (squared Mahalanobis distance); `quantile` is the
    conformal quantile of `conformal_method`'s scores for error rate `alpha` (None for multi-label models,
    which get no prediction sets)."""

    intended_use: IntendedUse
    detector: MahalanobisDetector | None = None
    threshold: float = float("inf")
    accept: float = DEFAULT_ACCEPT
    alpha: float = DEFAULT_ALPHA
    quantile: float | None = None
    validation: dict = field(default_factory=dict)  # figures measured when fitted (acceptance, coverage, set size)
    conformal_method: str = DEFAULT_METHOD

    def to_dict(self) -> dict:
        ood = None if self.detector is None else {
            "method": "mahalanobis", "class_means": self.detector.class_means.clone(),
            "precision": self.detector.precision.clone(), "threshold": self.threshold, "accept": self.accept}
        return {"intended_use": self.intended_use.as_dict(), "ood": ood,
                "conformal": {"method": self.conformal_method, "alpha": self.alpha, "quantile": self.quantile},
                "validation": dict(self.validation)}

    @classmethod
    def from_dict(cls, data: dict) -> "Scope | None":
        """The scope a checkpoint stores, or None for a checkpoint trained before scopes existed."""
        if not data:
            return None
        ood, conformal = data.get("ood"), data.get("conformal") or {}
        detector = None if not ood else MahalanobisDetector(torch.as_tensor(ood["class_means"]),
                                                            torch.as_tensor(ood["precision"]))
        return cls(IntendedUse(**data.get("intended_use", {})), detector,
                   float(ood["threshold"]) if ood else float("inf"), float(ood["accept"]) if ood else DEFAULT_ACCEPT,
                   float(conformal.get("alpha", DEFAULT_ALPHA)), conformal.get("quantile"),
                   dict(data.get("validation", {})), conformal.get("method", DEFAULT_METHOD))
