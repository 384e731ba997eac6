"""The explanation pipeline behind every RPC: predictions (and LIME's perturbed batches) from Triton, gradient
maps from the PyTorch twin of the served model, loaded once.

The twin must be the model Triton serves, or the maps would explain another model: each Triton version is
checked once by sending fixed probe images to both and comparing the probabilities (Triton exposes no
checkpoint hash; the export's provenance.json sits on the repository's disk, which a remote service may not
see). A version that disagrees is refused with FAILED_PRECONDITION.
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import grpc
import numpy as np
import torch
from tritonclient.utils import InferenceServerException

from explain_service import chunked_ig
from explain_service.fair_lock import FairLock
from explain_service.validation import CAMS, FAITHFULNESS_STEPS, ExplainSettings
from medxai.checkpoint import checkpoint_sha256, load_checkpoint
from medxai.explain import Explanation, lime
from medxai.explain.fusion import fuse_explanations
from medxai.explain.pipeline import COMPONENTS
from medxai.metrics.faithfulness import deletion_auc, insertion_auc
from medxai.scope import Scope
from medxai.serving_graph import OOD_OUTPUT_NAME, OUTPUT_NAME
from medxai.triton_client import TritonClient

PROBE_TOLERANCE = 1e-3
"""Largest |difference| of probe probabilities between Triton and PyTorch (exported graphs differ by ~1e-6)."""
T = TypeVar("T")


class RequestFailed(Exception):
    """A request that cannot be answered, with the gRPC status code that says why."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code


class Engine:
    """One checkpoint, one Triton model; thread-safe: gradient methods take turns on the model under a fair lock,
    IG one chunk per turn (`chunked_ig`), so a short request never waits behind a long one's whole IG."""

    def __init__(self, checkpoint: str | Path, triton_url: str, model_name: str, triton_timeout_s: float = 10.0,
                 precision: str = "auto", device: str = "cpu"):
        self.model, self.info = load_checkpoint(checkpoint)
        self.scope = Scope.from_dict(self.info.scope)  # None for a checkpoint older than scopes: all in scope
        self.model.to(device)
        self.checkpoint_sha256 = checkpoint_sha256(checkpoint)
        self.triton_url, self.model_name, self.triton_timeout_s = triton_url, model_name, triton_timeout_s
        self.precision = precision
        self._torch_lock = FairLock()  # Captum hooks and fast_mode change the shared model
        self._client_lock = threading.Lock()
        self._clients: dict[str, TritonClient] = {}  # by version ("" = newest): the client fixes its version
        self._verified: dict[str, bool] = {}
        generator = torch.Generator().manual_seed(0)
        self._probe = torch.rand(2, 3, self.info.image_size, self.info.image_size, generator=generator)
        with torch.no_grad():
            self._probe_expected = self.model.probabilities(self.model(self._probe.to(device))).cpu().numpy()

    # Triton -----------------------------------------------------------------------------------------------

    def _call_triton(self, work: Callable[[TritonClient], T], version: str = "") -> T:
        """Run `work` on the client for `version`; a Triton that is down gives UNAVAILABLE at once (no retries),
        and the next call opens fresh channels (a failed channel's reconnect backoff grows to minutes)."""
        with self._client_lock:
            client = self._clients.get(version)
            if client is None:
                client = self._clients[version] = TritonClient(self.triton_url, self.model_name, version=version,
                                                               timeout_s=self.triton_timeout_s, retries=0)
        try:
            return work(client)
        except InferenceServerException as exc:
            code = _status_code(exc)
            if code == grpc.StatusCode.UNAVAILABLE:
                with self._client_lock:
                    self._clients.clear()  # dropped, not closed: other threads may still be using them
                    self._verified.clear()  # a restarted Triton may serve other files under the same version
            raise RequestFailed(code, f"Triton at {self.triton_url}: {exc.message()}") from None

    def triton_ready(self) -> bool:
        try:
            return bool(self._call_triton(lambda client: client.ready_versions()))
        except RequestFailed:
            return False

    def served_version(self, requested: str) -> str:
        """The version to use (requested, or the newest ready), checked against the checkpoint."""
        ready = self._call_triton(lambda client: client.ready_versions())
        if not ready:
            raise RequestFailed(grpc.StatusCode.UNAVAILABLE, f"Triton serves no ready version of '{self.model_name}'")
        version = requested or ready[-1]
        if version not in ready:
            raise RequestFailed(grpc.StatusCode.NOT_FOUND, f"version {version} of '{self.model_name}' is not served; "
                                                           f"ready versions: {', '.join(ready)}")
        if not self.matches(version):
            raise RequestFailed(grpc.StatusCode.FAILED_PRECONDITION,
                                f"Triton's version {version} of '{self.model_name}' is not the checkpoint this service "
                                f"explains with (sha256 {self.checkpoint_sha256[:12]}): restart the service with the "
                                f"served checkpoint or request another version")
        return version

    def matches(self, version: str) -> bool:
        """Whether Triton's `version` answers the probe images as the checkpoint does (checked once per version)."""
        if version not in self._verified:
            try:
                served = self.predict(self._probe, version)
            except RequestFailed as exc:
                if exc.code != grpc.StatusCode.INVALID_ARGUMENT:
                    raise
                served = None  # Triton refuses the probe's image size: another model
            self._verified[version] = served is not None and served.shape == self._probe_expected.shape and \
                bool(np.abs(served - self._probe_expected).max() <= PROBE_TOLERANCE)
        return self._verified[version]

    def ready_versions(self) -> list[str]:
        return self._call_triton(lambda client: client.ready_versions())

    def predict(self, images: torch.Tensor, version: str) -> np.ndarray:
        """Probabilities [N,C] from Triton for images [N,3,S,S]."""
        pixels = images.numpy()
        return self._call_triton(lambda client: client.infer(pixels), version)

    def predict_scoped(self, images: torch.Tensor, version: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Probabilities [N,C] and OOD scores [N] (None where the served graph has none: an export older than
        scopes) from Triton, in one call, for images [N,3,S,S]."""
        pixels = images.numpy()
        outputs = self._call_triton(lambda client: client.infer_outputs(pixels), version)
        ood = outputs.get(OOD_OUTPUT_NAME)
        return outputs[OUTPUT_NAME], None if ood is None else ood[:, 0]

    # Explanations -----------------------------------------------------------------------------------------

    def explain(self, pixels: torch.Tensor, target: int, settings: ExplainSettings, version: str,
                alive: Callable[[], None]) -> Iterator[Explanation]:
        """Each requested map of one image [3,S,S], in `settings.methods` order; `alive()` raises when the client
        has gone, and is called before every stage and every Triton batch, so abandoned work stops."""
        images, targets = pixels[None], torch.tensor([target])
        parts: list[Explanation] = []
        for method in settings.methods:
            alive()
            if method == "fusion":
                fused = [part for part in parts if part.method in settings.fusion_weights]
                result = fuse_explanations(fused, settings.fusion_rule, settings.fusion_weights, images, targets,
                                           lambda batch: torch.from_numpy(self.predict(batch, version)))
            elif method == "lime":
                result = lime.explain(self.model, images, targets, predict=self._lime_predict(version, alive),
                                      segmentation=settings.lime["segmentation"],
                                      max_samples=settings.lime["samples"],
                                      min_samples=min(100, settings.lime["samples"]),
                                      chunk=min(50, settings.lime["samples"]), seed=settings.lime["seed"])
            elif method in CAMS:
                with self._model_turn(alive)():
                    result = COMPONENTS[method](self.model, images, targets)
                result.method = method
            else:
                result = chunked_ig.explain(self.model, images, targets, self._model_turn(alive),
                                            steps=settings.ig["steps"], max_steps=settings.ig["max_steps"],
                                            baseline=settings.ig["baseline"])
            parts.append(result)
            yield result

    def _model_turn(self, alive: Callable[[], None]) -> chunked_ig.Turn:
        """A turn on the PyTorch model, in arrival order; work for a client that has gone stops at its turn."""
        @contextmanager
        def turn() -> Iterator[None]:
            with self._torch_lock:
                alive()
                yield
        return turn

    def _lime_predict(self, version: str, alive: Callable[[], None]) -> lime.Predict:
        def predict(batch: np.ndarray) -> np.ndarray:
            alive()
            return self.predict(torch.from_numpy(np.ascontiguousarray(batch.transpose(0, 3, 1, 2))), version)
        return predict

    def faithfulness(self, pixels: torch.Tensor, target: int, maps: torch.Tensor, version: str) -> dict[str, float]:
        """Deletion and insertion AUC of one map [S,S], through Triton (the served model)."""
        def predict(batch: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(self.predict(batch, version))
        images, targets = pixels[None], torch.tensor([target])
        return {"deletion_auc": float(deletion_auc(predict, images, maps[None], targets, steps=FAITHFULNESS_STEPS)[0]),
                "insertion_auc": float(insertion_auc(predict, images, maps[None], targets,
                                                     steps=FAITHFULNESS_STEPS)[0])}



def _status_code(exc: InferenceServerException) -> grpc.StatusCode:
    """Triton's status ("StatusCode.UNAVAILABLE") as a grpc.StatusCode; INTERNAL when it is not one."""
    name = (exc.status() or "").removeprefix("StatusCode.")
    return grpc.StatusCode.__members__.get(name, grpc.StatusCode.INTERNAL)
