import pytest
import torch
import torchvision

from medxai.errors import UserError
from medxai.models import ChannelSpatialAttention, build_model, builder_options, has_attention, model_names


@pytest.mark.parametrize("name", model_names())
def test_every_model_maps_pixels_to_logits_and_names_a_4d_gradcam_layer(name):
    model = build_model(name, num_classes=3).eval()
    captured = {}
    model.gradcam_module().register_forward_hook(lambda m, i, o: captured.setdefault("out", o))
    with torch.no_grad():
        logits = model(torch.rand(2, 3, 224, 224))
    assert logits.shape == (2, 3)
    assert captured["out"].ndim == 4 and captured["out"].shape[0] == 2


def test_parameter_counts_match_torchvision_plus_attention():
    ours = build_model("resnet50_attention", num_classes=3)
    plain = build_model("resnet50", num_classes=3)
    reference = torchvision.models.resnet50(num_classes=3)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(plain) == count(reference)
    attention = ChannelSpatialAttention(1024)
    assert count(ours) == count(plain) + count(attention)
    # channel MLP 1024 -> 64 -> 1024 with biases, shared by both poolings, plus a 2x7x7 spatial conv
    assert count(attention) == 1024 * 64 + 64 + 64 * 1024 + 1024 + 2 * 49


def test_attention_sits_after_the_configured_stage():
    model = build_model("resnet50_attention", num_classes=2, attention_stage=2)
    names = [name for name, _ in model.features.named_children()]
    assert names.index("attention") == names.index("layer2") + 1
    with pytest.raises(UserError):
        build_model("resnet50_attention", num_classes=2, attention_stage=5)


@pytest.mark.parametrize("name", model_names())
def test_has_attention_says_whether_the_built_model_has_the_module(name):
    model = build_model(name, 2)
    assert has_attention(name) == any(isinstance(m, ChannelSpatialAttention) for m in model.modules())
    assert not has_attention("no_such_model") and builder_options("no_such_model") == frozenset()


def test_builder_options_are_what_a_training_config_may_pass():
    from training.trainer import TrainConfig
    assert "image_size" in builder_options("vit_b_16") and "image_size" not in builder_options("resnet18_attention")
    assert TrainConfig(data="d", out="o", model="vit_b_16", image_size=96).architecture_args() == \
        {"dropout": 0.3, "image_size": 96}
    assert TrainConfig(data="d", out="o", model="resnet18_attention", attention_stage=2).architecture_args() == \
        {"dropout": 0.3, "attention_stage": 2}


def test_attention_reweights_and_favours_salient_positions():
    attention = ChannelSpatialAttention(32)
    with torch.no_grad():  # spatial gate that responds to the channel-max map
        attention.spatial_gate.conv.weight.zero_()
        attention.spatial_gate.conv.weight[0, 1, 3, 3] = 5.0
    features = torch.rand(1, 32, 8, 8) * 0.1
    features[:, :, 2, 5] = 3.0
    out = attention(features)
    assert out.shape == features.shape
    assert torch.all(out.abs() <= features.abs() + 1e-6)  # gates lie in (0, 1)
    weights = attention.last_spatial_weights[0, 0]
    assert weights[2, 5] == weights.max() and weights[2, 5] > weights.mean() + 0.3


def test_single_and_multi_label_outputs():
    model = build_model("resnet18_attention", num_classes=4, multi_label=True).eval()
    logits = torch.randn(3, 4)
    assert torch.allclose(model.probabilities(logits), torch.sigmoid(logits))
    model.multi_label = False
    assert torch.allclose(model.probabilities(logits).sum(dim=1), torch.ones(3))


def test_unknown_model_is_a_user_error():
    with pytest.raises(UserError, match="unknown model 'resnet51'"):
        build_model("resnet51", 2)


def test_pretrained_weights_load_from_a_local_file_and_never_download(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(UserError, match="never downloads.*resnet18-"):
        build_model("resnet18_attention", 2, pretrained="imagenet")
    source = torchvision.models.resnet18()
    torch.save(source.state_dict(), tmp_path / "weights.pth")
    model = build_model("resnet18_attention", 2, pretrained=str(tmp_path / "weights.pth"))
    assert torch.equal(model.features.layer3[0].conv1.weight, source.layer3[0].conv1.weight)
    torch.save({"unrelated": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(UserError, match="does not hold resnet18 weights"):
        build_model("resnet18_attention", 2, pretrained=str(tmp_path / "other.pth"))
