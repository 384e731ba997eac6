"""One answer's scope, as every front end shows it: in or out of the intended use, and the prediction set."""

from dataclasses import asdict, dataclass, field

import numpy as np

from medxai.scope.conformal import prediction_set
from medxai.scope.scope import Scope

OUT_OF_SCOPE = "outside the model's intended use"


@dataclass
class Assessment:
    """`in_scope` False carries the reason; `prediction_set` holds class names, most probable first; `refer` is
    the sentence shown when the set has more than one class."""

    in_scope: bool = True
    reason: str = ""
    ood_score: float | None = None
    threshold: float | None = None
    prediction_set: list[str] = field(default_factory=list)
    alpha: float | None = None
    refer: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def assess(scope: Scope | None, probabilities: np.ndarray, class_names: list[str], ood_score: float | None,
           multi_label: bool = False) -> Assessment:
    """The assessment of one image's calibrated probabilities [C] and OOD score (None where the checkpoint has no
    detector). Without a scope (an old checkpoint) everything is in scope and there is no set."""
    if scope is None:
        return Assessment()
    result = Assessment(ood_score=None if ood_score is None else float(ood_score),
                        threshold=None if scope.detector is None else scope.threshold)
    if ood_score is not None and scope.detector is not None and not ood_score <= scope.threshold:
        result.in_scope = False
        result.reason = f"{OUT_OF_SCOPE} (OOD score {ood_score:.1f}, threshold {scope.threshold:.1f})"
        return result
    if scope.quantile is not None and not multi_label:
        result.alpha = scope.alpha
        result.prediction_set = [class_names[k] for k in prediction_set(probabilities, scope.quantile,
                                                                                  scope.conformal_method)]
        if len(result.prediction_set) > 1:
            result.refer = refer_sentence(result.prediction_set)
    return result


def refer_sentence(classes: list[str]) -> str:
    """"refer: the model cannot separate A and B" (and C ...)."""
    names = classes[0] if len(classes) == 1 else ", ".join(classes[:-1]) + " and " + classes[-1]
    return f"refer: the model cannot separate {names}"
