"""The shortcut check: does the model's evidence lie inside the expert region (lesion mask or box)?

A model that learned a shortcut (a ruler, a text label, a corner marker) classifies by what lies outside the
lesion. On sample images with expert regions and labels:

- region-only accuracy, the rule: the accuracy with the region kept and everything else replaced by a heavy
  Gaussian blur of the image (sigma = side / 6), which removes small things outside (a marker, text) and
  keeps the coarse anatomy. A model whose evidence is in the region keeps its accuracy; one that needs what
  lies outside loses it (the counterfactual test of shortcut learning: Geirhos et al., "Shortcut learning in
  deep neural networks", Nat. Mach. Intell. 2020). It fails when it loses more than `MAX_ACCURACY_DROP`.
- each served map's share of energy outside the region (1 - the energy-based pointing game of Wang et al.,
  Score-CAM, CVPRW 2020) against the no-skill share, the outside area fraction (what a uniform map gets):
  reported beside the rule, not decided on. On the phantoms below, a marker model's fused map put 0.83-0.88
  of its energy outside the lesion and clean models' 0.77-0.85 (no-skill 0.91-0.93): too close to decide.

Measured on x-ray phantoms (64 px, resnet18_attention, 20 epochs; 48 held-out images with the marker at random,
`make_phantoms(spurious_marker=True)`'s test split): accuracy lost with the region only, clean model vs corner-
marker model: data and training seed 0 in bf16 -0.21 vs 0.29, in fp32 -0.10 vs 0.31; seed 1 (bf16) 0.04 vs
0.12. Seed 1's marker model cheats less (adding the marker to every clean image raises its malignant share
from 0.15 to 0.52; seed 0's from 0.31-0.38 to 0.94) and passes. The outside mean as the fill cost seed 1's
clean model 0.17 and a blur of sigma side / 20 (the deletion metric's) left enough of the marker to pass seed
0's marker model on 16 images; at 16 images seed 1's clean model lost 0.19 with this fill, hence 48 samples.
"""

from dataclasses import asdict, dataclass

import numpy as np
import torch

from medxai.metrics.faithfulness import blurred
from medxai.metrics.localisation import energy_in_mask
from medxai.models import MedicalClassifier

MAX_ACCURACY_DROP = 0.15
"""The model fails when its region-only accuracy is more than this below its accuracy on the images as given."""
FILL_SIGMA = 1 / 6
"""The fill outside the region: a Gaussian blur of the image with sigma = side x FILL_SIGMA."""


@dataclass
class ShortcutReport:
    """`images`: sample images with a non-empty region; `accuracy` and `region_only_accuracy` on them;
    `no_skill`: mean share of the image outside the region; `outside`: per served map, the mean share of its
    energy outside the region (over its live maps; None when all are dead); `passed`, and `reason` when not."""

    images: int
    accuracy: float
    region_only_accuracy: float
    no_skill: float
    outside: dict[str, float | None]
    passed: bool
    reason: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def region_only(pixels: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """`pixels` [N,3,S,S] with everything outside `regions` [N,S,S] (bool) replaced by a Gaussian blur of the
    image (sigma = side x FILL_SIGMA)."""
    return torch.where(regions[:, None], pixels, blurred(pixels, FILL_SIGMA))


def outside_share(maps: torch.Tensor, dead: list[bool], regions: torch.Tensor) -> float | None:
    """Mean share of map energy outside the region over maps [M,S,S] that are alive; `regions` [>=M,S,S]."""
    shares = [1 - energy_in_mask(saliency.numpy(), region.numpy())
              for saliency, gone, region in zip(maps, dead, regions) if not gone]
    return float(np.mean(shares)) if shares else None


def shortcut_check(model: MedicalClassifier, pixels: torch.Tensor, regions: torch.Tensor, labels: torch.Tensor,
                   maps: dict | None = None, max_drop: float = MAX_ACCURACY_DROP) -> ShortcutReport:
    """The check on sample `pixels` [N,3,S,S] in [0, 1] with expert `regions` [N,S,S] (bool) and class indices
    `labels` [N], in fp32 (as served). `maps`: the served maps of the first M <= N images by method
    (`Explanation`s: maps [M,S,S] in [0, 1] and their dead flags), reported, not decided on. Images whose
    region is empty are left out (ValueError when none is left)."""
    kept = regions.flatten(1).any(dim=1)
    if not bool(kept.any()):
        raise ValueError("every sample image's region is empty")
    outside = {method: outside_share(explanation.maps[kept[:len(explanation.maps)]],
                                     [d for d, k in zip(explanation.dead, kept) if k], regions[kept])
               for method, explanation in (maps or {}).items()}
    pixels, regions, labels = pixels[kept], regions[kept], labels[kept]
    model.eval()
    with torch.no_grad():
        accuracy = float((model(pixels).argmax(dim=1) == labels).float().mean())
        only = float((model(region_only(pixels, regions)).argmax(dim=1) == labels).float().mean())
    no_skill = 1 - float(regions.float().mean())
    passed = only >= accuracy - max_drop
    shares = ", ".join(f"{method} {share:.3f}" for method, share in outside.items() if share is not None)
    reason = "" if passed else (
        f"the model's evidence lies outside the expert regions: its accuracy on {len(pixels)} sample images falls "
        f"from {accuracy:.3f} to {only:.3f} when only the region is kept (more than {max_drop:.2f}); map energy "
        f"outside the region {shares or 'not known'} (no-skill {no_skill:.3f}): the shortcut check failed")
    return ShortcutReport(len(pixels), accuracy, only, no_skill, outside, passed, reason)
