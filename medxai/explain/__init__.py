"""Explanations: Grad-CAM, Integrated Gradients, LIME and their fusion behind one interface (see `base`).

`METHODS[name](model, images, targets, **options) -> Explanation` for name in gradcam, ig, lime, fusion;
`pipeline.run_methods` runs several on the same images, computing each component once.
"""

from medxai.explain import fusion
from medxai.explain.base import Explanation, normalise
from medxai.explain.pipeline import COMPONENTS

METHODS = {**COMPONENTS, "fusion": fusion.explain}

__all__ = ["METHODS", "Explanation", "normalise"]
