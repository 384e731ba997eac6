"""Explanations: the class-activation family, Integrated Gradients, LIME and their fusion behind one interface
(see `base`).

`METHODS[name](model, images, targets, **options) -> Explanation` for every name in `pipeline.METHOD_NAMES`;
`pipeline.run_methods` runs several on the same images, computing each component once.
"""

from medxai.explain.base import Explanation, normalise
from medxai.explain.pipeline import COMPONENTS, DEFAULT_METHODS, explain_fused

METHODS = {**COMPONENTS, "fusion": explain_fused}

__all__ = ["METHODS", "DEFAULT_METHODS", "Explanation", "normalise"]
