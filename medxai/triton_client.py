"""The thin Triton client everyone uses (gRPC): timeouts, retries with backoff while the server is
UNAVAILABLE (starting, restarting, swapping versions), many images per request, metadata and versions.

Input names and types come from the server's model metadata, so callers pass pixels and nothing else:
float [N,3,H,W] in [0, 1] or uint8, converted to what the model takes.
"""

import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

T = TypeVar("T")
RETRIED_STATUS = "StatusCode.UNAVAILABLE"


class TritonClient:
    """Infer against one model (latest ready version unless `version` is set)."""

    def __init__(self, url: str, model: str, *, version: str = "", timeout_s: float = 30.0, retries: int = 3,
                 backoff_s: float = 0.2):
        self.url, self.model, self.version = url, model, version
        self.timeout_s, self.retries, self.backoff_s = timeout_s, retries, backoff_s
        self._client = grpcclient.InferenceServerClient(url)
        self._metadata: dict | None = None
        self._max_batch: int | None = None

    def _call(self, request: Callable[[], T]) -> T:
        """Run `request`, retrying UNAVAILABLE with exponential backoff; other errors raise at once."""
        for attempt in range(self.retries + 1):
            try:
                return request()
            except InferenceServerException as exc:
                if exc.status() != RETRIED_STATUS or attempt == self.retries:
                    raise
                time.sleep(self.backoff_s * 2 ** attempt)
        raise AssertionError("unreachable")

    def is_ready(self) -> bool:
        try:
            return self._client.is_model_ready(self.model, self.version, client_timeout=self.timeout_s)
        except InferenceServerException:
            return False

    def metadata(self) -> dict:
        """Model metadata (name, versions, input/output names, datatypes, shapes), cached."""
        if self._metadata is None:
            self._metadata = self._call(lambda: self._client.get_model_metadata(
                self.model, self.version, as_json=True, client_timeout=self.timeout_s))
        return self._metadata

    def max_batch_size(self) -> int:
        if self._max_batch is None:
            config = self._call(lambda: self._client.get_model_config(
                self.model, self.version, as_json=True, client_timeout=self.timeout_s))["config"]
            self._max_batch = int(config.get("max_batch_size", 0)) or 1
        return self._max_batch

    def ready_versions(self) -> list[str]:
        """Versions of this model that are loaded and ready now, oldest first."""
        index = self._call(lambda: self._client.get_model_repository_index(
            as_json=True, client_timeout=self.timeout_s))
        return sorted((entry["version"] for entry in index.get("models", [])
                       if entry["name"] == self.model and entry.get("state") == "READY"), key=int)

    def load(self) -> None:
        """(Re)load the model from the repository, picking up new versions (explicit model control only)."""
        self._call(lambda: self._client.load_model(self.model, client_timeout=self.timeout_s))
        self._metadata = None
        self._max_batch = None

    def infer(self, images: np.ndarray) -> np.ndarray:
        """Probabilities [N,C] (the first output) for images [N,3,H,W], split into requests of at most the model's
        max batch size."""
        return self.infer_outputs(images)[self.metadata()["outputs"][0]["name"]]

    def infer_outputs(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Every output the model declares (probabilities [N,C]; `ood_score` [N,1] where the model has a scope),
        by name, for images [N,3,H,W]."""
        chunk = self.max_batch_size()
        parts = [self._infer_batch(images[start:start + chunk]) for start in range(0, len(images), chunk)]
        return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}

    def _infer_batch(self, images: np.ndarray) -> dict[str, np.ndarray]:
        spec, outputs = self.metadata()["inputs"][0], [output["name"] for output in self.metadata()["outputs"]]
        pixels = as_datatype(images, spec["datatype"])
        tensor = grpcclient.InferInput(spec["name"], list(pixels.shape), spec["datatype"])
        tensor.set_data_from_numpy(pixels)
        result = self._call(lambda: self._client.infer(
            self.model, [tensor], self.version, outputs=[grpcclient.InferRequestedOutput(name) for name in outputs],
            client_timeout=self.timeout_s))
        return {name: result.as_numpy(name) for name in outputs}

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "TritonClient":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def as_datatype(images: np.ndarray, datatype: str) -> np.ndarray:
    """Pixels as the model's input type: UINT8 0-255 or FP32 0-1, whichever the caller has."""
    if datatype == "UINT8":
        return images if images.dtype == np.uint8 else np.clip(np.round(images * 255), 0, 255).astype(np.uint8)
    if datatype == "FP32":
        return images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)
    raise ValueError(f"unsupported input datatype {datatype}")
