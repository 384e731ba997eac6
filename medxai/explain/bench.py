"""`medxai bench explain`: the naive pipeline a user would write against ours, on the same trained model and image, in
one process. Naive: the grad-cam package's CAM class called as its README shows (at our CAM's variant, explained
score and layer), Captum's IntegratedGradients (fp32, 50 steps) and lime's LimeImageExplainer (1000 samples,
quickshift, batch 10), each at its library defaults but for what it explains (LIME: our explained score and hide
colour, so that both compute the same method). Ours: the defaults of `medxai.explain` (the served maps: cam,
ig, lime, fusion; also timed: how soon our fused map is ready, which needs only the maps its rule fuses, against
the naive fused map, which needs all three). Quality is the Spearman correlation of each of our maps with the naive
one (IG before our smoothing, which is a choice of display measured by `medxai bench maps`, not of computation;
LIME on the same superpixels: both segment with lime's quickshift parameters and the same seed) and IG's
completeness gap.
`lime_ceiling` also reruns the naive LIME with another sampling seed on the same superpixels: how well LIME agrees
with itself bounds how well any faster LIME can agree with it. `pass_rate` says how far LIME's inference passes are
from the device's own dense rate: how much faster they could get without fewer passes.
"""

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from captum.attr import IntegratedGradients
from lime.lime_image import LimeImageExplainer
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch.utils.flop_counter import FlopCounterMode
from rich.console import Console
from torch import nn

from medxai.checkpoint import load_checkpoint
from medxai.data import ImageDataset, load_dataset
from medxai.data.phantoms import make_phantoms
from medxai.explain import cam, lime
from medxai.explain.base import model_device
from medxai.explain.evaluation import model_predictor
from medxai.explain.fusion import DEFAULT_RULE as FUSION_RULE
from medxai.explain.pipeline import DEFAULT_METHODS, fused_components, run_methods
from medxai.explain.sanity import rank_correlation
from medxai.precision import hardware, use_bf16

console = Console(stderr=True)


def test_images(model: nn.Module, data: Path, image_size: int, count: int) -> list[tuple[torch.Tensor, int]]:
    """The first `count` test-split images, those the model classifies correctly first, with the predicted class."""
    spec = load_dataset(data)
    dataset = ImageDataset(spec, image_size, cache=False)
    indices = [i for i, record in enumerate(spec.records) if record.split == "test"] or list(range(len(spec.records)))
    predict = model_predictor(model)
    right, wrong = [], []
    for index in indices:
        image = dataset[index]["image"][None]
        predicted = int(predict(image).argmax())
        (right if predicted == int(dataset[index]["target"]) else wrong).append((image, predicted))
        if len(right) == count:
            break
    return (right + wrong)[:count]


def naive_lime(model: nn.Module, image: torch.Tensor, target: int, seed: int, sampling_seed: int | None = None
               ) -> tuple[torch.Tensor, np.ndarray]:
    """lime's LimeImageExplainer at its defaults (1000 samples, quickshift, batch 10), told what ours explains
    (`lime.DEFAULT_SCORE`, the class's log-odds, and `lime.DEFAULT_HIDE` as its `hide_color`: lime fills hidden
    superpixels from that array): the map and the superpixels (segmented with `seed`; samples drawn with
    `sampling_seed`, default `seed`)."""
    device = model_device(model)

    def predict(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            pixels = torch.from_numpy(batch).permute(0, 3, 1, 2).float().to(device)
            probabilities = model.probabilities(model(pixels)).cpu().numpy()
        return lime.explained_scores(probabilities, lime.DEFAULT_SCORE, model.multi_label)

    explainer = LimeImageExplainer(random_state=seed if sampling_seed is None else sampling_seed)
    pixels = image[0].permute(1, 2, 0).double().numpy()
    hidden = None if lime.DEFAULT_HIDE == "mean" else lime.hidden_image(pixels, None, lime.DEFAULT_HIDE)
    explanation = explainer.explain_instance(pixels, predict, top_labels=5, num_samples=1000, batch_size=10,
                                             random_seed=seed, hide_color=hidden)
    weights = dict(explanation.local_exp[target])
    segments = explanation.segments
    return torch.tensor([weights.get(s, 0.0) for s in range(segments.max() + 1)])[torch.from_numpy(segments)], segments


def naive_pipeline(model: nn.Module, image: torch.Tensor, target: int, seed: int) -> dict:
    """The three explanations as a user would write them with Captum and lime (on the model's device); unscaled
    maps (on the CPU) and seconds."""
    device = model_device(model)
    targets, inputs = torch.tensor([target], device=device), image.to(device)
    seconds, maps = {}, {}
    start = time.perf_counter()
    with cam.VARIANTS[cam.DEFAULT_VARIANT](model=model, target_layers=[model.get_submodule(model.cam_layer)]) as cams:
        explained = ClassifierOutputTarget(target) if cam.DEFAULT_SCORE == "logit" else \
            (lambda output: torch.log_softmax(output, dim=-1)[target])  # the library's target protocol
        maps["cam"] = torch.from_numpy(cams(input_tensor=inputs, targets=[explained])[0])
    seconds["cam"] = time.perf_counter() - start

    start = time.perf_counter()
    attributions = IntegratedGradients(model).attribute(inputs, target=targets, n_steps=50)
    maps["ig"] = attributions.detach()[0].sum(dim=0).cpu()
    seconds["ig"] = time.perf_counter() - start

    start = time.perf_counter()
    maps["lime"], segments = naive_lime(model, image, target, seed)
    seconds["lime"] = time.perf_counter() - start
    return {"maps": maps, "seconds": seconds, "segments": segments}


def warm_up(model: nn.Module, image: torch.Tensor, precision: str) -> None:
    """One fp32 pass, one at `precision` and one through LIME's default predictor (which may build an ONNX
    Runtime session once per model), so one-time set-up is not timed in either pipeline."""
    for chosen in ("fp32", precision):
        model_predictor(model, chosen)(image.repeat(2, 1, 1, 1))
    lime.default_predictor(model, precision)(image.repeat(2, 1, 1, 1).permute(0, 2, 3, 1).cpu().numpy())


def compare(model: nn.Module, image: torch.Tensor, target: int, seed: int, lime_ceiling: bool,
            precision: str = "auto") -> dict:
    """Both pipelines on one image: seconds, Spearman per method, IG's gap, LIME's samples (and its ceiling)."""
    naive = naive_pipeline(model, image, target, seed)
    ours = run_methods(model, image, torch.tensor([target]), list(DEFAULT_METHODS),
                       options={"lime": {"seed": seed}}, precision=precision)
    computed = {"cam": ours["cam"].unscaled[0], "ig": ours["ig"].raw[0].sum(dim=0), "lime": ours["lime"].unscaled[0]}
    ig, lime = ours["ig"].diagnostics[0], ours["lime"].diagnostics[0]
    row = {"naive_seconds": {name: round(value, 3) for name, value in naive["seconds"].items()},
           "ours_seconds": {name: round(ours[name].seconds, 3) for name in ("cam", "ig", "lime", "fusion")},
           # the fused map's own seconds are its fusion step only (the faithfulness rule's model passes)
           "naive_total_s": round(sum(naive["seconds"].values()), 3),
           "ours_total_s": round(sum(ours[name].seconds for name in ("cam", "ig", "lime", "fusion")), 3),
           # the paper's fused map needs all three naive maps; ours only the maps its rule fuses
           "ours_fused_map_s": round(sum(ours[name].seconds for name in (*fused_components(FUSION_RULE), "fusion")), 3),
           **{f"spearman_{name}": round(rank_correlation(computed[name], naive["maps"][name]), 4)
              for name in naive["maps"]},
           "ig_completeness_gap": _rounded(ig["completeness_gap"], 5), "ig_steps": ig["steps"],
           "lime_samples": lime["samples"], "lime_segments": lime["segments"], "lime_r2": _rounded(lime["r2"], 4),
           "same_superpixels": bool(np.array_equal(naive["segments"], ours["lime"].raw[0][0]))}
    if lime_ceiling:
        again, _ = naive_lime(model, image, target, seed, sampling_seed=seed + 1)
        row["lime_self_agreement"] = round(rank_correlation(again, naive["maps"]["lime"]), 4)
    for name in naive["maps"]:
        console.print(f"{name:8s} naive {row['naive_seconds'][name]:7.2f} s   ours {row['ours_seconds'][name]:6.2f} s"
                      f"   Spearman {row[f'spearman_{name}']:.3f}", highlight=False)
    console.print(f"fusion   naive    none   ours {row['ours_seconds']['fusion']:6.2f} s   ({FUSION_RULE} rule)",
                  highlight=False)
    console.print(f"total    naive {row['naive_total_s']:7.2f} s   ours {row['ours_total_s']:6.2f} s   speed-up "
                  f"{row['naive_total_s'] / row['ours_total_s']:.1f}x"
                  + (f"   LIME against itself {row['lime_self_agreement']:.3f}" if lime_ceiling else ""),
                  highlight=False)
    console.print(f"fused map ready: naive {row['naive_total_s']:7.2f} s (all three maps)   ours "
                  f"{row['ours_fused_map_s']:6.2f} s ({', '.join(fused_components(FUSION_RULE))} and the fusion)   "
                  f"speed-up {row['naive_total_s'] / row['ours_fused_map_s']:.1f}x", highlight=False)
    return row


def pass_rate(model: nn.Module, image_size: int, precision: str = "auto", batch: int = 16, repeats: int = 3
              ) -> dict:
    """How fast LIME's inference passes run against the device's own dense rate: GFLOP per image at `image_size`
    px (torch's `FlopCounterMode`, a multiply-add counted as 2), ms per image in batches of `batch` through
    LIME's predictor (`lime.default_predictor` at `precision`), those GFLOP/s, and a 2048x2048 matmul's GFLOP/s in
    the passes' dtype (bf16 where `precision` resolves to it). `share` = pass rate / matmul rate: in bf16, where
    torch's matmul and convolutions are both oneDNN's, a convolution network rarely beats the large matmul, so
    about 1 / share is what faster kernels (a compiler, another runtime) could gain without making fewer passes.
    In fp32 the share can pass 1: LIME's predictor is then ONNX Runtime, and torch's fp32 matmul (MKL) is slow
    on AMD CPUs. The fastest of `repeats` timings counts (the least disturbed)."""
    device = model_device(model)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 3, image_size, image_size, device=device))
    predict = lime.default_predictor(model, precision)
    images = np.random.default_rng(0).random((batch, image_size, image_size, 3), dtype=np.float32)
    dtype = torch.bfloat16 if use_bf16(precision, device) else torch.float32
    left, right = (torch.rand(2048, 2048, device=device, dtype=dtype) for _ in range(2))
    seconds = {"pass": _best_seconds(lambda: predict(images), repeats, device) / batch,
               "matmul": _best_seconds(lambda: left @ right, repeats, device)}
    gflop, matmul_rate = counter.get_total_flops() / 1e9, 2 * 2048 ** 3 / seconds["matmul"] / 1e9
    return {"gflop_per_image": round(gflop, 3), "ms_per_image": round(1000 * seconds["pass"], 2), "batch": batch,
            "gflop_per_s": round(gflop / seconds["pass"], 1), "matmul_dtype": str(dtype).removeprefix("torch."),
            "matmul_gflop_per_s": round(matmul_rate, 1), "share": round(gflop / seconds["pass"] / matmul_rate, 3)}


def _best_seconds(call, repeats: int, device: torch.device) -> float:
    """The fastest of `repeats` timed calls after one untimed (the least disturbed by other work on the host);
    on a GPU the device's queue is drained on both sides of each call."""
    call()
    timings = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        call()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        timings.append(time.perf_counter() - start)
    return min(timings)


def bench_explain(checkpoint: str | Path, seed: int = 0, device: str = "cpu", images: int = 1,
                  lime_ceiling: bool = False, precision: str = "auto") -> dict:
    """Both pipelines on `images` held-out dermoscopy phantoms (those the model, trained on such phantoms by
    `training.quick`, gets right first), on `device`. One image: its figures. Several: mean seconds and
    Spearman, the speed-up of the summed times, the largest IG gap, and each image's row under `per_image`."""
    model, info = load_checkpoint(checkpoint)
    model.to(device)
    with tempfile.TemporaryDirectory() as name:
        data = make_phantoms(Path(name) / "phantoms", kind="dermoscopy", n=max(20, 5 * images), size=info.image_size,
                             seed=1)
        chosen = test_images(model, data, info.image_size, images)
    warm_up(model, chosen[0][0], precision)
    rows = [compare(model, image, target, seed, lime_ceiling, precision) for image, target in chosen]
    summary = {"model": info.architecture, "image_size": info.image_size,
               "threads": torch.get_num_threads(), **hardware(model_device(model), precision),
               "model_validation_accuracy": info.metrics.get("validation", {}).get("accuracy"), "images": len(rows),
               "model_pass": pass_rate(model, info.image_size, precision)}
    rate = summary["model_pass"]
    console.print(f"model pass: {rate['gflop_per_image']:.2f} GFLOP, {rate['ms_per_image']:.1f} ms an image in "
                  f"batches of {rate['batch']}, {rate['gflop_per_s']:.0f} GFLOP/s = {rate['share']:.2f} of a "
                  f"{rate['matmul_dtype']} matmul's {rate['matmul_gflop_per_s']:.0f}", highlight=False)
    speedups = {"speedup": _speedup(rows, "ours_total_s"), "fused_map_speedup": _speedup(rows, "ours_fused_map_s")}
    if len(rows) == 1:
        return summary | rows[0] | speedups
    means = {key: round(float(np.mean([row[key] for row in rows])), 4) for key in rows[0]
             if key.startswith(("spearman_", "lime_self", "naive_total", "ours_total", "lime_samples"))}
    return summary | means | speedups | {
        "ig_completeness_gap": max((row["ig_completeness_gap"] for row in rows
                                    if row["ig_completeness_gap"] is not None), default=None),
        "same_superpixels": all(row["same_superpixels"] for row in rows), "per_image": rows}


def _speedup(rows: list[dict], ours: str) -> float:
    """The naive pipeline's summed seconds over ours (`ours`: the row key of our seconds), rounded to 0.01."""
    return round(sum(row["naive_total_s"] for row in rows) / sum(row[ours] for row in rows), 2)


def _rounded(value: float | None, digits: int) -> float | None:
    """A diagnostic rounded, or None where it is undefined (`medxai.explain.undefined`)."""
    return None if value is None else round(value, digits)
