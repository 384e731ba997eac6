"""The exported graphs apply the checkpoint's calibration temperature: softmax(logits / T), T as stored."""

import dataclasses

import numpy as np
import onnxruntime as ort
import torch

from export.graphs import export_torchscript, load_torchscript
from medxai.checkpoint import load_checkpoint, read_checkpoint_info, save_checkpoint
from medxai.serving_graph import INPUT_NAME, ServingGraph, export_onnx


def test_exported_graphs_of_a_checkpoint_with_t2_return_softmax_of_half_the_logits(make_checkpoint, pixels,
                                                                                    tmp_path):
    model, info = load_checkpoint(make_checkpoint(1))
    with torch.no_grad():
        model.head.fc.weight.mul_(20)  # confident logits, so T = 2 visibly changes the probabilities
    path = save_checkpoint(tmp_path / "t2.pt", model, dataclasses.replace(info, temperature=2.0))
    assert read_checkpoint_info(path).temperature == 2.0
    calibrated, _ = load_checkpoint(path)
    with torch.no_grad():
        logits = calibrated(pixels)
    expected = torch.softmax(logits / 2, dim=1).numpy()
    assert np.abs(expected - torch.softmax(logits, dim=1).numpy()).max() > 0.05  # the test can tell T apart

    graph = ServingGraph(calibrated)
    example = graph.as_input(pixels[:2])
    export_onnx(graph, example, tmp_path / "model.onnx")
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {INPUT_NAME: pixels.numpy()})[0], expected, atol=1e-5)
    scripted = load_torchscript(export_torchscript(graph, example, tmp_path / "model.pt"))
    with torch.no_grad():
        np.testing.assert_allclose(scripted(pixels).numpy(), expected, atol=1e-5)
