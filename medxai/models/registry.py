"""A registry of builder functions: every architecture is built, trained, exported and explained the same way.

`build_model(name, num_classes, ...)` returns a `MedicalClassifier`. Builders never download weights:
ImageNet weights come from a file the user has (`pretrained=PATH`, or `"imagenet"` to look in torch's hub cache).
"""

import inspect
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision
from torch import nn

from medxai.errors import UserError
from medxai.models.attention import ChannelSpatialAttention
from medxai.models.classifier import ClassificationHead, MedicalClassifier

_BUILDERS: dict[str, Callable[..., MedicalClassifier]] = {}


def register(name: str):
    def decorate(builder: Callable[..., MedicalClassifier]) -> Callable[..., MedicalClassifier]:
        _BUILDERS[name] = builder
        return builder
    return decorate


def model_names() -> list[str]:
    return sorted(_BUILDERS)


def builder_options(name: str) -> frozenset[str]:
    """The keyword options the builder of architecture `name` takes (empty for an unknown name): what a training
    config may pass it, e.g. `attention_stage`, or `image_size` for a ViT."""
    return frozenset(inspect.signature(_BUILDERS[name]).parameters) if name in _BUILDERS else frozenset()


def has_attention(name: str) -> bool:
    """Whether architecture `name` has the channel-spatial attention module (what attention guidance and the
    paper's Grad-CAM layer need): its builder takes `attention_stage`. False for an unknown name."""
    return "attention_stage" in builder_options(name)


def build_model(name: str, num_classes: int, *, multi_label: bool = False, dropout: float = 0.3,
                pretrained: str | None = None, **kwargs) -> MedicalClassifier:
    """Build architecture `name` with a fresh head of `num_classes` outputs."""
    if name not in _BUILDERS:
        raise UserError(f"unknown model '{name}'; choose one of: {', '.join(model_names())}")
    model = _BUILDERS[name](num_classes=num_classes, dropout=dropout, pretrained=pretrained, **kwargs)
    model.multi_label = multi_label
    return model


def weights_file_hint(torchvision_name: str) -> Path:
    """Where torchvision would cache this architecture's default ImageNet weights."""
    url = torchvision.models.get_model_weights(torchvision_name).DEFAULT.url
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def _torchvision_backbone(torchvision_name: str, pretrained: str | None, **kwargs) -> nn.Module:
    """A torchvision model with random weights, then ImageNet weights from a local file if asked (head dropped)."""
    backbone = torchvision.models.get_model(torchvision_name, weights=None, **kwargs)
    if pretrained is None:
        return backbone
    path = weights_file_hint(torchvision_name) if pretrained == "imagenet" else Path(pretrained)
    if not path.is_file():
        raise UserError(f"ImageNet weights for {torchvision_name} not found at {path}; medxai never downloads: "
                        f"copy the torchvision weights file there (expected {weights_file_hint(torchvision_name)}) "
                        f"or pass --pretrained PATH")
    state = torch.load(path, map_location="cpu", weights_only=True)
    head_prefixes = ("fc.", "classifier.", "heads.")
    state = {k: v for k, v in state.items() if not k.startswith(head_prefixes)}
    missing, unexpected = backbone.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith(head_prefixes)]
    if missing or unexpected:
        raise UserError(f"{path} does not hold {torchvision_name} weights "
                        f"({len(missing)} missing, {len(unexpected)} unexpected keys)")
    return backbone


def _resnet(torchvision_name: str, attention: bool, num_classes: int, dropout: float, pretrained: str | None,
            attention_stage: int = 3) -> MedicalClassifier:
    """ResNet stages, with ChannelSpatialAttention after stage `attention_stage` (1-4) when `attention`."""
    if not 1 <= attention_stage <= 4:
        raise UserError(f"attention_stage must be 1 to 4, got {attention_stage}")
    net = _torchvision_backbone(torchvision_name, pretrained)
    parts: list[tuple[str, nn.Module]] = [("conv1", net.conv1), ("bn1", net.bn1), ("relu", net.relu),
                                          ("maxpool", net.maxpool)]
    for stage in range(1, 5):
        layer = getattr(net, f"layer{stage}")
        parts.append((f"layer{stage}", layer))
        if attention and stage == attention_stage:
            channels = layer[-1].conv3.out_channels if hasattr(layer[-1], "conv3") else layer[-1].conv2.out_channels
            parts.append(("attention", ChannelSpatialAttention(channels)))
    features = nn.Sequential(OrderedDict(parts))
    gradcam_layer = "features.attention" if attention else "features.layer4"
    return MedicalClassifier(features, ClassificationHead(net.fc.in_features, num_classes, dropout), gradcam_layer)


@register("resnet50_attention")
def resnet50_attention(num_classes: int, dropout: float = 0.3, pretrained: str | None = None,
                       attention_stage: int = 3) -> MedicalClassifier:
    """The seed paper's model: ResNet-50 with channel-spatial attention after the third stage (§3.3)."""
    return _resnet("resnet50", True, num_classes, dropout, pretrained, attention_stage)


@register("resnet18_attention")
def resnet18_attention(num_classes: int, dropout: float = 0.3, pretrained: str | None = None,
                       attention_stage: int = 3) -> MedicalClassifier:
    """A small twin of the paper's model, for quick runs and tests."""
    return _resnet("resnet18", True, num_classes, dropout, pretrained, attention_stage)


@register("resnet50")
def resnet50(num_classes: int, dropout: float = 0.3, pretrained: str | None = None) -> MedicalClassifier:
    """Plain ResNet-50 baseline (Table 5)."""
    return _resnet("resnet50", False, num_classes, dropout, pretrained)


@register("resnet18")
def resnet18(num_classes: int, dropout: float = 0.3, pretrained: str | None = None) -> MedicalClassifier:
    """Plain ResNet-18: the attention module's ablation beside resnet18_attention (same backbone, no module), a
    baseline a CPU profile can afford to train on every fold."""
    return _resnet("resnet18", False, num_classes, dropout, pretrained)


@register("densenet121")
def densenet121(num_classes: int, dropout: float = 0.3, pretrained: str | None = None) -> MedicalClassifier:
    """DenseNet-121 baseline; Grad-CAM on the last dense block's activated output."""
    net = _torchvision_backbone("densenet121", pretrained)
    features = nn.Sequential(OrderedDict([("body", net.features), ("relu", nn.ReLU())]))
    return MedicalClassifier(features, ClassificationHead(net.classifier.in_features, num_classes, dropout),
                             "features")


@register("efficientnet_b0")
def efficientnet_b0(num_classes: int, dropout: float = 0.3, pretrained: str | None = None) -> MedicalClassifier:
    """EfficientNet-B0 baseline; Grad-CAM on the last convolutional stage."""
    net = _torchvision_backbone("efficientnet_b0", pretrained)
    return MedicalClassifier(net.features, ClassificationHead(net.classifier[-1].in_features, num_classes, dropout),
                             "features")


class VitTokenGrid(nn.Module):
    """ViT encoder whose patch tokens are returned as a [N, D, h, w] grid, so Grad-CAM and the GAP head apply."""

    def __init__(self, vit: torchvision.models.VisionTransformer):
        super().__init__()
        self.vit = vit

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        tokens = self.vit._process_input(pixels)
        cls = self.vit.class_token.expand(tokens.shape[0], -1, -1)
        tokens = self.vit.encoder(torch.cat([cls, tokens], dim=1))[:, 1:]
        side = pixels.shape[-1] // self.vit.patch_size
        return tokens.transpose(1, 2).reshape(tokens.shape[0], -1, pixels.shape[-2] // self.vit.patch_size, side)


@register("vit_b_16")
def vit_b_16(num_classes: int, dropout: float = 0.3, pretrained: str | None = None,
             image_size: int = 224) -> MedicalClassifier:
    """ViT-B/16 baseline; the head averages patch tokens; Grad-CAM on the token grid."""
    net = _torchvision_backbone("vit_b_16", pretrained, image_size=image_size)
    return MedicalClassifier(VitTokenGrid(net), ClassificationHead(net.hidden_dim, num_classes, dropout), "features")
