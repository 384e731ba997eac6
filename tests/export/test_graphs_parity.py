"""ONNX and TorchScript export, and the parity report that gates them."""

import shutil

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from export.graphs import export_torchscript, load_torchscript
from export.parity import check_parity, compare
from medxai.checkpoint import load_checkpoint
from medxai.serving_graph import INPUT_NAME, OUTPUT_NAME, ServingGraph, export_onnx


@pytest.fixture(scope="module")
def exported(make_checkpoint, pixels, tmp_path_factory):
    """Both input types exported from one checkpoint: {dtype: (graph, onnx path, torchscript path)}; removed after
    this module."""
    model, _ = load_checkpoint(make_checkpoint(1))
    folder = tmp_path_factory.mktemp("graphs")
    graphs = {}
    for dtype in ("float32", "uint8"):
        graph = ServingGraph(model, dtype)
        example = graph.as_input(pixels[:2])
        export_onnx(graph, example, folder / f"{dtype}.onnx")
        graphs[dtype] = (graph, folder / f"{dtype}.onnx", export_torchscript(graph, example, folder / f"{dtype}.pt"))
    yield graphs
    shutil.rmtree(folder, ignore_errors=True)


def test_onnx_has_opset_17_names_and_dynamic_batch(exported, pixels):
    for dtype, elem_type in (("float32", onnx.TensorProto.FLOAT), ("uint8", onnx.TensorProto.UINT8)):
        graph, onnx_path, _ = exported[dtype]
        proto = onnx.load(str(onnx_path))
        assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
        (input_,), (output,) = proto.graph.input, proto.graph.output
        assert (input_.name, output.name) == (INPUT_NAME, OUTPUT_NAME)
        assert input_.type.tensor_type.elem_type == elem_type
        assert input_.type.tensor_type.shape.dim[0].dim_param  # symbolic batch
        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        for batch in (1, 5):
            probabilities = session.run(None, {INPUT_NAME: graph.as_input(pixels[:batch]).numpy()})[0]
            assert probabilities.shape == (batch, 2)
            np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)  # softmax is in the graph


def test_graph_takes_raw_pixels_of_either_type(exported, pixels, make_checkpoint):
    model, _ = load_checkpoint(make_checkpoint(1))
    rounded = exported["uint8"][0].as_input(pixels).float() / 255
    with torch.no_grad():
        reference = model.probabilities(model(rounded))
        for graph, _, _ in exported.values():
            assert torch.allclose(graph(graph.as_input(rounded)), reference, atol=1e-5)


def test_torchscript_matches_eager(exported, pixels):
    graph, _, torchscript_path = exported["float32"]
    with torch.no_grad():
        assert torch.allclose(load_torchscript(torchscript_path)(pixels), graph(pixels), atol=1e-6)


def test_parity_passes_for_faithful_exports(exported, pixels):
    for graph, onnx_path, torchscript_path in exported.values():
        reports = check_parity(graph, onnx_path, torchscript_path, pixels)
        assert [r.runtime for r in reports] == ["onnxruntime", "torchscript"]
        assert all(r.passed and r.images == len(pixels) for r in reports), [r.line() for r in reports]


def test_compare_reports_difference_and_top1_agreement():
    reference = np.array([[0.9, 0.1], [0.4, 0.6], [0.5, 0.5 - 1e-3]])
    report = compare("onnxruntime", reference, np.array([[0.9, 0.1], [0.7, 0.3], [0.5, 0.5 - 1e-3]]), 1e-4)
    assert report.max_abs_diff == pytest.approx(0.3)
    assert report.top1_agreement == pytest.approx(2 / 3)
    assert not report.passed
    assert "FAILED" in report.line() and "66.7%" in report.line()
    assert compare("torchscript", reference, reference + 5e-5, 1e-4).passed
