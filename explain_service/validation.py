"""Requests to pixels and settings, or a `UserError` saying what is wrong (the server answers INVALID_ARGUMENT).

Every limit a client could use to make one request unreasonably expensive is checked here, before any work.
"""

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from explain_service import chunked_ig
from explain_service.protos import explain_pb2 as pb
from medxai.data.dataset import to_model_input
from medxai.data.decode import FORMAT_LIST, array_to_pixels, image_format, read_image
from medxai.data.values import collected_warnings
from medxai.errors import UserError
from medxai.explain import cam
from medxai.explain.fusion import DEFAULT_RULE, RULE_WEIGHTS, RULES, WEIGHTS, rule_passes
from medxai.explain.pipeline import DEFAULT_METHODS

CAMS = ("cam", *cam.VARIANTS)
METHODS = (*CAMS, "ig", "lime", "fusion")
"""The order they are computed and streamed in, except that the fused map comes as soon as the maps it fuses are
done (before LIME under the default rule, which does not fuse it); an empty request gets DEFAULT_METHODS."""
ARRAY_DTYPES = {"uint8": np.dtype("<u1"), "float32": np.dtype("<f4")}
DECODE_BYTES_PER_PIXEL = 56
"""Peak memory of decoding one pixel (float intermediates): 36 B measured for 8-bit PNG and JPEG, 42 for 16-bit
PNG, 50 for 16-bit DICOM (tracemalloc, 1024x1024 images), plus Pillow's own buffers, which it does not see."""
IG_BASELINES = ("zero", "blur")
LIME_SEGMENTATIONS = ("quickshift", "slic")
DEFAULT_IG_STEPS = 8
DEFAULT_IG_MAX_STEPS = 64
"""As in `medxai.explain.integrated_gradients`: steps double up to this while the completeness gap is over 5 %."""
MAX_IG_STEPS = 256
DEFAULT_LIME_SAMPLES = 500
LIME_SAMPLES_RANGE = (10, 5000)
FAITHFULNESS_STEPS = 16
DEFAULT_WORK_BUDGET = 2000
"""Model passes one request may cost (the defaults cost 658, 794 with faithfulness curves): a few seconds of
one core at 224 px on a GPU-less pod, so one request cannot hold the service for minutes."""
MAX_WORK_BUDGET = 20000


@dataclass
class ExplainSettings:
    """What to compute, validated; `audit()` is the record of it kept in the audit trail."""

    methods: list[str]
    target: int | None
    ig: dict = field(default_factory=dict)
    lime: dict = field(default_factory=dict)
    fusion_weights: dict[str, float] = field(default_factory=dict)
    fusion_rule: str = DEFAULT_RULE
    faithfulness: bool = False
    overlays: bool = False

    def audit(self) -> dict:
        return {"methods": self.methods, "target": self.target, "ig": self.ig, "lime": self.lime,
                "fusion_weights": self.fusion_weights, "fusion_rule": self.fusion_rule,
                "faithfulness": self.faithfulness, "overlays": self.overlays,
                "model_passes": self.model_passes()}

    def model_passes(self) -> dict[str, int]:
        """The most model passes (images through the model) each part of the request may take."""
        cost = {"predict": 1}
        for name in CAMS:
            if name in self.methods:
                cost[name] = 1
        if "ig" in self.methods:
            cost["ig"] = chunked_ig.passes(self.ig["steps"], self.ig["max_steps"])
        if "lime" in self.methods:
            cost["lime"] = self.lime["samples"]
        if "fusion" in self.methods and rule_passes(self.fusion_rule, len(self.fusion_weights)):
            cost["fusion"] = rule_passes(self.fusion_rule, len(self.fusion_weights))
        if self.faithfulness:
            cost["faithfulness"] = len(self.methods) * 2 * (FAITHFULNESS_STEPS + 1)
        return cost


def max_pixels(memory_budget_mb: int, max_concurrent: int) -> int:
    """The largest image that `max_concurrent` requests can decode at once within `memory_budget_mb`."""
    return memory_budget_mb * 2**20 // (max_concurrent * DECODE_BYTES_PER_PIXEL)


def decode_image(image: pb.Image, image_size: int, max_pixels: int) -> tuple[torch.Tensor, bytes, list[str]]:
    """The model input [3,S,S], the bytes the audit trail hashes (file bytes, or the raw array's bytes) and the
    decoder's warnings about the input (`medxai.data.values.collected_warnings`).

    Any failure to decode or reshape is the input's fault and becomes a `UserError`: hostile bytes reach
    decoders (Pillow, pydicom, NumPy) in ways their own error handling does not all foresee."""
    source = image.WhichOneof("source")
    if source is None:
        raise UserError(f"the request has no image: set image.encoded ({FORMAT_LIST} bytes) or image.array")
    try:
        with collected_warnings() as notes:
            if source == "encoded":
                _check_format(image.encoded)
                pixels, raw = read_image(image.encoded, max_pixels=max_pixels), image.encoded
            else:
                pixels, raw = _raw_array(image.array, max_pixels), image.array.data
            return to_model_input(pixels, image_size), raw, notes
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"cannot decode the image ({type(exc).__name__}: {str(exc)[:200]})") from None


def _check_format(data: bytes) -> None:
    """The formats `medxai.data.decode` accepts (the CLI's and the dashboard's), not everything Pillow opens."""
    if data and image_format(data) is None:
        raise UserError(f"image.encoded must be {FORMAT_LIST} (starts {data[:8]!r}); send other formats as "
                        f"image.array")


def _raw_array(array: pb.RawArray, max_pixels: int) -> np.ndarray:
    if array.dtype not in ARRAY_DTYPES:
        raise UserError(f"image.array.dtype must be one of {', '.join(ARRAY_DTYPES)}, got '{array.dtype}'")
    shape = tuple(array.shape)
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise UserError(f"image.array.shape must be HxW, HxWx1 or HxWx3 with positive sides, got {list(shape)}")
    if shape[0] * shape[1] > max_pixels:
        raise UserError(f"image of {shape[0]}x{shape[1]} pixels exceeds the limit of {max_pixels}")
    dtype = ARRAY_DTYPES[array.dtype]
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow on hostile shapes
    if len(array.data) != expected:
        raise UserError(f"image.array.data has {len(array.data)} bytes; shape {list(shape)} of {array.dtype} "
                        f"needs {expected}")
    return array_to_pixels(np.frombuffer(array.data, dtype=dtype).reshape(shape))


def explain_settings(request: pb.ExplainRequest, num_classes: int,
                     work_budget: int = DEFAULT_WORK_BUDGET) -> ExplainSettings:
    """The request's settings, refused when it asks for more than `work_budget` model passes."""
    unknown = [name for name in request.methods if name not in METHODS]
    if unknown:
        raise UserError(f"unknown method {unknown[0]!r}; choose from {', '.join(METHODS)}")
    methods = [name for name in METHODS if name in (request.methods or DEFAULT_METHODS)]
    rule = request.fusion_rule or DEFAULT_RULE
    if rule not in RULES:
        raise UserError(f"fusion_rule must be one of {', '.join(RULES)}, got '{rule}'")
    target = request.target if request.HasField("target") else None
    if target is not None and not 0 <= target < num_classes:
        raise UserError(f"target must be a class index in [0, {num_classes - 1}], got {target}")
    fusion_weights = _weights(request.fusion_weights, methods, rule)
    settings = ExplainSettings(methods=_streamed_order(methods, fusion_weights), target=target, ig=_ig(request.ig),
                               lime=_lime(request.lime), fusion_weights=fusion_weights, fusion_rule=rule,
                               faithfulness=request.faithfulness, overlays=request.overlays)
    cost = settings.model_passes()
    if sum(cost.values()) > work_budget:
        parts = ", ".join(f"{name} {passes}" for name, passes in cost.items())
        raise UserError(f"this request may take {sum(cost.values())} model passes ({parts}); this server's limit "
                        f"is {work_budget}: ask for fewer IG steps or LIME samples, or no faithfulness curves")
    return settings


def _ig(settings: pb.IntegratedGradientsSettings) -> dict:
    steps = settings.steps or DEFAULT_IG_STEPS
    max_steps = settings.max_steps or max(steps, DEFAULT_IG_MAX_STEPS)
    if not 1 <= steps <= max_steps <= MAX_IG_STEPS:
        raise UserError(f"ig.steps and ig.max_steps must satisfy 1 <= steps <= max_steps <= {MAX_IG_STEPS}, "
                        f"got {settings.steps} and {settings.max_steps}")
    baseline = settings.baseline or "zero"
    if baseline not in IG_BASELINES:
        raise UserError(f"ig.baseline must be one of {', '.join(IG_BASELINES)}, got '{baseline}'")
    return {"steps": steps, "max_steps": max_steps, "baseline": baseline}


def _lime(settings: pb.LimeSettings) -> dict:
    samples = settings.samples or DEFAULT_LIME_SAMPLES
    low, high = LIME_SAMPLES_RANGE
    if not low <= samples <= high:
        raise UserError(f"lime.samples must be in [{low}, {high}], got {settings.samples}")
    if settings.seed < 0:
        raise UserError(f"lime.seed must be >= 0, got {settings.seed}")
    segmentation = settings.segmentation or "quickshift"
    if segmentation not in LIME_SEGMENTATIONS:
        raise UserError(f"lime.segmentation must be one of {', '.join(LIME_SEGMENTATIONS)}, got '{segmentation}'")
    return {"samples": samples, "seed": settings.seed, "segmentation": segmentation}


def _weights(requested: dict[str, float], methods: list[str], rule: str) -> dict[str, float]:
    """Fusion weights of the fused methods, those requested with a positive weight: the rule's base weights
    (`fusion.RULE_WEIGHTS`; LIME's is 0 under `faithfulness`) overridden by the request's, each finite and >= 0."""
    unknown = sorted(set(requested) - set(WEIGHTS))
    if unknown:
        raise UserError(f"fusion_weights has unknown method {unknown[0]!r}; choose from {', '.join(WEIGHTS)}")
    weights = RULE_WEIGHTS[rule] | dict(requested)
    if any(not np.isfinite(value) or value < 0 for value in weights.values()):
        raise UserError(f"fusion weights must be finite and >= 0, got {dict(requested)}")
    if "fusion" not in methods:
        return {}
    fused = {name: weights[name] for name in methods if name in WEIGHTS and weights[name] > 0}
    if not fused:
        raise UserError(f"fusion needs at least one of {', '.join(WEIGHTS)} with a positive weight "
                        f"(rule {rule}: {', '.join(f'{name} {weights[name]:g}' for name in methods if name in WEIGHTS)})")
    return fused


def _streamed_order(methods: list[str], fused: dict[str, float]) -> list[str]:
    """`methods` with the fused map moved to just after the last map it fuses, so it streams without waiting for
    a map it does not use."""
    if "fusion" not in methods:
        return methods
    rest = [name for name in methods if name != "fusion"]
    last = max(rest.index(name) for name in fused)
    return [*rest[:last + 1], "fusion", *rest[last + 1:]]
