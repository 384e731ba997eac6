"""The fused map: a per-image weighted mean of the component maps, already on one scale (see `base.normalise`).

Rules (`RULES`):
- `paper`: the seed paper's fixed H = 0.4 GC + 0.4 IG + 0.2 LIME (§3.4), whatever the maps look like.
- `alive`: the same base weights, but a dead map (nothing positive left, `base.liveness`) gets weight 0 and the
  others are renormalised per image: the paper's rule assumes three working maps, and on our models its Grad-CAM
  was dead on most images, so 40 % of the fused map was nothing (issue 17). Costs nothing.
- `faithfulness`: the alive weights times each map's own faithfulness on that image, max(0, insertion AUC -
  deletion AUC) to the power `FAITHFULNESS_POWER`, through the model that is explained (Petsiuk et al. 2018;
  `medxai.metrics.faithfulness`), so a map whose top pixels do not move the prediction counts less; where no
  live map scores above 0, the alive weights. Costs 2 (steps - 1) model passes per map. It fuses the CAM and IG
  only: LIME's base weight is 0 under this rule (`RULE_WEIGHTS`), because with LIME in it the fused map
  localised worse on brain MRI and PH2 and no better on the phantoms (docs/evidence/maps.md); a request
  may still give LIME a weight.

Which rule is the default was chosen by measurement (docs/evidence/maps.md).
"""

import time
from collections.abc import Callable

import numpy as np
import torch

from medxai.explain import undefined
from medxai.explain.base import Explanation, liveness
from medxai.metrics.faithfulness import insertion_deletion_gap

PAPER_WEIGHTS = {"gradcam": 0.4, "ig": 0.4, "lime": 0.2}
WEIGHTS = {"cam": 0.4, "gradcam": 0.4, "ig": 0.4, "lime": 0.2}
"""Base weight of each component map: the paper's 0.4 / 0.4 / 0.2, the product's CAM in Grad-CAM's place."""
RULES = ("paper", "alive", "faithfulness")
DEFAULT_RULE = "faithfulness"
RULE_WEIGHTS = {"paper": WEIGHTS, "alive": WEIGHTS, "faithfulness": {**WEIGHTS, "lime": 0.0}}
"""Each rule's base weights. The faithfulness rule leaves LIME out: on 30 brain MRI validation slices its fused map
of the CAM and IG scored pointing game 0.833, top-area IoU 0.483, deletion AUC 0.110 against 0.700 / 0.426 /
0.117 with LIME; on 20 PH2 validation images 0.500 / 0.417 / 0.492 against 0.462 / 0.351 / 0.484; on 40 demo
phantoms 0.775 / 0.399 / 0.480 against 0.775 / 0.408 / 0.479 (2026-12-01, `medxai bench maps`). LIME's
superpixel maps localised worse than the no-skill centred disc on all three, and leaving LIME out also means
the fused map no longer waits for LIME's 100-200 model passes."""
FAITHFULNESS_STEPS = 8
"""Curve steps of the faithfulness rule's weights (2 x 7 passes per map, 28 for the default's two). Fusing the CAM
and IG, 4 and 16 steps gave the same pointing game on the phantoms, brain MRI and PH2 and IoU within 0.004
(2026-12-01). With LIME also fused, against 16 steps the fused map's Spearman correlation was 0.995 on 40 demo
phantoms, 0.9997 on 30 brain MRI and 0.994 on 20 PH2 validation images, and 4 steps lost one pointing-game hit
on the phantoms (docs/evidence/maps.md)."""

FAITHFULNESS_POWER = 1.0
"""The faithfulness rule weighs each map by its gap raised to this power. 1 is the default; 2 tells a coarse map
from a sharper one more firmly. Over the CAM and IG (`medxai bench maps`, 2026-12-01), the square gave the same
pointing game and IoU on 30 brain MRI slices with deletion AUC 0.107 against 0.110, a slightly worse fused map
on 40 demo phantoms (IoU 0.392 against 0.399, deletion 0.484 against 0.480) and the same within 0.002 on 20 PH2
images, so the default stays 1; `bench maps` keeps scoring it (row "gap squared")."""

Predict = Callable[[torch.Tensor], torch.Tensor]


def fuse(maps: dict[str, torch.Tensor], weights: dict[str, float] | None = None) -> torch.Tensor:
    """sum_m w_m H_m / sum_m w_m over the maps given (each [N,H,W] in [0, 1]), the same weights for every image
    (the paper's by default): the `paper` rule on bare maps. Raises ValueError for a map without a weight."""
    weights = weights or PAPER_WEIGHTS
    missing = set(maps) - set(weights)
    if missing:
        raise ValueError(f"no fusion weight for {sorted(missing)}")
    total = sum(weights[name] for name in maps)
    if total <= 0:
        raise ValueError("fusion weights of the given maps must sum to more than 0")
    return sum(weights[name] * maps[name] for name in maps) / total


def rule_passes(rule: str, maps: int, steps: int = FAITHFULNESS_STEPS) -> int:
    """Model passes a rule costs on top of its component maps (for the service's work budget)."""
    return maps * 2 * (steps - 1) if rule == "faithfulness" else 0


def faithfulness_gaps(parts: list[Explanation], images: torch.Tensor, targets: torch.Tensor, predict: Predict,
                      steps: int = FAITHFULNESS_STEPS) -> dict[str, np.ndarray]:
    """Per component, insertion AUC - deletion AUC of its maps per image [N] (Petsiuk et al. 2018), for images
    [N,3,H,W] and targets [N] through `predict`: what the faithfulness rule weighs by. 2 (steps - 1) passes per
    map: `steps - 1` inner points of each curve (their ends cancel in the gap); computed once, the gaps serve every
    power of the rule."""
    return {part.method: insertion_deletion_gap(predict, images, part.maps, targets, steps=steps) for part in parts}


def rule_gaps(parts: list[Explanation], rule: str, weights: dict[str, float] | None = None,
              images: torch.Tensor | None = None, targets: torch.Tensor | None = None, predict: Predict | None = None,
              steps: int = FAITHFULNESS_STEPS) -> dict[str, np.ndarray] | None:
    """The faithfulness rule's gaps (`faithfulness_gaps`) of the parts it weighs (base weight > 0); None for
    another rule. Raises ValueError without the images, targets and predict function the curves need."""
    if rule != "faithfulness":
        return None
    if images is None or targets is None or predict is None:
        raise ValueError("the faithfulness rule needs the images, targets and a predict function")
    base = {**RULE_WEIGHTS[rule], **(weights or {})}
    return faithfulness_gaps([part for part in parts if base.get(part.method, 0) > 0], images, targets, predict, steps)


def image_weights(parts: list[Explanation], rule: str = DEFAULT_RULE, weights: dict[str, float] | None = None,
                  images: torch.Tensor | None = None, targets: torch.Tensor | None = None,
                  predict: Predict | None = None, steps: int = FAITHFULNESS_STEPS,
                  power: float = FAITHFULNESS_POWER,
                  gaps: dict[str, np.ndarray] | None = None) -> list[dict[str, float]]:
    """Per image, each component's weight (summing to 1, or all 0 when every map is dead). `faithfulness` needs
    `images` [N,3,H,W], `targets` [N] and `predict` (images -> probabilities), or the `gaps` of these maps already
    computed (`faithfulness_gaps`), and weighs by the gap to `power` (see FAITHFULNESS_POWER). Raises ValueError
    for an unknown rule, a component without a base weight, base weights that sum to 0, or a power that is not
    positive."""
    if rule not in RULES:
        raise ValueError(f"unknown fusion rule '{rule}'; choose one of {', '.join(RULES)}")
    base = {**RULE_WEIGHTS[rule], **(weights or {})}
    missing = [part.method for part in parts if part.method not in base]
    if missing:
        raise ValueError(f"no fusion weight for {sorted(missing)}")
    if sum(base[part.method] for part in parts) <= 0:
        raise ValueError("fusion weights of the given maps must sum to more than 0")
    count = len(parts[0].maps)
    table = [{part.method: base[part.method] for part in parts} for _ in range(count)]
    if rule != "paper":
        for part in parts:
            for index, dead in enumerate(part.dead):
                if dead:
                    table[index][part.method] = 0.0
    if rule == "faithfulness":
        if power <= 0:
            raise ValueError(f"the faithfulness rule's power must be positive, got {power}")
        gaps = gaps if gaps is not None else rule_gaps(parts, rule, weights, images, targets, predict, steps)
        alive = [dict(row) for row in table]
        for part in parts:
            for index in range(count):
                gap = float(gaps[part.method][index]) if part.method in gaps else 0.0  # base weight 0: not scored
                table[index][part.method] *= max(0.0, gap) ** power
        # Where no live map moves the prediction more on insertion than on deletion, faithfulness cannot choose:
        # the live maps keep their base weights rather than the fused map going blank.
        table = [row if sum(row.values()) > 0 else fallback for row, fallback in zip(table, alive)]
    return [{name: value / sum(row.values()) if sum(row.values()) > 0 else 0.0 for name, value in row.items()}
            for row in table]


def fuse_explanations(parts: list[Explanation], rule: str = DEFAULT_RULE, weights: dict[str, float] | None = None,
                      images: torch.Tensor | None = None, targets: torch.Tensor | None = None,
                      predict: Predict | None = None, steps: int = FAITHFULNESS_STEPS,
                      power: float = FAITHFULNESS_POWER, gaps: dict[str, np.ndarray] | None = None) -> Explanation:
    """The fused Explanation of computed component explanations (see `image_weights`; `steps`, `power` and
    `gaps`: the faithfulness rule's curve steps, gap exponent and gaps if already computed). Diagnostics per
    image: the rule, `weight_<method>` for each component, and the fused map's own liveness; raw output: the
    parts."""
    start = time.perf_counter()
    if gaps is None:  # computed here too, to report them per image
        gaps = rule_gaps(parts, rule, weights, images, targets, predict, steps)
    table = image_weights(parts, rule, weights, images, targets, predict, steps, power, gaps)
    fused = torch.stack([sum(row[part.method] * part.maps[index] for part in parts) * torch.ones_like(parts[0].maps[0])
                         for index, row in enumerate(table)])
    diagnostics = [{"rule": rule, **{f"weight_{name}": round(value, 4) for name, value in row.items()},
                    **_gap_diagnostics(gaps, index, parts), **alive}
                   for index, (row, alive) in enumerate(zip(table, liveness(fused)))]
    return Explanation("fusion", fused, unscaled=fused, raw={part.method: part for part in parts},
                       diagnostics=diagnostics, seconds=time.perf_counter() - start)


def _gap_diagnostics(gaps: dict[str, np.ndarray] | None, index: int, parts: list[Explanation]) -> dict:
    """Image `index`'s faithfulness gaps (`gap_<method>`), and whether they could choose: where no live map's gap
    is positive the live maps kept their base weights (`faithfulness_undecided`). Empty for other rules."""
    if gaps is None:
        return {}
    values = {name: float(gap[index]) for name, gap in gaps.items()}
    live = [values[part.method] for part in parts if part.method in values and not part.dead[index]]
    out = {f"gap_{name}": round(value, 4) for name, value in values.items()}
    out["faithfulness_undecided"] = not any(value > 0 for value in live)
    if out["faithfulness_undecided"]:
        out[undefined.KEY] = {"faithfulness_weights": "no live map's insertion moves the prediction more than its "
                              "deletion (nothing in the image that the curves hide or show changes it), so the "
                              "rule could not weigh the maps: the live maps keep their base weights"}
    return out
