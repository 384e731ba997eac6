"""LIME's perturbed batches through ONNX Runtime: the graph `medxai export` serves (`medxai.serving_graph`),
run in process on the CPU, where LIME's hundreds of forward passes are most of an explanation's time.

Inference only, so faster than eager PyTorch on a CPU (`medxai bench explain` reports both pipelines). The
session is built once per model and image size, and rebuilt when the weights change (a fingerprint of every
parameter and buffer is compared when a predictor first runs), so a new explanation never runs stale weights.
"""

import copy
import weakref

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from medxai.serving_graph import INPUT_NAME, ServingGraph, export_onnx

BATCH = 16
_sessions: "weakref.WeakKeyDictionary[nn.Module, dict]" = weakref.WeakKeyDictionary()


def weights_fingerprint(model: nn.Module) -> tuple:
    """Changes whenever a parameter or buffer changes, in place or replaced: its address, version and sum."""
    with torch.no_grad():
        return tuple((t.data_ptr(), t._version, float(t.sum(dtype=torch.float64)))
                     for t in (*model.parameters(), *model.buffers()) if t.is_floating_point())


def session_for(model: nn.Module, image_size: int) -> ort.InferenceSession:
    """The ONNX Runtime session of `model`'s serving graph at `image_size`; exported again when weights change."""
    fingerprint = weights_fingerprint(model)
    cache = _sessions.setdefault(model, {})
    if cache.get("fingerprint") != fingerprint:
        cache.clear()
        cache["fingerprint"] = fingerprint
    if image_size not in cache:
        cpu_model = copy.deepcopy(model).cpu().to(memory_format=torch.contiguous_format)
        data = export_onnx(ServingGraph(cpu_model), torch.rand(1, 3, image_size, image_size))
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        cache[image_size] = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    return cache[image_size]


def onnx_predictor(model: nn.Module, batch_size: int = BATCH):
    """A LIME `Predict` (images NHWC float in [0, 1] -> probabilities [N,C]) on ONNX Runtime; the session is
    looked up (weights checked) on its first call, then kept for the predictor's life (one explanation)."""
    sessions: dict[int, ort.InferenceSession] = {}

    def predict(images: np.ndarray) -> np.ndarray:
        size = images.shape[1]
        if size not in sessions:
            sessions[size] = session_for(model, size)
        pixels = np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32)
        return np.concatenate([sessions[size].run(None, {INPUT_NAME: pixels[i:i + batch_size]})[0]
                               for i in range(0, len(pixels), batch_size)])
    return predict
