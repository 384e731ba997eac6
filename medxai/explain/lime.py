"""LIME over superpixels (Ribeiro et al. 2016; seed paper §3.4): the `lime` package's surrogate, our sampler.

The perturbed batch goes through a pluggable `predict(images NHWC float in [0, 1]) -> probabilities [N,C]`: by
default ONNX Runtime on the model's serving graph on a CPU running fp32 (`onnx_predictor`, inference only), the
PyTorch model in bf16 where the hardware does it natively and on a GPU (`torch_predictor`); the service passes
the model Triton serves. Two departures from
`LimeImageExplainer.explain_instance`, both for speed, neither for the maths: the perturbed images are built
in one vectorised step per chunk (lime loops over superpixels in Python for every sample), and samples are
drawn in chunks until the surrogate's weights stop moving (`convergence`) instead of a fixed 1000.
The surrogate (kernel-weighted ridge on the on/off superpixel vectors, cosine distance to the original,
kernel width 0.25) is lime's own `LimeBase`, with lime's defaults.

Two defaults differ from lime's, both chosen by measurement (docs/evidence/maps.md): the surrogate
explains the class's log-odds, not its probability (`DEFAULT_SCORE`), and hidden superpixels show the blurred
image, not their own mean colour (`DEFAULT_HIDE`). lime's own is `score="probability", hide="mean"`.
"""

import time
from collections.abc import Callable

import numpy as np
import torch
from lime.lime_image import LimeImageExplainer
from skimage.segmentation import quickshift, slic
from sklearn.metrics import pairwise_distances
from torch import nn

from medxai.explain.base import Explanation, explanation, fast_mode, log_odds, model_device, predict_probabilities
from medxai.explain import lime_device, undefined
from medxai.explain.onnx_predictor import onnx_predictor
from medxai.metrics.faithfulness import blurred
from medxai.precision import use_bf16

Predict = Callable[[np.ndarray], np.ndarray]
SEGMENTATIONS = ("quickshift", "slic")
SCORES = ("log_odds", "probability")
DEFAULT_SCORE = "log_odds"
"""What the surrogate explains. lime's own is the probability; a confident model's probability is 1.0 in fp32
whatever is hidden, so LIME's map was all zero on half the demo's phantoms (issue 17); the log-odds move."""
HIDES = ("mean", "black", "blur")
DEFAULT_HIDE = "blur"
"""What a hidden superpixel shows: its own mean colour (lime's `hide_color=None`), black (`hide_color=0`), or
the image blurred as the deletion and insertion curves' substitute (`medxai.metrics.faithfulness.blurred`), the
default: "hidden" then means what it means to the faithfulness curves and the fusion rule. Of the three (log-odds
explained; 40 demo phantoms, 30 brain MRI and 20 PH2 validation images, 2026-12-01) the blur gave the best
deletion and insertion on all three sets and localised better than the mean colour; black localised best and
deleted worst (docs/evidence/maps.md)."""


def torch_predictor(model: nn.Module, precision: str = "auto", batch_size: int | None = None) -> Predict:
    """A `Predict` that runs the PyTorch model (in `fast_mode` at `precision`). Default batch: 16 on a CPU
    (faster than 64 on the 2-core CPU here: cache), 256 on a GPU."""
    batch_size = batch_size or (16 if model_device(model).type == "cpu" else 256)

    def predict(images: np.ndarray) -> np.ndarray:
        pixels = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).permute(0, 3, 1, 2)
        with fast_mode(model, precision):  # one change of the weights' layout for all chunks
            return torch.cat([predict_probabilities(model, chunk, precision) for chunk in pixels.split(batch_size)]).numpy()
    return predict


def default_predictor(model: nn.Module, precision: str = "auto") -> Predict:
    """The faster inference path for the perturbed batches: ONNX Runtime on a CPU running fp32 (inference only,
    faster than eager fp32), the PyTorch model where `precision` resolves to bf16 (AMX or AVX512_BF16 CPUs,
    where eager bf16 beats ONNX Runtime's fp32) and on a GPU."""
    if model_device(model).type == "cpu" and not use_bf16(precision, "cpu"):
        return onnx_predictor(model)
    return torch_predictor(model, precision)


def segment(image: np.ndarray, algorithm: str = "quickshift", seed: int = 0, n_segments: int = 100) -> np.ndarray:
    """Superpixel labels [H,W] from 0: quickshift with lime's default parameters (its count follows the image's
    texture: 9 on a smooth 96 px phantom), or SLIC asked for about `n_segments` at any image size (faster)."""
    if algorithm == "quickshift":
        return quickshift(image.astype(np.float64), kernel_size=4, max_dist=200, ratio=0.2, rng=seed)
    if algorithm == "slic":
        labels = slic(image, n_segments=n_segments, compactness=10, start_label=0)
        return np.unique(labels, return_inverse=True)[1].reshape(labels.shape)  # consecutive labels
    raise ValueError(f"unknown segmentation '{algorithm}'; choose one of {SEGMENTATIONS}")


def hidden_image(image: np.ndarray, segments: np.ndarray | None, hide: str = DEFAULT_HIDE) -> np.ndarray:
    """What hidden superpixels show [H,W,3] (float32) for an image [H,W,3] in [0, 1] and its superpixels [H,W]:
    each superpixel's mean colour (`hide="mean"`, lime's hide_color=None), black (`"black"`, lime's
    hide_color=0) or the blurred image (`"blur"`, the faithfulness curves' substitute). Raises ValueError for
    another `hide`."""
    if hide == "black":
        return np.zeros(image.shape, dtype=np.float32)
    if hide == "blur":
        pixels = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]
        return blurred(pixels)[0].permute(1, 2, 0).numpy()
    if hide == "mean":
        count = segments.max() + 1
        sizes = np.bincount(segments.ravel(), minlength=count)[:, None]
        means = np.stack([np.bincount(segments.ravel(), image[..., c].ravel(), count) for c in range(3)], 1) / sizes
        return means[segments].astype(np.float32)
    raise ValueError(f"unknown hide '{hide}'; choose one of {', '.join(HIDES)}")


def perturbed_images(image: np.ndarray, segments: np.ndarray, rows: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """One image [N,H,W,3] per on/off row [N,S] of an image [H,W,3]: superpixels that are off show `hidden`
    [H,W,3] (`hidden_image`, made once per image rather than once per chunk of samples)."""
    return np.where(rows[:, segments][..., None].astype(bool), image.astype(np.float32)[None], hidden[None])


def explained_scores(probabilities: np.ndarray, score: str, multi_label: bool = False) -> np.ndarray:
    """The quantity LIME explains [N,C] from predicted probabilities [N,C]: themselves or their log-odds
    (`medxai.explain.base.log_odds`)."""
    if score == "probability":
        return probabilities
    if score == "log_odds":
        return log_odds(torch.from_numpy(np.asarray(probabilities)), multi_label).numpy()
    raise ValueError(f"unknown explained score '{score}'; choose one of {', '.join(SCORES)}")


def surrogate(rows: np.ndarray, scores: np.ndarray, target: int, seed: int) -> tuple[np.ndarray, float]:
    """lime's weighted ridge surrogate for column `target` of `scores` [N,C]: weight per superpixel and R^2."""
    distances = pairwise_distances(rows, rows[:1], metric="cosine").ravel()
    base = LimeImageExplainer(random_state=seed).base
    _, weights, r2, _ = base.explain_instance_with_data(rows, scores, distances, target,
                                                        num_features=rows.shape[1], feature_selection="none")
    out = np.zeros(rows.shape[1])
    for feature, weight in weights:
        out[feature] = weight
    return out, float(r2)


def explain_image(predict: Predict, image: np.ndarray, target: int, segments: np.ndarray, max_samples: int = 1000,
                  min_samples: int = 100, chunk: int = 50, convergence: float = 0.98, seed: int = 0,
                  score: str = DEFAULT_SCORE, hide: str = DEFAULT_HIDE,
                  multi_label: bool = False) -> tuple[np.ndarray, dict]:
    """Superpixel weights for one HxWx3 image; samples are added `chunk` at a time until the weights of two
    successive fits correlate >= `convergence` (after `min_samples`) or `max_samples` is reached. R^2 is
    undefined (`medxai.explain.undefined`) when the explained score does not vary or the map is zero."""
    rng = np.random.default_rng(seed)
    features = int(segments.max()) + 1
    hidden = hidden_image(image, segments, hide)
    rows = np.ones((0, features), dtype=np.int64)
    scores = np.zeros((0, 0))
    weights, r2, previous = np.zeros(features), 0.0, None
    while len(rows) < max_samples:
        new = rng.integers(0, 2, (min(chunk, max_samples - len(rows)), features))
        if not len(rows):
            new[0] = 1  # the first sample is the unperturbed image, as in lime
        predicted = explained_scores(predict(perturbed_images(image, segments, new, hidden)), score, multi_label)
        rows = np.concatenate([rows, new])
        scores = np.concatenate([scores, predicted]) if scores.size else predicted
        if len(rows) < min_samples and len(rows) < max_samples:
            continue
        weights, r2 = surrogate(rows, scores, target, seed)
        if previous is not None and _correlation(weights, previous) >= convergence:
            break
        previous = weights
    if not undefined.varies(scores[:, target]):
        weights = np.zeros(features)  # a fit to a constant is rounding noise, not evidence: the map is dead
    reason = undefined.r2_reason(scores[:, target], weights, score.replace("_", "-"))
    return weights, undefined.mark({"samples": len(rows), "segments": features, "seed": seed, "score": score,
                                    "hide": hide}, "r2", r2, reason)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    if a.std() == 0 or b.std() == 0:
        return float(np.array_equal(a, b))
    return float(np.corrcoef(a, b)[0, 1])


def explain(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, predict: Predict | None = None,
            segmentation: str = "quickshift", segments: list[np.ndarray] | None = None, max_samples: int = 1000,
            min_samples: int = 100, chunk: int = 50, convergence: float = 0.98, seed: int = 0,
            precision: str = "auto", n_segments: int = 100, device_samples: int = 256, score: str = DEFAULT_SCORE,
            hide: str = DEFAULT_HIDE) -> Explanation:
    """Maps: each pixel takes its superpixel's surrogate weight, then `normalise`. Raw output: per image
    (segments [H,W], weights [S]). `segments` may be given (one array per image) to share superpixels.
    `max_samples=1000, convergence=1.0, score="probability", hide="mean"` is lime's default.

    A model on a GPU with no `predict` given runs `medxai.explain.lime_device` instead: superpixels (SLIC on the
    device, `n_segments`), `device_samples` perturbations in one batched pass and the surrogate fit, all there.
    Raises ValueError for an unknown `score` or `hide`."""
    if score not in SCORES:
        raise ValueError(f"unknown explained score '{score}'; choose one of {', '.join(SCORES)}")
    if hide not in HIDES:
        raise ValueError(f"unknown hide '{hide}'; choose one of {', '.join(HIDES)}")
    if predict is None and model is not None and model_device(model).type != "cpu":
        given = [torch.as_tensor(labels) for labels in segments] if segments is not None else None
        return lime_device.explain(model, images, targets, samples=device_samples, n_segments=n_segments, seed=seed,
                                   precision=precision, segments=given, score=score, hide=hide)
    start = time.perf_counter()
    predict = predict or default_predictor(model, precision)
    multi_label = bool(getattr(model, "multi_label", False))
    maps, raw, diagnostics = [], [], []
    for index, (image, target) in enumerate(zip(images, targets.tolist())):
        pixels = image.permute(1, 2, 0).cpu().numpy()
        labels = segments[index] if segments is not None else segment(pixels, segmentation, seed, n_segments)
        weights, info = explain_image(predict, pixels, target, labels, max_samples, min_samples, chunk,
                                      convergence, seed, score, hide, multi_label)
        maps.append(torch.from_numpy(weights[labels]).float())
        raw.append((labels, weights))
        diagnostics.append({**info, "segmentation": "given" if segments is not None else segmentation})
    unscaled = torch.stack(maps)
    return explanation("lime", unscaled, raw, diagnostics, start)
