"""The export of a model with a scope: the served graph returns the OOD score beside the probabilities (ONNX
Runtime and TorchScript agree with PyTorch), Triton's config declares it and carries the threshold, the conformal
quantile and the intended use, and the release gate's scope check records the far images it refused."""

import json

import numpy as np
import onnxruntime as ort
import torch

from export.release import export_checkpoint
from export.scope_check import far_images, scope_check
from export.triton_config import parse_config
from medxai.checkpoint import load_checkpoint
from medxai.scope import Scope
from medxai.scope.fit import probabilities_and_ood


def test_the_served_graph_scores_scope_as_pytorch_does_and_the_config_says_how_to_read_it(trained_checkpoint,
                                                                                        tmp_path):
    result = export_checkpoint(trained_checkpoint, tmp_path, "phantom", target="cpu", samples=8, log=lambda _: None)
    model, info = load_checkpoint(trained_checkpoint)
    scope = Scope.from_dict(info.scope)
    pixels = torch.rand(3, 3, info.image_size, info.image_size, generator=torch.Generator().manual_seed(0))
    session = ort.InferenceSession(str(result.version_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    probabilities, ood = session.run(["probabilities", "ood_score"], {"image": pixels.numpy()})
    expected_p, expected_ood = probabilities_and_ood(model, scope, pixels)
    np.testing.assert_allclose(probabilities, expected_p.numpy(), atol=1e-4)
    np.testing.assert_allclose(ood[:, 0], expected_ood.numpy(), rtol=1e-3)
    config = parse_config((tmp_path / "phantom" / "configs" / "cpu.pbtxt").read_text())
    assert [output.name for output in config.output] == ["probabilities", "ood_score"]
    assert float(config.parameters["ood_threshold"].string_value) == scope.threshold
    assert float(config.parameters["conformal_quantile"].string_value) == scope.quantile
    assert json.loads(config.parameters["intended_use"].string_value)["classes"] == info.class_names
    record = json.loads((result.version_dir / "provenance.json").read_text())["scope_check"]
    assert record["passed"] and record["far"]["dermoscopy phantoms"]["refused"] >= 0.9
    assert "xray phantoms" not in record["far"]  # the model's own kind is not far


def test_a_detector_that_accepts_everything_is_refused_or_warned_by_setting(trained_checkpoint):
    model, info = load_checkpoint(trained_checkpoint)
    lenient = Scope.from_dict(info.scope)
    lenient.threshold = float("inf")
    logged = []
    reasons, record = scope_check(model, lenient, info.image_size, None, info.class_names, "refuse", logged.append)
    assert len(reasons) == 1 and reasons[0].startswith("the out-of-distribution detector accepts images")
    assert not record["passed"]
    reasons, _ = scope_check(model, lenient, info.image_size, None, info.class_names, "warn", logged.append)
    assert reasons == [] and any(line.startswith("warning: scope check") for line in logged)
    assert set(far_images(32, ["benign_nodule", "malignant_nodule"])) == {"dermoscopy phantoms", "uniform noise",
                                                                          "flat images"}
