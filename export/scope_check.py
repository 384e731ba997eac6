"""The release gate's scope check: does the model's out-of-distribution detector refuse images it was never meant
for, at the threshold it will be served with? Far-out-of-distribution images are made here, offline: phantoms of
the kinds whose classes are not the model's, uniform noise, and flat images (black, grey, white): what a
misrouted series, a blank frame or a scanned page look like to the model. Where the gate's sample images are of
the model's own classes, their refused share is reported too (it should be near the validation fold's).

The figures the checkpoint stores from training (validation images accepted, conformal coverage and set size)
are carried into the record, so the release's provenance says how the scope was fitted.
"""

import tempfile
from collections.abc import Callable

import numpy as np
import torch

from medxai.data import ImageDataset, load_dataset
from medxai.data.phantoms import make_phantoms
from medxai.models import MedicalClassifier
from medxai.scope import Scope
from medxai.scope.fit import logits_and_features

SCOPE_MODES = ("refuse", "warn", "off")
MIN_FAR_REFUSED = 0.9
"""Share of each far-out-of-distribution set the served threshold must refuse."""
PHANTOM_KINDS = ("xray", "dermoscopy")
FAR_COUNT = 16


def far_images(image_size: int, class_names: list[str], seed: int = 0) -> dict[str, torch.Tensor]:
    """Named sets [N,3,S,S] in [0, 1] of images no model trained on other data should accept: each phantom kind
    whose classes are not `class_names`, uniform noise, and three flat images."""
    rng = np.random.default_rng(seed)
    sets: dict[str, torch.Tensor] = {}
    with tempfile.TemporaryDirectory(prefix="medxai-far-") as folder:
        for kind in PHANTOM_KINDS:
            spec = load_dataset(make_phantoms(f"{folder}/{kind}", kind, n=FAR_COUNT, seed=seed,
                                              size=max(image_size, 32)))
            if list(spec.class_names) != list(class_names):
                dataset = ImageDataset(spec, image_size)
                sets[f"{kind} phantoms"] = torch.stack([dataset[i]["image"] for i in range(len(dataset))])
    sets["uniform noise"] = torch.from_numpy(rng.random((8, 3, image_size, image_size), dtype=np.float32))
    sets["flat images"] = torch.stack([torch.full((3, image_size, image_size), v) for v in (0.0, 0.5, 1.0)])
    return sets


def scope_check(model: MedicalClassifier, scope: Scope | None, image_size: int, own: torch.Tensor | None,
                class_names: list[str], mode: str, log: Callable[[str], None]) -> tuple[list[str], dict]:
    """Reasons to refuse (only when `mode` is refuse) and the record for the release's provenance. `own`: sample
    images of the model's own classes [N,3,S,S] at `image_size`, or None. A checkpoint without a scope is logged, not refused:
    `medxai scope fit` gives it one."""
    if mode == "off":
        return [], {"mode": "off"}
    if scope is None or scope.detector is None:
        log("scope check: the checkpoint has no out-of-distribution detector (trained before scopes); "
            "`medxai scope fit` fits one: every image will be answered")
        return [], {"mode": mode, "skipped": "no detector"}
    record: dict = {"mode": mode, "threshold": scope.threshold, "validation": scope.validation, "far": {}}
    model = model.eval()

    def refused(pixels: torch.Tensor) -> float:
        """Share refused as the service refuses: by the intended use's pixels rule (a colour image for a grey
        model), or by the OOD score."""
        with torch.inference_mode():
            scores = scope.detector(logits_and_features(model, pixels)[1].float())
        by_pixels = torch.tensor([scope.intended_use.refusal(image) is not None for image in pixels])
        return float(((scores > scope.threshold) | by_pixels).float().mean())

    failing = []
    for name, pixels in far_images(image_size, class_names).items():
        share = refused(pixels)
        record["far"][name] = {"images": len(pixels), "refused": share}
        log(f"scope check: {name}: {share:.0%} of {len(pixels)} refused as outside the intended use")
        if share < MIN_FAR_REFUSED:
            failing.append(f"{name} {share:.0%}")
    if own is not None:
        record["own_refused"] = refused(own)
        log(f"scope check: the sample images of the model's own classes: {record['own_refused']:.0%} refused "
            f"(validation: {1 - scope.validation.get('accepted', scope.accept):.1%})")
    record["passed"] = not failing
    if failing and mode == "refuse":
        return [f"the out-of-distribution detector accepts images the model was never meant for (refused, of "
                f"each set: {', '.join(failing)}; at least {MIN_FAR_REFUSED:.0%} needed)"], record
    for reason in failing:
        log(f"warning: scope check: {reason} refused, under {MIN_FAR_REFUSED:.0%}")
    return [], record
