"""Real servers for the service tests: one tritonserver on the trained phantom model's exported repository,
and explain services started on free ports (stopped at the end). Settings are small to keep runs short."""

import csv
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from PIL import Image

from explain_service.protos import explain_pb2 as pb
from explain_service.protos import explain_pb2_grpc as pb_grpc
from explain_service.server import ExplainServer, ServiceConfig
from medxai.triton_server import TritonServer, free_port

MODEL = "phantom"
MEMORY_BUDGET_MB = 430
"""About 1 megapixel per image at 8 concurrent requests (`validation.max_pixels`)."""
SMALL = {"ig": pb.IntegratedGradientsSettings(steps=8), "lime": pb.LimeSettings(samples=100, seed=0)}
"""IG with 8 steps and LIME with 100 samples: a few seconds per full explanation on 2 cores."""


@pytest.fixture(scope="session")
def repository(trained_checkpoint, tmp_path_factory) -> Path:
    from export.release import export_checkpoint
    folder = tmp_path_factory.mktemp("service-repository")
    export_checkpoint(trained_checkpoint, folder, MODEL, target="cpu", enforce_gate=False, log=lambda line: None)
    return folder


def start_triton(repository: Path, log: Path, grpc_port: int | None = None) -> TritonServer:
    return TritonServer(repository, http_port=free_port(), grpc_port=grpc_port or free_port(),
                        metrics_port=free_port(), log_path=log).start()


@pytest.fixture(scope="session")
def triton(repository, tmp_path_factory) -> Iterator[TritonServer]:
    server = start_triton(repository, tmp_path_factory.mktemp("triton") / "triton.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def make_service(trained_checkpoint, tmp_path_factory) -> Iterator[Callable[..., ExplainServer]]:
    """`make_service(triton_url, **config)`: a started explain service on free ports."""
    started: list[ExplainServer] = []

    def make(triton_url: str, **overrides) -> ExplainServer:
        settings = {"checkpoint": trained_checkpoint, "triton_url": triton_url, "model": MODEL, "port": free_port(),
                    "metrics_port": free_port(), "memory_budget_mb": MEMORY_BUDGET_MB,
                    "audit_log": tmp_path_factory.mktemp("audit") / "audit.jsonl"} | overrides
        server = ExplainServer(ServiceConfig(**settings)).start()
        started.append(server)
        return server
    yield make
    for server in started:
        server.stop(grace_s=1)


@pytest.fixture(scope="session")
def service(triton, make_service) -> ExplainServer:
    return make_service(triton.grpc_url)


def stub_for(server: ExplainServer) -> tuple[grpc.Channel, pb_grpc.ExplainServiceStub]:
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    return channel, pb_grpc.ExplainServiceStub(channel)


@pytest.fixture(scope="session")
def stub(service) -> Iterator[pb_grpc.ExplainServiceStub]:
    channel, stub = stub_for(service)
    yield stub
    channel.close()


@pytest.fixture(scope="session")
def held_out(phantom_dir) -> list[tuple[bytes, np.ndarray, str]]:
    """Held-out phantoms: PNG bytes, lesion mask (bool 64x64) and diagnosis."""
    with open(phantom_dir / "labels.csv") as handle:
        rows = [row for row in csv.DictReader(handle) if row["split"] == "test"]
    return [((phantom_dir / "images" / f"{row['image_id']}.png").read_bytes(),
             np.asarray(Image.open(phantom_dir / "masks" / f"{row['image_id']}.png").convert("L")) > 0,
             row["diagnosis"]) for row in rows]


@pytest.fixture(scope="session")
def in_scope(held_out, trained_checkpoint) -> list[tuple[bytes, np.ndarray, str]]:
    """The held-out phantoms within the model's intended use (OOD score at most the threshold; about 1 in 100 of
    its own kind is not, and gets no diagnosis and no maps), for tests about answered images."""
    import torch
    from medxai.checkpoint import load_checkpoint
    from medxai.data import read_image
    from medxai.data.dataset import to_model_input
    from medxai.scope import Scope
    from medxai.scope.fit import probabilities_and_ood
    model, info = load_checkpoint(trained_checkpoint)
    scope = Scope.from_dict(info.scope)
    pixels = torch.stack([to_model_input(read_image(encoded), info.image_size) for encoded, _, _ in held_out])
    scores = probabilities_and_ood(model, scope, pixels)[1]
    kept = [case for case, score in zip(held_out, scores.tolist()) if score <= scope.threshold]
    assert len(kept) >= 0.9 * len(held_out), f"{len(held_out) - len(kept)} of {len(held_out)} held out refused"
    return kept


@pytest.fixture(scope="session")
def lesion_image(in_scope) -> bytes:
    """A held-out phantom within the model's intended use, as PNG bytes."""
    return in_scope[0][0]


def certificates(folder: Path) -> dict[str, Path]:
    """A test CA with a server certificate for localhost and a client certificate (CN viewer), as PEM files."""
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
        "-subj", "/CN=medxai-test-ca")
    for name, subject in (("server", "localhost"), ("client", "viewer")):
        (folder / f"{name}.ext").write_text(f"subjectAltName=DNS:{subject}\n")
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj",
            f"/CN={subject}")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
            f"{name}.pem", "-days", "1", "-extfile", f"{name}.ext")
    return {name: folder / name for name in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")}
