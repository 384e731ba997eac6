"""Results to messages: maps as compact uint8 arrays, optional PNG overlays, predictions with class names."""

import io

import numpy as np
import torch
from PIL import Image

from explain_service.protos import explain_pb2 as pb
from medxai.checkpoint import CheckpointInfo
from medxai.explain import Explanation, undefined
from medxai.explain.overlay import overlay
from medxai.scope import Assessment, Scope

DIAGNOSTICS = ("completeness_gap", "steps", "r2", "samples", "segments", "dead", "relu_removed",
               "faithfulness_undecided", "converged")
"""Numeric diagnostics sent with a map (booleans as 1 or 0); the fused map's `weight_<method>` (per-image fusion
weights) and `gap_<method>` (the faithfulness rule's insertion - deletion AUC of each part) too."""


def map_bytes(saliency: torch.Tensor) -> bytes:
    """A map in [0, 1] as uint8 0-255, row-major."""
    return (saliency.clamp(0, 1) * 255).round().to(torch.uint8).numpy().tobytes()


def overlay_png(pixels: torch.Tensor, saliency: torch.Tensor) -> bytes:
    """The image [3,S,S] with the map blended over it (`medxai.explain.overlay`), as PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(overlay(pixels.permute(1, 2, 0).numpy(), saliency.numpy())).save(buffer, format="PNG")
    return buffer.getvalue()


def map_message(result: Explanation, pixels: torch.Tensor, overlays: bool) -> pb.Map:
    """One image's map; numeric diagnostics of a single method (the fused map's are its parts'), those that
    cannot be computed in `undefined` with their reason instead."""
    saliency = result.maps[0]
    found = result.diagnostics[0]
    diagnostics = {key: float(value) for key, value in found.items()
                   if (key in DIAGNOSTICS or key.startswith(("weight_", "gap_"))) and value is not None}
    return pb.Map(method=result.method, shape=list(saliency.shape), data=map_bytes(saliency),
                  overlay_png=overlay_png(pixels, saliency) if overlays else b"", diagnostics=diagnostics,
                  seconds=result.seconds, undefined=found.get(undefined.KEY, {}))


def prediction_message(probabilities: np.ndarray, class_names: list[str], target: int) -> pb.Prediction:
    return pb.Prediction(probabilities=[pb.ClassProbability(name=name, probability=float(value))
                                        for name, value in zip(class_names, probabilities)],
                         predicted=int(np.argmax(probabilities)), target=target)


def model_message(name: str, version: str, checkpoint_sha256: str, info: CheckpointInfo) -> pb.ModelInfo:
    scope = Scope.from_dict(info.scope)
    return pb.ModelInfo(name=name, version=version, checkpoint_sha256=checkpoint_sha256,
                        class_names=list(info.class_names), image_size=info.image_size,
                        intended_use=scope.intended_use.describe() if scope else "")


def scope_message(assessment: Assessment, research_only: bool = False) -> pb.Scope:
    """`medxai.scope.Assessment` as its message; absent numbers stay unset."""
    message = pb.Scope(in_scope=assessment.in_scope, reason=assessment.reason,
                       prediction_set=assessment.prediction_set, alpha=assessment.alpha or 0.0,
                       refer=assessment.refer, research_only=research_only)
    if assessment.ood_score is not None:
        message.ood_score = assessment.ood_score
    if assessment.threshold is not None:
        message.threshold = assessment.threshold
    return message
