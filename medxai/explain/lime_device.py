"""LIME on the model's device (a GPU): superpixels, perturbations, one batched forward pass and the surrogate
fit all stay in PyTorch, so nothing round-trips through the host between them.

On a GPU the model is no longer LIME's cost: quickshift and lime's sklearn surrogate on the CPU were most
of an explanation (1.2 s of 1.38 s on an H100). Written here rather than taken from lime because lime works
on NumPy arrays on the host. Same method as `medxai.explain.lime` (and lime): on/off superpixel rows, off
superpixels show the blurred image, black or their mean colour, the class's log-odds or probability explained,
cosine distance to the all-on row, kernel sqrt(exp(-d^2 / 0.25^2)), ridge (alpha 1, intercept) weighted by the
kernel; only the sample count is fixed instead of converging,
because one batched pass over all samples is what makes a GPU fast. Runs on the CPU too (tests).
"""

import time

import torch
from torch import nn

from medxai.explain import undefined
from medxai.explain.base import Explanation, as_model_input, explanation, fast_mode, log_odds, model_device
from medxai.metrics.faithfulness import blurred

KERNEL_WIDTH = 0.25
RIDGE_ALPHA = 1.0


def superpixels(image: torch.Tensor, n_segments: int = 100, compactness: float = 10.0,
                iterations: int = 10) -> torch.Tensor:
    """SLIC-style labels [H,W] for one image [3,H,W] in [0, 1]: a square grid of centres refined by k-means in
    (colour, position) space. Every pixel is compared with every centre: cheap at ~100 centres on a GPU, and
    free of the window bookkeeping of SLIC proper. Labels are consecutive from 0."""
    _, height, width = image.shape
    step = max(1, round((height * width / n_segments) ** 0.5))
    ys, xs = torch.meshgrid(torch.arange(height, device=image.device, dtype=torch.float32),
                            torch.arange(width, device=image.device, dtype=torch.float32), indexing="ij")
    # colour scaled as skimage's SLIC sees Lab (0-100) against positions scaled by compactness / step
    features = torch.cat([image.float() * 100, torch.stack([ys, xs]) * (compactness / step)]).flatten(1).T
    grid = features.reshape(height, width, -1)[step // 2::step, step // 2::step].reshape(-1, features.shape[1])
    centres = grid.clone()
    for _ in range(iterations):
        labels = torch.cdist(features, centres).argmin(dim=1)
        sums = torch.zeros_like(centres).index_add_(0, labels, features)
        counts = torch.bincount(labels, minlength=len(centres)).clamp_min(1)[:, None]
        centres = sums / counts
    return torch.unique(labels, return_inverse=True)[1].view(height, width)


def perturbed_batch(image: torch.Tensor, segments: torch.Tensor, rows: torch.Tensor, hide: str) -> torch.Tensor:
    """Images [N,3,H,W], one per on/off row [N,S]: off superpixels take their mean colour (`hide="mean"`), black
    (`"black"`) or the blurred image (`"blur"`), as `medxai.explain.lime.perturbed_images`."""
    if hide == "black":
        fudged = torch.zeros_like(image)
    elif hide == "blur":
        fudged = blurred(image[None].float())[0]
    else:
        count = int(segments.max()) + 1
        flat = segments.flatten()
        sizes = torch.bincount(flat, minlength=count).clamp_min(1)
        means = torch.stack([torch.bincount(flat, image[c].flatten(), count) for c in range(3)]) / sizes
        fudged = means[:, segments]
    keep = rows[:, segments].bool()[:, None]
    return torch.where(keep, image[None], fudged[None])


def weighted_ridge(rows: torch.Tensor, values: torch.Tensor, kernel_width: float = KERNEL_WIDTH,
                   alpha: float = RIDGE_ALPHA) -> tuple[torch.Tensor, torch.Tensor]:
    """lime's surrogate for each target column: weights [T,S] and R^2 [T] of a kernel-weighted ridge with
    intercept fitted to `values` [N,T] on `rows` [N,S] (row 0 is the unperturbed image), in closed form."""
    rows = rows.double()
    reference = rows[:1]
    cosine = 1 - (rows @ reference.T).squeeze(1) / (rows.norm(dim=1) * reference.norm()).clamp_min(1e-12)
    weights = torch.exp(-(cosine ** 2) / kernel_width ** 2).sqrt()
    total = weights.sum()
    x_mean = (weights[:, None] * rows).sum(0) / total
    values = values.double()
    y_mean = (weights[:, None] * values).sum(0) / total
    xc, yc = rows - x_mean, values - y_mean
    gram = xc.T @ (weights[:, None] * xc) + alpha * torch.eye(rows.shape[1], dtype=rows.dtype, device=rows.device)
    coefficients = torch.linalg.solve(gram, xc.T @ (weights[:, None] * yc)).T  # [T,S]
    residual = yc - xc @ coefficients.T
    r2 = 1 - (weights[:, None] * residual ** 2).sum(0) / (weights[:, None] * yc ** 2).sum(0).clamp_min(1e-24)
    return coefficients, r2


def explain(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, samples: int = 256,
            n_segments: int = 100, batch_size: int = 256, seed: int = 0, precision: str = "auto",
            segments: list[torch.Tensor] | None = None, score: str = "log_odds", hide: str = "blur") -> Explanation:
    """Maps: each pixel takes its superpixel's surrogate weight for the target class's `score` ("log_odds" or
    "probability"), then `normalise`. Raw output: per image (segments [H,W], weights [S]). Diagnostics as
    `medxai.explain.lime`'s, whose `explain` checks `score` and `hide` and passes its defaults here."""
    start = time.perf_counter()
    device = model_device(model)
    generator = torch.Generator(device=device).manual_seed(seed)
    maps, raw, diagnostics = [], [], []
    for index, (image, target) in enumerate(zip(images.to(device), targets.tolist())):
        labels = segments[index].to(device) if segments is not None else superpixels(image, n_segments)
        features = int(labels.max()) + 1
        rows = torch.randint(0, 2, (samples, features), device=device, generator=generator)
        rows[0] = 1  # the unperturbed image first, as in lime
        perturbed = perturbed_batch(image, labels, rows, hide)
        with torch.inference_mode(), fast_mode(model, precision):
            probabilities = torch.cat([model.probabilities(model(as_model_input(model, chunk, precision)).float())
                                       for chunk in perturbed.split(batch_size)])
        explained = log_odds(probabilities, model.multi_label) if score == "log_odds" else probabilities
        weights, r2 = weighted_ridge(rows, explained[:, target:target + 1])
        target_scores = explained[:, target].double().cpu().numpy()
        if not undefined.varies(target_scores):
            weights = torch.zeros_like(weights)  # a fit to a constant is rounding noise: the map is dead
        maps.append(weights[0].float()[labels].cpu())
        raw.append((labels.cpu().numpy(), weights[0].cpu().numpy()))
        reason = undefined.r2_reason(target_scores, weights[0].cpu().numpy(), score.replace("_", "-"))
        diagnostics.append(undefined.mark({"samples": samples, "segments": features, "seed": seed, "score": score,
                                           "hide": hide,
                                           "segmentation": "given" if segments is not None else "device-slic"},
                                          "r2", float(r2[0]), reason))
    unscaled = torch.stack(maps)
    return explanation("lime", unscaled, raw, diagnostics, start)
