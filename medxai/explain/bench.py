"""`medxai bench explain`: the naive pipeline a user would write against ours, on the same trained model and
image, in one process. Naive: Captum LayerGradCam and IntegratedGradients (fp32, 50 steps) and lime's
LimeImageExplainer (1000 samples, quickshift, batch 10), each at its library defaults. Ours: the defaults of
`medxai.explain`. Quality is the Spearman correlation of each of our maps with the naive one (LIME on the
same superpixels: both segment with lime's quickshift parameters and the same seed) and IG's completeness gap.
"""

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam
from lime.lime_image import LimeImageExplainer
from rich.console import Console
from torch import nn

from medxai.checkpoint import load_checkpoint
from medxai.data import ImageDataset, load_dataset
from medxai.data.phantoms import make_phantoms
from medxai.explain.base import model_device
from medxai.explain.evaluation import model_predictor
from medxai.explain.pipeline import run_methods
from medxai.explain.sanity import rank_correlation

console = Console(stderr=True)


def test_image(model: nn.Module, data: Path, image_size: int) -> tuple[torch.Tensor, int]:
    """The first test-split image the model classifies correctly (else the first one), and the predicted class."""
    spec = load_dataset(data)
    dataset = ImageDataset(spec, image_size, cache=False)
    indices = [i for i, record in enumerate(spec.records) if record.split == "test"] or list(range(len(spec.records)))
    predict = model_predictor(model)
    first = None
    for index in indices:
        image = dataset[index]["image"][None]
        predicted = int(predict(image).argmax())
        first = first or (image, predicted)
        if predicted == int(dataset[index]["target"]):
            return image, predicted
    return first


def naive_pipeline(model: nn.Module, image: torch.Tensor, target: int, seed: int) -> dict:
    """The three explanations as a user would write them with Captum and lime (on the model's device); unscaled
    maps (on the CPU) and seconds."""
    device = model_device(model)
    targets, inputs = torch.tensor([target], device=device), image.to(device)
    seconds, maps = {}, {}
    start = time.perf_counter()
    cams = LayerGradCam(model, model.gradcam_module()).attribute(inputs, target=targets, relu_attributions=True)
    maps["gradcam"] = LayerAttribution.interpolate(cams.detach(), tuple(image.shape[-2:]), "bilinear")[0, 0].cpu()
    seconds["gradcam"] = time.perf_counter() - start

    start = time.perf_counter()
    attributions, delta = IntegratedGradients(model).attribute(inputs, target=targets, n_steps=50,
                                                               return_convergence_delta=True)
    maps["ig"] = attributions.detach()[0].sum(dim=0).cpu()
    seconds["ig"] = time.perf_counter() - start

    def predict(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            pixels = torch.from_numpy(batch).permute(0, 3, 1, 2).float().to(device)
            return model.probabilities(model(pixels)).cpu().numpy()

    start = time.perf_counter()
    explanation = LimeImageExplainer(random_state=seed).explain_instance(
        image[0].permute(1, 2, 0).double().numpy(), predict, top_labels=5, num_samples=1000, batch_size=10,
        random_seed=seed)
    weights = dict(explanation.local_exp[target])
    maps["lime"] = torch.tensor([weights.get(s, 0.0) for s in range(explanation.segments.max() + 1)])[
        torch.from_numpy(explanation.segments)]
    seconds["lime"] = time.perf_counter() - start
    return {"maps": maps, "seconds": seconds, "segments": explanation.segments}


def device_name(device: torch.device) -> str:
    """'cpu' or the GPU's product name, for the bench record."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else device.type


def warm_up(model: nn.Module, image: torch.Tensor) -> None:
    """One fp32 and one bf16 pass, so one-time kernel set-up is not timed in either pipeline."""
    for bf16 in (False, True):
        model_predictor(model, bf16)(image.repeat(2, 1, 1, 1))


def bench_explain(checkpoint: str | Path, seed: int = 0, device: str = "cpu") -> dict:
    """Seconds per method for both pipelines, the speed-up, Spearman per method and IG's completeness gap, on
    a held-out dermoscopy phantom the model (trained on such phantoms: `training.quick`) gets right.
    `device`: where both pipelines run."""
    model, info = load_checkpoint(checkpoint)
    model.to(device)
    with tempfile.TemporaryDirectory() as name:
        data = make_phantoms(Path(name) / "phantoms", kind="dermoscopy", n=20, size=info.image_size, seed=1)
        image, target = test_image(model, data, info.image_size)
    warm_up(model, image)
    naive = naive_pipeline(model, image, target, seed)
    ours = run_methods(model, image, torch.tensor([target]), ["gradcam", "ig", "lime", "fusion"],
                       options={"lime": {"seed": seed}})
    naive_total = sum(naive["seconds"].values())
    ours_total = ours["fusion"].seconds
    same_superpixels = bool(np.array_equal(naive["segments"], ours["lime"].raw[0][0]))
    spearman = {name: rank_correlation(ours[name].unscaled[0], naive["maps"][name]) for name in naive["maps"]}
    for name in naive["maps"]:
        console.print(f"{name:8s} naive {naive['seconds'][name]:7.2f} s   ours {ours[name].seconds:6.2f} s   "
                      f"Spearman {spearman[name]:.3f}", highlight=False)
    console.print(f"total    naive {naive_total:7.2f} s   ours {ours_total:6.2f} s   "
                  f"speed-up {naive_total / ours_total:.1f}x", highlight=False)
    ig, lime = ours["ig"].diagnostics[0], ours["lime"].diagnostics[0]
    return {
        "model": info.architecture, "image_size": info.image_size, "device": device_name(model_device(model)),
        "threads": torch.get_num_threads(),
        "model_validation_accuracy": info.metrics.get("validation", {}).get("accuracy"),
        "naive_seconds": {k: round(v, 3) for k, v in naive["seconds"].items()},
        "ours_seconds": {name: round(ours[name].seconds, 3) for name in ("gradcam", "ig", "lime")},
        "naive_total_s": round(naive_total, 3), "ours_total_s": round(ours_total, 3),
        "speedup": round(naive_total / ours_total, 2),
        **{f"spearman_{name}": round(value, 4) for name, value in spearman.items()},
        "ig_completeness_gap": round(ig["completeness_gap"], 5), "ig_steps": ig["steps"],
        "lime_samples": lime["samples"], "lime_segments": lime["segments"], "lime_r2": round(lime["r2"], 4),
        "same_superpixels": same_superpixels,
    }
