"""What the model does when the expert region, or everything but it, is taken away: the counterfactual test of
shortcut learning (Geirhos et al., "Shortcut learning in deep neural networks", Nat. Mach. Intell. 2020).

A model right for the right reasons keeps its answer with only the lesion left and loses it with the lesion
removed; a model that uses something else does the opposite. Removing any patch of the image can hurt a model
that never saw such a patch, so the region's removal is compared with the removal of a patch of the same shape
elsewhere on the body part (`displaced_regions`): only the difference between the two is the region's own
effect. A blur is not the only way to take the region away, so it is also replaced by the tissue under the
displaced patch (`replace_region`): a model that reads the blur itself as a sign answers differently to the two.
And the whole image blurred says what the model answers with nothing to see: a class it gives there is its
default, the answer it reaches by exclusion when it finds none of the others.

What fills a removed area is a Gaussian blur of the image with sigma = side x `FILL_SIGMA`: it keeps the
brightness and the coarse anatomy and takes away the detail (a grey or black fill is itself a feature the model
never saw, and moves a grey model far from its training images; the shortcut check measured the outside mean
and a median filter as fills too, `export.shortcut`). The blur is SciPy's separable `gaussian_filter`, not
torchvision's `gaussian_blur` (`metrics.faithfulness.blurred`), which convolves with the full 2-D kernel: at
160 px (sigma 27) that took 8 s for 32 images on 2 cores against SciPy's 0.3 s.
"""

from collections.abc import Callable

import numpy as np
import torch

from scipy import ndimage

FILL_SIGMA = 1 / 6
"""What fills a removed area: a Gaussian blur of the image with sigma = side x FILL_SIGMA."""
CONDITIONS = ("as_given", "region_kept", "region_removed", "elsewhere_removed", "region_replaced", "all_blurred")
"""The image as given; only the region kept (the rest filled); the region removed (filled); a patch of the
region's shape elsewhere on the body part removed instead (the control for `region_removed`); the region
replaced by the tissue under that patch; the whole image filled (nothing left to see)."""
PLACEMENT_TRIES = 64
"""Random offsets tried per image for the displaced patch."""


def fill(pixels: torch.Tensor) -> torch.Tensor:
    """What replaces removed pixels of `pixels` [N,3,S,S]: a Gaussian blur of each image with sigma = side x
    FILL_SIGMA (SciPy, reflected at the border, truncated at 3 sigma)."""
    sigma = max(pixels.shape[-2:]) * FILL_SIGMA
    blurred = ndimage.gaussian_filter(pixels.detach().float().cpu().numpy(), sigma=(0, 0, sigma, sigma),
                                      mode="reflect", truncate=3.0)
    return torch.from_numpy(blurred).to(pixels.dtype)


def keep_region(pixels: torch.Tensor, regions: torch.Tensor, filled: torch.Tensor | None = None) -> torch.Tensor:
    """`pixels` [N,3,S,S] with everything outside `regions` [N,S,S] (bool) replaced by `filled` [N,3,S,S]
    (default: `fill(pixels)`)."""
    return torch.where(regions[:, None], pixels, fill(pixels) if filled is None else filled)


def remove_region(pixels: torch.Tensor, regions: torch.Tensor, filled: torch.Tensor | None = None) -> torch.Tensor:
    """`pixels` [N,3,S,S] with `regions` [N,S,S] (bool) replaced by `filled` (default: `fill(pixels)`)."""
    return torch.where(regions[:, None], fill(pixels) if filled is None else filled, pixels)


def replace_region(pixels: torch.Tensor, regions: torch.Tensor, donors: torch.Tensor) -> torch.Tensor:
    """`pixels` [N,3,S,S] (any dtype and device) with each of `regions` [N,S,S] (bool) replaced by the pixels
    under its `donors` [N,S,S] (bool), a translated copy of the region (`displaced_region`): tissue in place of
    the lesion, keeping the detail that a blur takes away (though not the seam: the pasted patch's edges are
    themselves something the model never saw, as the displaced control's are not). A translation keeps
    row-major order, so the k-th pixel of the region takes the k-th of the donor. An image whose donor is the
    region itself (no room to move it, a region over half the image's width and height) is left as given.
    Raises ValueError when a donor is not a translated copy of its region."""
    out = pixels.clone()
    for index, (region, donor) in enumerate(zip(regions, donors)):
        region_at, donor_at = torch.nonzero(region), torch.nonzero(donor)
        if region_at.shape != donor_at.shape or (len(region_at) and bool(
                ((donor_at - region_at) != (donor_at[0] - region_at[0])).any())):
            raise ValueError(f"image {index}: the donor patch is not a translated copy of the region")
        out[index][:, region] = pixels[index][:, donor]
    return out


def grown_regions(regions: torch.Tensor, margin: float) -> torch.Tensor:
    """`regions` [N,S,S] (bool), each grown on every side by `margin` x the side of a square of its area (a box
    of 20 x 20 px with margin 0.5 grows by 10 px a side, to 40 x 40; a box stays a box, clipped to the image).
    Why: a tumour's signal can reach beyond its box (oedema, mass effect); removing a grown region asks how far.
    The growth is SciPy's binary dilation with a 3 x 3 square, once per pixel of margin."""
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    grown = []
    for region in regions.numpy():
        steps = int(round(margin * np.sqrt(region.sum())))
        grown.append(ndimage.binary_dilation(region, np.ones((3, 3), bool), iterations=steps) if steps else region)
    return torch.from_numpy(np.stack(grown)) if grown else regions


def displaced_region(region: np.ndarray, foreground: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """bool [H,W]: `region` [H,W] (bool) moved by a random whole-pixel offset so that it stays inside the image,
    does not overlap itself, and lies on the `foreground` [H,W] (bool) as much as it can: of `PLACEMENT_TRIES`
    offsets, the first with all of it on the foreground, else the one with most of it there. The region
    itself when no offset fits (a region over half the image's width and height)."""
    ys, xs = np.nonzero(region)
    if len(ys) == 0:
        return region.copy()
    height, width = region.shape
    best, best_share = region.copy(), -1.0
    for _ in range(PLACEMENT_TRIES):
        dy = int(rng.integers(-ys.min(), height - ys.max()))
        dx = int(rng.integers(-xs.min(), width - xs.max()))
        moved = np.zeros_like(region, dtype=bool)
        moved[ys + dy, xs + dx] = True
        if (moved & region).any():
            continue
        share = float(foreground[moved].mean())
        if share > best_share:
            best, best_share = moved, share
        if share >= 1.0:
            break
    return best


def displaced_regions(regions: torch.Tensor, foregrounds: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """bool [N,S,S]: each of `regions` [N,S,S] (bool) moved onto its `foregrounds` [N,S,S] (bool) by
    `displaced_region`, in order, drawing from `rng`; a region with no room elsewhere comes back as itself."""
    return torch.from_numpy(np.stack([displaced_region(region.numpy(), foreground.numpy(), rng)
                                      for region, foreground in zip(regions, foregrounds)]))


def counterfactual_probabilities(predict: Callable[[torch.Tensor], torch.Tensor], pixels: torch.Tensor,
                                 regions: torch.Tensor, foregrounds: torch.Tensor, seed: int = 0,
                                 batch_size: int = 32) -> dict[str, torch.Tensor]:
    """{condition: probabilities [N,C]} for each of `CONDITIONS`, from `predict` (images [B,3,S,S] in [0, 1] ->
    probabilities [B,C]) on `pixels` [N,3,S,S] with expert `regions` [N,S,S] (bool) and `foregrounds` [N,S,S]
    (bool, where the displaced patch goes; `medxai.metrics.evidence_location.foreground_mask`), in batches of
    `batch_size`; the displaced patches are drawn with `seed`."""
    elsewhere = displaced_regions(regions, foregrounds, np.random.default_rng(seed))
    out: dict[str, list[torch.Tensor]] = {condition: [] for condition in CONDITIONS}
    for start in range(0, len(pixels), batch_size):
        batch, region, moved = (tensor[start:start + batch_size] for tensor in (pixels, regions, elsewhere))
        filled = fill(batch)
        out["as_given"].append(predict(batch))
        out["region_kept"].append(predict(keep_region(batch, region, filled)))
        out["region_removed"].append(predict(remove_region(batch, region, filled)))
        out["elsewhere_removed"].append(predict(remove_region(batch, moved, filled)))
        out["region_replaced"].append(predict(replace_region(batch, region, moved)))
        out["all_blurred"].append(predict(filled))
    return {condition: torch.cat(parts) for condition, parts in out.items()}
