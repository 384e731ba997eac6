"""`medxai bench maps`: which maps point at the lesion and stay faithful, on images with expert masks or boxes.

Every row is one way of making a map, scored on the same images for the same explained class: the
class-activation family (Grad-CAM, Grad-CAM++, HiResCAM, LayerCAM) at each candidate layer, for each explained
score (logit or log-probability), Integrated Gradients raw and smoothed at several scales (optionally averaged
under Captum's NoiseTunnel, SmoothGrad), LIME, and the fusion rules; beside them the no-skill centred disc and
whole image. Columns: the share of dead maps (`base.liveness`), for CAMs the model-randomisation Spearman
(Adebayo et al. 2018; below 0.5 passes), pointing game, top-area IoU, energy in the mask (higher is better),
deletion AUC (lower is better), insertion AUC (higher is better). Defaults are chosen from these
tables (docs/evidence/maps.md); the rows are computed, never tuned per image.
"""

import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch
from captum.attr import IntegratedGradients, NoiseTunnel
from torch import nn

from medxai.explain import cam, integrated_gradients, lime
from medxai.explain.base import Explanation, explanation
from medxai.explain.evaluation import model_predictor, score_maps
from medxai.explain.fusion import (FAITHFULNESS_POWER, FAITHFULNESS_STEPS, RULES, WEIGHTS, faithfulness_gaps,
                                   fuse_explanations)
from medxai.explain.pipeline import fused_components
from medxai.explain.sanity import randomise, rank_correlation, top_modules
from medxai.metrics import localisation

IG_SMOOTHING = (0.0, 0.02, 0.04, 0.06, 0.08)
LIME_VARIANTS = tuple((score, hide) for score in lime.SCORES for hide in lime.HIDES
                      if (score, hide) != (lime.DEFAULT_SCORE, lime.DEFAULT_HIDE))
"""LIME's explained score x hide colour, beside the default row `lime` (lime's own defaults among them)."""
NOISE_TUNNEL_SAMPLES = 8
CAM_ALTERNATIVES = ("gradcam (log-probability) @ attention", "hirescam (log-probability) @ layer1")
"""CAM rows also fused with IG by the default rule in place of the default CAM (unless one is the default; where
the model has the layer and the row passes the dead and randomisation checks): candidates for the default CAM,
judged by the fused map the clinician reads as well as alone."""
FAITHFULNESS_VARIANTS = (*((f"{steps} curve steps", steps, FAITHFULNESS_POWER) for steps in (4, 16)
                           if steps != FAITHFULNESS_STEPS),
                         ("gap squared", FAITHFULNESS_STEPS, 2.0))
"""The faithfulness rule's variants compared with the default, as (row label, curve steps, power of the gap):
fewer steps cost fewer model passes, more weigh each map more exactly (`fusion.FAITHFULNESS_STEPS`); the gap
squared gives the more faithful map more of the weight (`fusion.FAITHFULNESS_POWER`)."""


def candidate_layers(model: nn.Module) -> list[str]:
    """The CAM layers compared: ResNet stages 1 to 4 and the attention output where the model has them (finer
    cells first), else the model's Grad-CAM layer."""
    names = [f"features.{name}" for name in ("layer1", "layer2", "layer3", "attention", "layer4")]
    present = [name for name in names if _has(model, name)]
    return present or [model.gradcam_layer]


def _has(model: nn.Module, name: str) -> bool:
    try:
        model.get_submodule(name)
        return True
    except AttributeError:
        return False


def noise_tunnel_ig(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, samples: int = NOISE_TUNNEL_SAMPLES,
                    steps: int = 16, stdev: float = 0.1) -> Explanation:
    """IG averaged over `samples` noisy copies of each image (Captum's NoiseTunnel, SmoothGrad; Smilkov et al.
    2017), Gaussian noise of `stdev` (pixels in [0, 1]), fp32, zero baseline, summed over colour channels."""
    start = time.perf_counter()
    attributions = torch.cat([
        NoiseTunnel(IntegratedGradients(model)).attribute(
            image[None], nt_type="smoothgrad", nt_samples=samples, stdevs=stdev, target=int(target),
            baselines=torch.zeros_like(image[None]), n_steps=steps, method="gausslegendre",
            internal_batch_size=64).detach() for image, target in zip(images, targets)])
    return explanation("ig_noisetunnel", attributions.sum(dim=1), attributions, [{} for _ in images], start)


def cam_rows(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, log: Callable[[str], None]
             ) -> tuple[dict[str, Explanation], dict[str, dict]]:
    """Every CAM variant x explained score x candidate layer: the explanation, and its dead share and
    randomisation Spearman (top 2 layers randomised, as the release gate does; dead maps score 1)."""
    randomised = randomise(model, top_modules(model, 2)).eval()
    rows, checks = {}, {}
    for layer in candidate_layers(model):
        for variant in cam.VARIANTS:
            for score in cam.SCORES:
                name = f"{variant} ({score.replace('_', '-')}) @ {layer.removeprefix('features.')}"
                before = cam.explain(model, images, targets, variant=variant, layer=layer, score=score)
                after = cam.explain(randomised, images, targets, variant=variant, layer=layer, score=score)
                spearman = float(np.mean([1.0 if dead else rank_correlation(a, b)
                                          for dead, a, b in zip(before.dead, before.maps, after.maps)]))
                rows[name], checks[name] = before, {"randomisation_spearman": spearman}
        log(f"CAMs at {layer} done")
    return rows, checks


def compare(model: nn.Module, images: torch.Tensor, masks: torch.Tensor, targets: torch.Tensor,
            precision: str = "auto", substitute: str = "blur", steps: int = 16,
            lime_options: dict | None = None, noise_tunnel: bool = False,
            cam_alternatives: tuple[str, ...] = CAM_ALTERNATIVES, log: Callable[[str], None] = print
            ) -> dict[str, dict]:
    """{row: {dead_share, randomisation_spearman (CAM rows), iou, pointing_game, energy_in_mask,
    iou_at_threshold, deletion_auc, insertion_auc, images, by_class (`evaluation.class_means`), substitute,
    seconds}} for images [N,3,H,W] in [0, 1], masks [N,H,W] (nonzero = lesion), targets [N]. A CAM row that is
    not a `candidate` (dead on more than a fifth of the images, or failing the randomisation check) is not scored
    further. Each CAM row named in `cam_alternatives` that is a candidate is also fused with IG by the default
    rule, in place of the default CAM."""
    rows, checks = cam_rows(model, images, targets, log)
    ig = integrated_gradients.explain(model, images, targets, smoothing=0.0, precision="fp32")  # as served
    for smoothing in IG_SMOOTHING:
        start = time.perf_counter() - ig.seconds
        rows[f"ig (smoothing {smoothing:g})"] = integrated_gradients.ig_explanation(ig.raw, ig.diagnostics, smoothing,
                                                                                    start)
    if noise_tunnel:
        rows[f"ig noise tunnel ({NOISE_TUNNEL_SAMPLES} samples)"] = noise_tunnel_ig(model, images, targets)
    log("IG done")
    rows["lime"] = lime.explain(model, images, targets, precision=precision, **(lime_options or {}))
    for score, hide in LIME_VARIANTS:
        rows[f"lime ({score.replace('_', '-')}, {hide} hidden)"] = lime.explain(
            model, images, targets, precision=precision, **((lime_options or {}) | {"score": score, "hide": hide}))
    log("LIME done")
    defaults = served_rows(model)
    paper_cam = f"gradcam (logit) @ {model.gradcam_layer.removeprefix('features.')}"
    parts = {"gradcam": replace(rows[paper_cam], method="gradcam"), "lime": rows[defaults["lime"]],
             "cam": replace(rows[defaults["cam"]], method="cam"), "ig": rows[defaults["ig"]]}
    raw_ig = rows["ig (smoothing 0)"]
    predict = model_predictor(model, precision)
    rows["fusion: paper (Grad-CAM, raw IG, LIME; 0.4/0.4/0.2)"] = fuse_explanations(
        [parts["gradcam"], raw_ig, parts["lime"]], "paper")
    served = fused_components("faithfulness")
    # The maps whose faithfulness gaps are computed, once per curve length: LIME only at the default length, for
    # the row that still fuses it.
    scored = {steps: served for _, steps, _ in FAITHFULNESS_VARIANTS} | {FAITHFULNESS_STEPS: ("cam", "ig", "lime")}
    gaps, gap_seconds = {}, {}
    for steps, scored_names in scored.items():
        start = time.perf_counter()
        gaps[steps] = faithfulness_gaps([parts[name] for name in scored_names], images, targets, predict, steps)
        gap_seconds[steps] = time.perf_counter() - start

    def faithfulness(names: tuple[str, ...], steps: int = FAITHFULNESS_STEPS, power: float = FAITHFULNESS_POWER,
                     weights: dict[str, float] | None = None) -> Explanation:
        """The rule's fused map from the shared gaps; its seconds include its maps' share of computing them."""
        fused = fuse_explanations([parts[name] for name in names], "faithfulness", weights, power=power,
                                  gaps=gaps[steps])
        return replace(fused, seconds=fused.seconds + gap_seconds[steps] * len(names) / len(scored[steps]))

    for rule in RULES:
        components = fused_components(rule)
        rows[f"fusion: {rule} ({', '.join(components)})"] = faithfulness(components) if rule == "faithfulness" \
            else fuse_explanations([parts[name] for name in components], rule)
    rows["fusion: faithfulness (cam, ig, lime; the default until 2026-12-01)"] = faithfulness(
        scored[FAITHFULNESS_STEPS], weights={"lime": WEIGHTS["lime"]})
    for label, steps, power in FAITHFULNESS_VARIANTS:
        rows[f"fusion: faithfulness ({', '.join(served)}), {label}"] = faithfulness(served, steps, power)
    for name in cam_alternatives:
        if name in rows and name != defaults["cam"] and candidate(rows[name], checks[name]):
            start = time.perf_counter()
            alternative = replace(rows[name], method="cam")
            alternative_gaps = gaps[FAITHFULNESS_STEPS] | faithfulness_gaps([alternative], images, targets, predict)
            fused = fuse_explanations([alternative, parts["ig"]], "faithfulness", gaps=alternative_gaps)
            ig_share = gap_seconds[FAITHFULNESS_STEPS] / len(scored[FAITHFULNESS_STEPS])
            rows[alternative_fused_row(name)] = replace(fused, seconds=time.perf_counter() - start + ig_share)
    log("fusions done")
    shape = tuple(images.shape[-2:])
    baselines = {name: torch.from_numpy(function(shape)).float().expand(len(images), *shape)
                 for name, function in (("centred disc (no skill)", localisation.centred_disc),
                                        ("whole image (no skill)", localisation.whole_image))}
    table = {}
    for name, result in [*rows.items(), *baselines.items()]:
        is_map = isinstance(result, Explanation)
        dead = float(np.mean(result.dead)) if is_map else 0.0
        row = {"dead_share": dead, **checks.get(name, {}),
               "seconds": round(result.seconds / len(images), 4) if is_map else 0.0}
        if name in checks and not candidate(result, checks[name]):
            table[name] = row  # not a candidate: a dead map, or one that does not depend on the weights
            continue
        log(f"scoring {name}")
        table[name] = row | score_maps(predict, images, result.maps if is_map else result, masks, targets,
                                       substitute, steps)
    return table


def candidate(result: Explanation, check: dict) -> bool:
    """A CAM row worth scoring: dead on at most a fifth of the images and a randomisation Spearman below 0.5."""
    return float(np.mean(result.dead)) <= 0.2 and check["randomisation_spearman"] < 0.5


def served_rows(model: nn.Module) -> dict[str, str]:
    """The row of each map the product serves by default: {"cam", "ig", "lime", "fusion"} -> row name."""
    return {"cam": f"{cam.DEFAULT_VARIANT} ({cam.DEFAULT_SCORE.replace('_', '-')}) @ "
                   f"{model.cam_layer.removeprefix('features.')}",
            "ig": f"ig (smoothing {integrated_gradients.SMOOTHING:g})", "lime": "lime",
            "fusion": f"fusion: faithfulness ({', '.join(fused_components('faithfulness'))})"}


def alternative_fused_row(name: str) -> str:
    """The row of an alternative CAM (`CAM_ALTERNATIVES`) fused with IG by the default rule in place of the
    default CAM."""
    return f"fusion: faithfulness ({name}, ig)"


def class_rows(model: nn.Module, table: dict[str, dict],
               cam_alternatives: tuple[str, ...] = CAM_ALTERNATIVES) -> list[str]:
    """The rows broken down per explained class, those in `table`: the served maps, each of `cam_alternatives`
    (as given to `compare`) that is not served and its fused map, and the centred disc."""
    served = list(served_rows(model).values())
    alternatives = [name for name in cam_alternatives if name not in served]
    names = [*served, *(row for name in alternatives for row in (name, alternative_fused_row(name))),
             "centred disc (no skill)"]
    return [name for name in names if name in table]


def markdown_report(table: dict[str, dict], names: list[str], class_names: list[str], source: str) -> str:
    """What `bench maps --out X.json` also writes as X.md: a comment naming `source`, the whole table
    (`markdown`) and rows `names` per explained class (`markdown_by_class`), captioned by what they hold."""
    held = "the alternative CAM and its fused map, " if any(alternative_fused_row(n) in names for n in names) else ""
    return "\n".join([f"<!-- {source} -->", markdown(table), "",
                      f"Per explained class (the served maps, {held}the centred disc):", "",
                      markdown_by_class(table, names, class_names)]) + "\n"


def markdown_by_class(table: dict[str, dict], names: list[str], class_names: list[str]) -> str:
    """Rows `names` of the table per explained class: map | class | images | pointing game | top-area IoU |
    deletion AUC, each mean with its 95 % bootstrap interval where one was computed (rows not scored are left
    out)."""
    from medxai.metrics.intervals import with_interval
    lines = ["| map | class | images | pointing game (95 % CI) | top-area IoU (95 % CI) | deletion AUC (95 % CI) |",
             "|---|---|---|---|---|---|"]
    for name in names:
        for index, row in table[name].get("by_class", {}).items():
            lines.append(f"| {name} | {class_names[int(index)]} | {row['images']} | "
                         f"{with_interval(row, 'pointing_game')} | {with_interval(row, 'iou')} | "
                         f"{with_interval(row, 'deletion_auc')} |")
    return "\n".join(lines)


def markdown(table: dict[str, dict]) -> str:
    """The table as README rows: map | dead | randomisation | pointing game | top-area IoU | energy in mask |
    deletion | insertion (a dash: not computed, or not a candidate)."""
    def cell(row: dict, key: str) -> str:
        return f"{row[key]:.3f}" if key in row else "-"
    lines = ["| map | dead | randomisation Spearman | pointing game | top-area IoU | energy in mask | deletion AUC | "
             "insertion AUC |", "|---|---|---|---|---|---|---|---|"]
    for name, row in table.items():
        lines.append(f"| {name} | {row['dead_share']:.2f} | {cell(row, 'randomisation_spearman')} | "
                     f"{cell(row, 'pointing_game')} | {cell(row, 'iou')} | {cell(row, 'energy_in_mask')} | "
                     f"{cell(row, 'deletion_auc')} | {cell(row, 'insertion_auc')} |")
    return "\n".join(lines)


def held_out_images(checkpoint: str, data: str, split: str | None, ids_file: str | None, count: int,
                    precision: str = "auto") -> tuple[nn.Module, dict, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The model, its checkpoint info, and up to `count` images [N,3,S,S] with masks [N,S,S] and their true
    classes [N], from the records of `split` or whose ids are listed in `ids_file` (a run's
    validation_ids.txt), drawn across classes (`localised_items`). Raises UserError when none has a mask."""
    from medxai.checkpoint import load_checkpoint
    from medxai.data import ImageDataset, load_dataset
    from medxai.errors import UserError
    from medxai.explain.evaluation import explained_classes, localised_items
    model, info = load_checkpoint(checkpoint)
    spec = load_dataset(data)
    chosen = spec.chosen(split, ids_file)
    if not chosen:
        raise UserError(f"no records of {data} match the split or ids given")
    items = localised_items(ImageDataset(spec.subset(chosen), info.image_size, cache=False), count)
    if not items:
        raise UserError(f"none of the chosen records of {data} has a mask or box")
    images = torch.stack([item["image"] for item in items])
    masks = torch.stack([item["mask"] for item in items])
    targets = explained_classes(model, images, torch.stack([item["target"] for item in items]), "label", precision)
    return model, {"architecture": info.architecture, "image_size": info.image_size,
                   "class_names": list(info.class_names)}, images, masks, targets
