"""What a model uses, per class: where its maps' mass lies and what it does with the expert region kept or
removed (`medxai bench shortcut`).

Issue 37 found the brain MRI model's maps on meningiomas and off gliomas and pituitary tumours while it
classified all three. Either the maps fail to show what the model uses, or the model uses something other than
the tumour. Two kinds of evidence, per class, on the same held-out images, tell these apart:

- the maps (`medxai.metrics.evidence_location`): the share of each served map's energy in the expert region, in
  the band along the image's edges, elsewhere on the body part and on the background, against each zone's share
  of the image (a uniform map's), on a sample drawn across classes;
- the model (`medxai.metrics.counterfactual`): its accuracy and its probability of the true class with only the
  region kept (the region inserted into a blurred image: insertion of the region), with the region removed
  (deletion of the region), and with a patch of the same shape removed elsewhere on the body part (the control
  for the deletion), on every held-out image with a region.

A model right for the right reasons keeps its answer with the region only and loses it when the region, not
the control patch, is removed. Its maps then put their mass on the region too, or they fail to show it.
"""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from medxai.data.sampling import DEFAULT_SEED, stratified_sample
from medxai.metrics.counterfactual import CONDITIONS, counterfactual_probabilities
from medxai.metrics.evidence_location import ZONES, area_by_zone, energy_by_zone, foreground_mask, zone_masks
from medxai.metrics.intervals import bootstrap_interval
from medxai.metrics.localisation import pointing_game

MAPPED = ("cam", "ig", "lime", "fusion")
"""The served maps, each scored per zone."""
GALLERY = 6
"""Images per class in the gallery."""
CONDITION_WORDS = {"as_given": "as given", "region_kept": "region only (rest blurred)",
                   "region_removed": "region removed (blurred)", "elsewhere_removed": "same patch removed elsewhere",
                   "region_replaced": "region replaced by tissue from elsewhere", "all_blurred": "all blurred"}


def held_out(checkpoint: str | Path, data: str | Path, split: str | None, ids: str | Path | None):
    """(model, checkpoint info, pixels [N,3,S,S] in [0, 1], regions [N,S,S] bool, labels [N]) of every chosen
    record (`split` and/or the ids listed in `ids`) with a non-empty mask or box, as evaluation sees them.
    Raises UserError when the classes differ from the checkpoint's or no record has a region."""
    from medxai.checkpoint import load_checkpoint
    from medxai.data import ImageDataset, load_dataset
    from medxai.errors import UserError
    model, info = load_checkpoint(checkpoint)
    spec = load_dataset(data)
    if spec.class_names != list(info.class_names):
        raise UserError(f"{data} has classes {spec.class_names}, the checkpoint was trained on {info.class_names}")
    localised = set(spec.localised())
    chosen = [index for index in spec.chosen(split, ids) if index in localised]
    if not chosen:
        raise UserError(f"none of the chosen records of {data} has a mask or box")
    dataset = ImageDataset(spec.subset(chosen), info.image_size, cache=False)
    items = [item for item in (dataset[index] for index in range(len(dataset))) if bool((item["mask"] == 1).any())]
    if not items:
        raise UserError(f"none of the chosen records of {data} has a non-empty mask or box")
    return (model, info, torch.stack([item["image"] for item in items]),
            torch.stack([item["mask"] == 1 for item in items]), torch.stack([item["target"] for item in items]).long())


def mean_with_interval(values: np.ndarray) -> dict:
    """{"mean", "interval": [low, high] or None}: the 95 % bootstrap interval of the mean
    (`medxai.metrics.intervals`)."""
    bounds = bootstrap_interval(values) if len(values) > 1 else None
    return {"mean": float(np.mean(values)) if len(values) else None,
            "interval": list(bounds) if bounds is not None else None}


def analyse(model: torch.nn.Module, pixels: torch.Tensor, regions: torch.Tensor, labels: torch.Tensor,
            class_names: list[str], images: int = 90, precision: str = "auto", seed: int = DEFAULT_SEED,
            gallery: Path | None = None, log: Callable[[str], None] = lambda _: None) -> dict:
    """The per-class report on held-out `pixels` [N,3,S,S] in [0, 1] with expert `regions` [N,S,S] (bool) and
    true classes `labels` [N]: `counterfactual[class]` (accuracy and the true class's mean probability under each
    of `counterfactual.CONDITIONS`, with intervals, and `answers[condition][class]`, the share answered each
    class, on every image of the class) and `zones[class][method]` (the mean share of the map's energy in each
    zone of `evidence_location.ZONES`, the zone's mean area share, their ratio `lift`, and the pointing game) on
    `images` images drawn across classes with `seed`, explaining the true class with the served maps (none with
    `images` 0: the model only). With `gallery` (a path prefix), one PNG per class of up to `GALLERY` of them,
    the fused map over the image with the region outlined: GALLERY_<class>.png."""
    from medxai.explain.evaluation import model_predictor
    from medxai.explain.pipeline import run_methods
    predict = model_predictor(model, precision)
    foregrounds = torch.from_numpy(np.stack([foreground_mask(image.numpy()) for image in pixels]))
    log(f"the model on {len(pixels)} images: " + ", ".join(CONDITION_WORDS[c] for c in CONDITIONS))
    probabilities = counterfactual_probabilities(predict, pixels, regions, foregrounds, seed=seed)
    counterfactual = {}
    for value, name in enumerate(class_names):
        of_class = (labels == value).numpy()
        counterfactual[name] = {"images": int(of_class.sum())} | {
            condition: {"accuracy": mean_with_interval((probabilities[condition].argmax(dim=1) == labels)
                                                       .numpy()[of_class].astype(float)),
                        "probability": mean_with_interval(probabilities[condition][torch.arange(len(labels)), labels]
                                                          .numpy()[of_class])}
            for condition in CONDITIONS}
        counterfactual[name]["answers"] = {  # what the answers become: a class told by exclusion keeps them
            condition: {other: float((probabilities[condition].argmax(dim=1)[of_class] == index).float().mean())
                        if of_class.any() else None for index, other in enumerate(class_names)}
            for condition in CONDITIONS}
    if images == 0:  # the model only
        return {"images": len(pixels), "explained": 0, "class_names": list(class_names),
                "counterfactual": counterfactual, "zones": {}, "seed": seed}
    chosen = torch.tensor(stratified_sample(labels.tolist(), images, seed), dtype=torch.long)
    log(f"explaining {len(chosen)} images drawn across classes: {', '.join(MAPPED)}")
    explanations = run_methods(model, pixels[chosen], labels[chosen], list(MAPPED), precision=precision)
    zones = [zone_masks(pixels[index].numpy(), regions[index].numpy()) for index in chosen.tolist()]
    by_class: dict[str, dict] = {}
    for value, name in enumerate(class_names):
        rows = [position for position, index in enumerate(chosen.tolist()) if labels[index] == value]
        areas = [area_by_zone(zones[row]) for row in rows]
        by_class[name] = {"images": len(rows)} | {
            "area": {zone: float(np.mean([area[zone] for area in areas])) if rows else None for zone in ZONES}}
        for method in MAPPED:
            shares = [energy_by_zone(explanations[method].maps[row].numpy(), zones[row]) for row in rows]
            energy = {zone: mean_with_interval(np.array([share[zone] for share in shares])) for zone in ZONES}
            by_class[name][method] = {
                "energy": energy,
                "lift": {zone: (energy[zone]["mean"] / by_class[name]["area"][zone]
                                if rows and by_class[name]["area"][zone] else None) for zone in ZONES},
                "pointing_game": mean_with_interval(np.array([
                    pointing_game(explanations[method].maps[row].numpy(), regions[chosen[row]].numpy())
                    for row in rows])),
                "dead_share": float(np.mean([explanations[method].dead[row] for row in rows])) if rows else None}
        if gallery is not None and rows:
            by_class[name]["gallery"] = str(save_gallery(
                Path(f"{gallery}_{name}.png"), pixels[chosen[rows[:GALLERY]]], regions[chosen[rows[:GALLERY]]],
                explanations["fusion"].maps[rows[:GALLERY]], f"{name}: the fused map (served default), box outlined"))
    return {"images": len(pixels), "explained": len(chosen), "class_names": list(class_names),
            "counterfactual": counterfactual, "zones": by_class, "seed": seed}


def save_gallery(path: Path, pixels: torch.Tensor, regions: torch.Tensor, maps: torch.Tensor, title: str) -> Path:
    """A PNG of two rows: the images [K,3,S,S] with their regions [K,S,S] outlined, and the maps [K,S,S] over
    them (`overlay.overlay`), the region outlined again."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from medxai.explain.overlay import overlay
    count = len(pixels)
    figure, axes = plt.subplots(2, count, figsize=(2 * count, 4.3), squeeze=False)
    for column in range(count):
        image = pixels[column].permute(1, 2, 0).numpy()
        for row, shown in enumerate((image, overlay(image, maps[column].numpy()))):
            axes[row, column].imshow(shown)
            axes[row, column].contour(regions[column].numpy(), levels=[0.5], colors="lime", linewidths=0.8)
            axes[row, column].axis("off")
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path


def _cell(entry: dict, scale: float = 1.0, digits: int = 2) -> str:
    if entry["mean"] is None:
        return "-"
    low_high = f" [{entry['interval'][0] * scale:.{digits}f}, {entry['interval'][1] * scale:.{digits}f}]" \
        if entry["interval"] else ""
    return f"{entry['mean'] * scale:.{digits}f}{low_high}"


def markdown(report: dict) -> str:
    """The report as four markdown tables: the model under each condition per class, what its answers become
    with the region removed, replaced and with the whole image blurred, the fused map's energy by zone per
    class against the zone's area, and every served map's share in the region and pointing game (the first two
    alone when no map was made)."""
    names = report["class_names"]
    lines = ["| class | images | " + " | ".join(f"accuracy, {CONDITION_WORDS[c]}" for c in CONDITIONS) + " | "
             + " | ".join(f"p(true class), {CONDITION_WORDS[c]}" for c in CONDITIONS) + " |",
             "|---" * (2 + 2 * len(CONDITIONS)) + "|"]
    for name in names:
        row = report["counterfactual"][name]
        lines.append(f"| {name} | {row['images']} | " + " | ".join(_cell(row[c]["accuracy"]) for c in CONDITIONS)
                     + " | " + " | ".join(_cell(row[c]["probability"]) for c in CONDITIONS) + " |")
    answered = ("region_removed", "region_replaced", "all_blurred")
    lines += ["", "| class | " + " | ".join(f"{CONDITION_WORDS[condition]}: answered {other}" for condition in answered
                                            for other in names) + " |",
              "|---" * (1 + len(answered) * len(names)) + "|"]
    for name in names:
        answers = report["counterfactual"][name]["answers"]
        lines.append(f"| {name} | " + " | ".join("-" if answers[condition][other] is None
                                                 else f"{answers[condition][other]:.2f}"
                                                 for condition in answered for other in names) + " |")
    if not report["zones"]:
        return "\n".join(lines)
    lines += ["", "| class | images | " + " | ".join(f"fused map's energy: {zone} (area)" for zone in ZONES) + " |",
              "|---" * (2 + len(ZONES)) + "|"]
    for name in names:
        row = report["zones"][name]
        lines.append(f"| {name} | {row['images']} | " + " | ".join(
            f"{_cell(row['fusion']['energy'][zone])} ({row['area'][zone]:.2f})" if row["area"][zone] is not None
            else "-" for zone in ZONES) + " |")
    lines += ["", "| class | map | energy in the region | lift over its area | pointing game | dead |",
              "|---|---|---|---|---|---|"]
    for name in names:
        row = report["zones"][name]
        for method in MAPPED:
            entry = row[method]
            lift, dead = entry["lift"]["region"], entry["dead_share"]
            lines.append(f"| {name} | {method} | {_cell(entry['energy']['region'])} | "
                         f"{'-' if lift is None else f'{lift:.2f}'} | {_cell(entry['pointing_game'])} | "
                         f"{'-' if dead is None else f'{dead:.2f}'} |")
    return "\n".join(lines)
