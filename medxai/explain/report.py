"""Explain one image file with a checkpoint and write what a person (or a script) reads: per-method maps as
.npy, colour overlays as .png, and explanation.json (prediction, seconds per method, IG completeness gap,
LIME R^2, seeds, the normalisation). A diagnostic that cannot be computed is null, with its reason under
"undefined" (`medxai.explain.undefined`)."""

import json
from pathlib import Path

import numpy as np
import torch

from medxai.checkpoint import load_checkpoint
from medxai.data import read_image
from medxai.data.dataset import to_model_input
from medxai.errors import UserError
from medxai.explain import undefined
from medxai.explain.base import model_device
from medxai.explain.evaluation import model_predictor
from medxai.explain.overlay import save_overlay
from medxai.explain.fusion import DEFAULT_RULE
from medxai.explain.pipeline import run_methods
from medxai.precision import resolve
from medxai.scope import Assessment, Scope, assess
from medxai.scope.intended_use import DEFAULT_TAG_RULE, tag_values
from medxai.scope.fit import probabilities_and_ood

NORMALISATION = "positive part; its 99th percentile at 0.9, its maximum at 1, linear between (order kept)"


def explain_file(checkpoint: str | Path, image: str | Path, out: str | Path, methods: list[str],
                 target: str | None = None, seed: int = 0, precision: str = "auto", rule: str = DEFAULT_RULE,
                 allow_out_of_scope: bool = False, tag_rule: str = DEFAULT_TAG_RULE) -> dict:
    """Write the maps (.npy, the model's SxS input), overlays (.png, on the image at its own size) and
    explanation.json for `image` into `out`; returns the JSON content.
    `target` is a class name; by default the top prediction is explained; `rule` is the fusion rule. Each
    method's diagnostics say whether its map is dead (nothing positive to show) and, for the fused map, the
    weight each component got. An image outside the checkpoint's intended use (`medxai.scope`) gets
    explanation.json with its "scope" and the reason, no prediction and no maps, and then a UserError; with
    `allow_out_of_scope` it is explained, marked research_only. `tag_rule` says how a DICOM image's Modality and
    Body Part Examined are held against the intended use (`medxai.scope.intended_use.TAG_RULES`)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)  # before the maps: a bad --out fails at once, not after the work
    model, info = load_checkpoint(checkpoint)
    decoded = read_image(image)
    pixels = to_model_input(decoded, info.image_size)
    scope = Scope.from_dict(info.scope)
    with torch.inference_mode():
        _, ood = probabilities_and_ood(model, scope, pixels[None])
    probabilities = model_predictor(model, precision)(pixels[None])[0]
    assessment = assess(scope, np.asarray(probabilities), info.class_names,
                        None if ood is None else float(ood[0]), info.multi_label)
    if scope is not None and (refusal := scope.intended_use.refusal(pixels, tag_values(Path(image).read_bytes()),
                                                                               tag_rule)):
        assessment = Assessment(in_scope=False, reason=refusal, ood_score=assessment.ood_score,
                                threshold=assessment.threshold)
    if not assessment.in_scope and not allow_out_of_scope:
        (out / "explanation.json").write_text(json.dumps({"image": str(image), "checkpoint": str(checkpoint),
                                                          "scope": assessment.as_dict()}, indent=2))
        raise UserError(f"{image}: {assessment.reason}; no diagnosis and no maps (--allow-out-of-scope explains "
                        "it for research)")
    predicted = int(probabilities.argmax())
    if target is not None and target not in info.class_names:
        raise UserError(f"unknown target class '{target}'; the checkpoint knows: {', '.join(info.class_names)}")
    explained = info.class_names.index(target) if target is not None else predicted
    explanations = run_methods(model, pixels[None], torch.tensor([explained]), methods,
                               options={"lime": {"seed": seed}}, precision=precision, rule=rule)
    report = {
        "image": str(image), "checkpoint": str(checkpoint),
        "prediction": {"class": info.class_names[predicted],
                       "probabilities": {name: float(p) for name, p in zip(info.class_names, probabilities)}},
        "explained_class": info.class_names[explained], "scope": assessment.as_dict(),
        **({} if assessment.in_scope else {"research_only": True}), "normalisation": NORMALISATION,
        "seeds": {"lime": seed}, "precision": resolve(precision, model_device(model)), "fusion_rule": rule,
        "methods": {},
    }
    for name, explanation in explanations.items():
        saliency = explanation.maps[0].numpy()
        np.save(out / f"{name}.npy", saliency)
        save_overlay(out / f"{name}.png", decoded, saliency)  # at the image's own size; the .npy at the model's
        report["methods"][name] = {"seconds": round(explanation.seconds, 3), "npy": f"{name}.npy",
                                   "png": f"{name}.png", "diagnostics": explanation.diagnostics[0]}
    for method, name, key in (("ig", "completeness_gap", "ig_completeness_gap"), ("lime", "r2", "lime_r2")):
        if method in explanations:
            found = explanations[method].diagnostics[0]
            report[key] = found[name]
            if name in found.get(undefined.KEY, {}):
                report.setdefault(undefined.KEY, {})[key] = found[undefined.KEY][name]
    (out / "explanation.json").write_text(json.dumps(report, indent=2, default=str))
    return report
