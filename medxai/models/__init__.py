"""Model registry, the attention module and the shared classifier shape."""

from medxai.models.attention import ChannelSpatialAttention
from medxai.models.classifier import MedicalClassifier
from medxai.models.registry import build_model, builder_options, has_attention, model_names

__all__ = ["ChannelSpatialAttention", "MedicalClassifier", "build_model", "builder_options", "has_attention", "model_names"]
