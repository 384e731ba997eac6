"""The case under review: the picture, where it came from, what the expert marked, and what the service
said about it (prediction, then each map as it streams in). Review fills it; Rating reads it."""

from dataclasses import dataclass, field

import numpy as np

from dashboard.imaging import Picture, map_values

METHOD_NAMES = {"cam": "Class-activation map", "ig": "Integrated Gradients", "lime": "LIME", "fusion": "Fused map"}
"""The maps the service returns by default, in streaming order."""


@dataclass
class ReviewedMap:
    method: str
    values: np.ndarray
    diagnostics: dict[str, float]
    seconds: float
    undefined: dict[str, str] = field(default_factory=dict)
    """Diagnostics that could not be computed, with the service's reason."""

    @property
    def dead(self) -> bool:
        """The method found no positive evidence (its map is all zero or flat): there is nothing to show."""
        return bool(self.diagnostics.get("dead", 0.0))


@dataclass
class Case:
    picture: Picture
    dataset: str
    expert_label: str | None = None
    mask: np.ndarray | None = None
    requested_version: str = ""
    research: bool = False  # explain even outside the model's intended use (marked research_only)
    model: dict = field(default_factory=dict)
    """name, version, class_names, image_size"""
    probabilities: dict[str, float] = field(default_factory=dict)
    predicted: str = ""
    target: int = 0
    maps: dict[str, ReviewedMap] = field(default_factory=dict)
    complete: bool = False
    curves: dict[str, dict] = field(default_factory=dict)
    scope: dict = field(default_factory=dict)
    """in_scope, reason, prediction_set, refer, research_only, intended_use: from the service ({} from services
    older than scopes)."""

    @property
    def out_of_scope(self) -> bool:
        """Outside the model's intended use and not answered (a research answer is marked, not withheld)."""
        return self.scope.get("in_scope") is False and not self.scope.get("research_only")

    @property
    def key(self) -> tuple[str, str, str, bool]:
        """Same pixels from the same source, explained by the same requested version, asked for research or
        not: the same case."""
        return self.picture.case_id, self.dataset, self.requested_version, self.research

    def add_event(self, event) -> None:
        """Take one ExplainEvent: the first carries the prediction and the model."""
        if event.HasField("model"):
            names = list(event.model.class_names)
            self.model = {"name": event.model.name, "version": event.model.version, "class_names": names,
                          "image_size": event.model.image_size}
            self.probabilities = {p.name: p.probability for p in event.prediction.probabilities}
            self.predicted = names[event.prediction.predicted] if self.probabilities else ""
            self.target = event.prediction.target
            if event.prediction.HasField("scope"):
                scope = event.prediction.scope
                self.scope = {"in_scope": scope.in_scope, "reason": scope.reason,
                              "prediction_set": list(scope.prediction_set), "refer": scope.refer,
                              "research_only": scope.research_only, "intended_use": event.model.intended_use}
        if not event.HasField("map"):  # outside the intended use: no map comes
            return
        self.maps[event.map.method] = ReviewedMap(event.map.method, map_values(event.map),
                                                  dict(event.map.diagnostics), event.map.seconds,
                                                  dict(event.map.undefined))
