"""Counterfactual perturbation of the training images (issue 37): training on the shortcut check's own
conditions, so that the expert region becomes necessary and sufficient for the answer.

`medxai bench shortcut` found the brain MRI model classifying gliomas and pituitary tumours with their box
blurred away: what lies around the tumour was enough. Two perturbations close that route, each on a seeded
random share of the training images that have a lesion in their mask or box:

- **context blur** (`--context-blur P`): everything outside the region is blurred. The answer stays; the model
  learns that the region alone is enough.
- **region removal** (`--region-removal P`): the region itself is blurred and the target becomes the uniform
  distribution over the classes (no lesion left, no answer). Learning "right for the right reasons" from
  counterfactual examples in this way follows Teney et al., "Learning what makes a difference from
  counterfactual examples and gradient supervision" (ECCV 2020); the uniform target for evidence removed is the
  out-of-distribution "outlier exposure" loss of Hendrycks et al. (ICLR 2019). So that the blur itself is no
  cue, as many other images have a patch of the region's shape removed elsewhere on the body part and keep
  their label: the control of the shortcut check (`medxai.metrics.counterfactual.displaced_regions`).

`--removal-target background` teaches "no lesion, no answer" another way: a training-only **background
output** (one more logit beside the classes, as the background class of an object detector) is the target of
the images whose region was removed, and every other image is taught away from it. A class's logit then has to
rise above "no lesion" from the lesion itself, not merely win among the classes; the uniform target asked the
class logits to agree with each other, which the brain MRI models did not learn (docs/evidence/right-reasons.md).
The output stays out of the checkpoint: checkpoints, exports and served models keep their classes only. Its
weights at the best epoch are kept beside it (`FOLD/background_head.pt`, `BackgroundHead.state_dict()`), so
that analyses can ask how far a class rises above "no lesion".

The fill is the shortcut check's (`medxai.metrics.counterfactual.fill`), so its measurements are no longer out
of distribution for a model trained this way: read them with that in mind (the run's config.json says how a
model was trained). Single-label data only: a multi-label model has no "uniform" answer.
"""

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from medxai.metrics import counterfactual
from medxai.metrics.evidence_location import foreground_mask


@dataclass
class Perturbed:
    """A batch after `perturb`: `images` [N,3,S,S] in [0, 1]; `removed` [N] bool, the images whose region was
    removed (their target is the uniform distribution, `no_evidence_loss`)."""

    images: torch.Tensor
    removed: torch.Tensor


def perturb(images: torch.Tensor, masks: torch.Tensor, context_blur: float, region_removal: float,
            generator: torch.Generator) -> Perturbed:
    """`images` [N,3,S,S] in [0, 1] with, of those whose `masks` [N,S,S] (uint8: 1 lesion, 0 not, 255 unknown)
    hold a lesion, a random `context_blur` share shown with only the region kept, a `region_removal` share with
    the region removed and another `region_removal` share with a patch of the region's shape removed elsewhere
    on the foreground (the same blur fills all three; a region with no room elsewhere is left as given). One
    uniform draw per image from `generator` picks its condition, so with `region_removal` 0 the draws are those
    of context blur alone.

    Raises ValueError when `context_blur + 2 * region_removal` exceeds 1."""
    if context_blur < 0 or region_removal < 0 or context_blur + 2 * region_removal > 1 + 1e-9:
        raise ValueError(f"context blur {context_blur} + 2 x region removal {region_removal} must lie in [0, 1]")
    regions = masks == 1
    draw = torch.rand(len(images), generator=generator)
    annotated = regions.flatten(1).any(dim=1)
    keep = annotated & (draw < context_blur)
    removed = annotated & (draw >= context_blur) & (draw < context_blur + region_removal)
    displaced = annotated & (draw >= context_blur + region_removal) & (draw < context_blur + 2 * region_removal)
    lost = regions.clone()  # what each chosen image loses; for a displaced one, a patch of its region's shape
    if displaced.any():
        rng = np.random.default_rng(int(torch.randint(2**31, (1,), generator=generator)))
        moving = torch.nonzero(displaced).flatten()
        foregrounds = torch.from_numpy(np.stack([foreground_mask(images[index].numpy()) for index in moving]))
        lost[moving] = counterfactual.displaced_regions(regions[moving], foregrounds, rng)
        # no room elsewhere (a region over half the image): left as given
        displaced[moving[(lost[moving] & regions[moving]).flatten(1).any(dim=1)]] = False
    chosen = torch.nonzero(keep | removed | displaced).flatten()
    if len(chosen) == 0:
        return Perturbed(images, removed)
    images = images.clone()
    filled = counterfactual.fill(images[chosen])
    keeps = keep[chosen]
    kept, lose = chosen[keeps], chosen[~keeps]
    images[kept] = counterfactual.keep_region(images[kept], regions[kept], filled[keeps])
    images[lose] = counterfactual.remove_region(images[lose], lost[lose], filled[~keeps])
    return Perturbed(images, removed)


REMOVAL_TARGETS = ("uniform", "background")


BACKGROUND_HEAD_FILE = "background_head.pt"
"""The background output's weights at the best epoch, in the fold's folder beside best.pt."""


class BackgroundHead(nn.Module):
    """The training-only background output: global average pooling, dropout and one linear unit on the
    classification head's input features [N,C,h,w], giving a logit [N,1] (the class head's shape, one more
    output). Kept outside the model, so that nothing served ever sees it."""

    def __init__(self, in_features: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_features, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(features.mean(dim=(2, 3))))


def against_background(state_dict: dict[str, torch.Tensor], background: dict[str, torch.Tensor]
                       ) -> dict[str, torch.Tensor]:
    """A classifier's `state_dict` whose class logits become z_c - z_background: the background output's weights
    (`BackgroundHead.state_dict()`) subtracted from every row of the head's `head.fc` weight [C,D] and bias [C].

    The head and the background output read the same pooled features through the same dropout, so in eval mode
    the new logits are exactly the old ones less the background logit: every softmax (the served probabilities,
    the temperature's, the prediction sets') is unchanged, since one number is subtracted from a row of logits;
    what changes is what a logit's gradient asks, "how far above no lesion" rather than "how far above zero",
    so the CAM's and IG's maps. Raises KeyError for a state without `head.fc`."""
    folded = dict(state_dict)
    folded["head.fc.weight"] = state_dict["head.fc.weight"] - background["fc.weight"]
    folded["head.fc.bias"] = state_dict["head.fc.bias"] - background["fc.bias"]
    return folded


@contextmanager
def head_features(model: nn.Module) -> Iterator[dict]:
    """Records the input of `model.head` (the features [N,C,h,w]) of each forward pass in `record["features"]`."""
    record: dict = {}
    handle = model.head.register_forward_pre_hook(lambda module, inputs: record.update(features=inputs[0]))
    try:
        yield record
    finally:
        handle.remove()


def background_loss(logits: torch.Tensor, background: torch.Tensor, targets: torch.Tensor,
                    removed: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the classes' `logits` [N,C] and the `background` logit [N,1]: the target is the
    background (index C) for the `removed` [N] bool images and the class `targets` [N] (indices) for the rest,
    so that a lesion's class must outscore "no lesion". Mean over the batch, in nats."""
    joined = torch.cat([logits.float(), background.float()], dim=1)
    return F.cross_entropy(joined, torch.where(removed, logits.shape[1], targets))


def no_evidence_loss(logits: torch.Tensor) -> torch.Tensor:
    """KL(uniform || softmax(`logits`)) averaged over the rows of `logits` [N,C]: 0 when the model answers
    uniformly, growing as it commits to a class; 0 for no rows. In nats."""
    if len(logits) == 0:
        return logits.sum() * 0.0
    return (-F.log_softmax(logits.float(), dim=1).mean(dim=1) - math.log(logits.shape[1])).mean()
