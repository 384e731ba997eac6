"""The explain service end to end on real servers: tritonserver (CPU config) and the gRPC service."""

import hashlib
import io
import json
import subprocess
import urllib.request

import grpc
import numpy as np
import pytest
import torch
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families
from scipy import ndimage

from explain_service.protos import explain_pb2 as pb
from explain_service.protos import explain_pb2_grpc as pb_grpc
from explain_service.server import RETRY_PUSHBACK_KEY, SERVICE_NAME
from medxai.checkpoint import CheckpointInfo, checkpoint_sha256, save_checkpoint
from medxai.models import build_model
from tests.data.test_decode import dicom_bytes
from tests.explain_service.conftest import SMALL, stub_for

pytestmark = pytest.mark.slow


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def raw(array: np.ndarray, dtype: str | None = None, shape: list[int] | None = None) -> pb.Image:
    return pb.Image(array=pb.RawArray(data=array.tobytes(), shape=shape or list(array.shape),
                                      dtype=dtype or str(array.dtype)))


def audit_lines(service) -> list[dict]:
    return [json.loads(line) for line in service.config.audit_log.read_text().splitlines()]


def metric(text: str, name: str, **labels) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    return next((sample.value for family in text_string_to_metric_families(text) for sample in family.samples
                 if sample.name == name and sample.labels == labels), 0.0)


def test_explain_end_to_end_fused_map_peaks_inside_the_lesion(stub, held_out, trained_checkpoint):
    # The first held-out phantom the model gets right with confidence: a map of a wrong or unsure prediction
    # need not point at the lesion.
    image, mask, diagnosis = next(
        (image, mask, diagnosis) for image, mask, diagnosis in held_out
        if max((p.probability, p.name) for p in stub.Predict(pb.PredictRequest(image=pb.Image(encoded=image)),
                                                             timeout=30).prediction.probabilities) >= (0.8, diagnosis))
    response = stub.Explain(pb.ExplainRequest(image=pb.Image(encoded=image), overlays=True, faithfulness=True,
                                              **SMALL), timeout=120)
    assert [p.name for p in response.prediction.probabilities] == ["benign_nodule", "malignant_nodule"]
    assert abs(sum(p.probability for p in response.prediction.probabilities) - 1) < 1e-4
    assert response.model.version == "1" and response.model.checkpoint_sha256 == checkpoint_sha256(trained_checkpoint)
    assert [m.method for m in response.maps] == ["gradcam", "ig", "lime", "fusion"]
    assert response.request_id and response.ig_completeness_gap >= 0 and response.lime_r2 != 0
    assert {"decode", "predict", "gradcam", "ig", "lime", "fusion", "metrics"} <= set(response.seconds)
    for saliency in response.maps:
        assert list(saliency.shape) == [64, 64] and len(saliency.data) == 64 * 64
        assert Image.open(io.BytesIO(saliency.overlay_png)).size == (64, 64)
        assert 0 <= saliency.diagnostics["deletion_auc"] <= 1 and 0 <= saliency.diagnostics["insertion_auc"] <= 1
    fused = np.frombuffer(response.maps[-1].data, np.uint8).reshape(64, 64)
    # Grad-CAM's grid is 4x4 at 64 px (16-px cells), so the peak is allowed 4 px around the lesion's edge.
    near_lesion = ndimage.binary_dilation(mask, iterations=4)
    assert near_lesion[np.unravel_index(fused.argmax(), fused.shape)], "the fused map's peak is outside the lesion"
    assert fused[mask].mean() > fused[~mask].mean()


def test_stream_sends_gradcam_then_ig_then_lime_then_fusion(stub, lesion_image, service):
    events = list(stub.ExplainStream(pb.ExplainRequest(image=pb.Image(encoded=lesion_image), **SMALL),
                                     timeout=120))
    assert [event.map.method for event in events] == ["gradcam", "ig", "lime", "fusion"]
    assert events[0].prediction.probabilities and events[0].model.version == "1"
    assert len({event.request_id for event in events}) == 1
    line = next(line for line in audit_lines(service) if line["request_id"] == events[0].request_id)
    assert line["status"] == "OK" and line["rpc"] == "ExplainStream"


def test_predict_and_list_models(stub):
    response = stub.Predict(pb.PredictRequest(image=raw(np.full((32, 32), 128, np.uint8))), timeout=30)
    assert len(response.prediction.probabilities) == 2 and response.model.name == "phantom"
    models = stub.ListModels(pb.ListModelsRequest(), timeout=30).models
    assert [(model.name, model.version) for model in models] == [("phantom", "1")]
    with pytest.raises(grpc.RpcError) as refused:
        stub.Predict(pb.PredictRequest(image=raw(np.zeros((32, 32), np.uint8)), version="7"), timeout=30)
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_checkpoint_other_than_the_served_one_is_refused(triton, make_service, tmp_path):
    torch.manual_seed(7)
    other = save_checkpoint(tmp_path / "other.pt", build_model("resnet18_attention", 2), CheckpointInfo(
        architecture="resnet18_attention", architecture_args={}, class_names=["benign_nodule", "malignant_nodule"],
        multi_label=False, image_size=64, mean=[0.5] * 3, std=[0.25] * 3))
    channel, stub = stub_for(make_service(triton.grpc_url, checkpoint=other))
    with channel:
        with pytest.raises(grpc.RpcError) as refused:
            stub.Predict(pb.PredictRequest(image=raw(np.zeros((32, 32), np.uint8))), timeout=30)
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "not the checkpoint this service explains with" in refused.value.details()
        assert list(stub.ListModels(pb.ListModelsRequest(), timeout=30).models) == []


def test_health_and_reflection(service):
    channel, _ = stub_for(service)
    with channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", SERVICE_NAME):
            assert health.Check(health_pb2.HealthCheckRequest(service=name), timeout=10).status == \
                health_pb2.HealthCheckResponse.SERVING
        services = ProtoReflectionDescriptorDatabase(channel).get_services()
        assert {SERVICE_NAME, "grpc.health.v1.Health"} <= set(services)


def test_audit_line_has_no_phi(stub, service):
    dicom = dicom_bytes(np.tile(np.arange(64, dtype=np.uint16) * 64, (64, 1)))
    response = stub.Explain(pb.ExplainRequest(image=pb.Image(encoded=dicom), methods=["gradcam"]), timeout=60)
    text = service.config.audit_log.read_text()
    assert "Doe" not in text and "SECRET-123" not in text
    line = next(line for line in audit_lines(service) if line["request_id"] == response.request_id)
    assert line["input_sha256"] == hashlib.sha256(dicom).hexdigest()
    assert line["settings"]["methods"] == ["gradcam"] and line["settings"]["lime"]["seed"] == 0
    assert line["model"]["version"] == "1" and line["prediction"]["target"] == response.prediction.target
    assert {"time", "caller", "duration_s", "status"} <= set(line)


def test_metrics_are_exposed_and_count(stub, service):
    url = f"http://127.0.0.1:{service.config.metrics_port}/metrics"
    before = urllib.request.urlopen(url, timeout=10).read().decode()
    stub.Predict(pb.PredictRequest(image=raw(np.zeros((32, 32), np.uint8))), timeout=30)
    with pytest.raises(grpc.RpcError):
        stub.Predict(pb.PredictRequest(), timeout=30)
    after = urllib.request.urlopen(url, timeout=10).read().decode()
    assert metric(after, "medxai_explain_requests_total", method="Predict", code="OK") == \
        metric(before, "medxai_explain_requests_total", method="Predict", code="OK") + 1
    assert metric(after, "medxai_explain_errors_total", method="Predict", code="INVALID_ARGUMENT") == \
        metric(before, "medxai_explain_errors_total", method="Predict", code="INVALID_ARGUMENT") + 1
    assert metric(after, "medxai_explain_stage_seconds_count", stage="decode") > 0
    assert metric(after, "medxai_explain_in_flight") == 0
    assert 'medxai_explain_model_info{' in after
    labels = {key for family in text_string_to_metric_families(after) for sample in family.samples
              for key in sample.labels}
    assert labels <= {"method", "code", "stage", "le", "name", "checkpoint_sha256", "architecture"}


def multi_frame_dicom() -> bytes:
    return dicom_bytes(np.zeros((3, 16, 16), np.uint16))


BAD_REQUESTS = {
    "no image": ({"image": None}, "has no image"),
    "empty": ({"image": pb.Image(encoded=b"")}, "image is empty"),
    "truncated": ({"image": pb.Image(encoded=png(np.zeros((64, 64), np.uint8))[:40])}, "not a readable"),
    "not an image": ({"image": pb.Image(encoded=b"%PDF-1.4 not a picture")}, "not a readable"),
    "wrong shape": ({"image": raw(np.zeros((16, 16, 4), np.uint8))}, "HxW, HxWx1 or HxWx3"),
    "wrong size": ({"image": raw(np.zeros((16, 16), np.uint8), shape=[16, 17])}, "needs"),
    "wrong dtype": ({"image": raw(np.zeros((16, 16), np.int64))}, "dtype must be one of"),
    "nan": ({"image": raw(np.full((16, 16), np.nan, np.float32))}, "NaN or infinite"),
    "inf": ({"image": raw(np.full((16, 16), np.inf, np.float32))}, "NaN or infinite"),
    "png bomb": ({"image": pb.Image(encoded=png(np.zeros((1100, 1100), np.uint8)))}, "exceeds the limit"),
    "array bomb": ({"image": raw(np.zeros((1, 1), np.uint8), shape=[4000, 4000])}, "exceeds the limit"),
    "multi-frame dicom": ({"image": pb.Image(encoded=multi_frame_dicom())}, "multi-frame"),
    "unknown method": ({"methods": ["gradcam", "shap"]}, "unknown method 'shap'"),
    "negative ig steps": ({"ig": pb.IntegratedGradientsSettings(steps=-4)}, "ig.steps"),
    "absurd ig steps": ({"ig": pb.IntegratedGradientsSettings(steps=1_000_000)}, "ig.steps"),
    "bad baseline": ({"ig": pb.IntegratedGradientsSettings(baseline="noise")}, "ig.baseline"),
    "negative lime samples": ({"lime": pb.LimeSettings(samples=-1)}, "lime.samples"),
    "absurd lime samples": ({"lime": pb.LimeSettings(samples=10_000_000)}, "lime.samples"),
    "negative lime seed": ({"lime": pb.LimeSettings(seed=-3)}, "lime.seed"),
    "target out of range": ({"target": 5}, "target must be a class index"),
    "negative fusion weight": ({"fusion_weights": {"ig": -1.0}}, "finite and >= 0"),
    "nan fusion weight": ({"fusion_weights": {"ig": float("nan")}}, "finite and >= 0"),
    "unknown fusion weight": ({"fusion_weights": {"shap": 1.0}}, "unknown method 'shap'"),
}


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_bad_input_is_invalid_argument_and_the_server_keeps_answering(stub, case):
    fields, message = BAD_REQUESTS[case]
    fields = {"image": raw(np.zeros((32, 32), np.uint8)), "methods": ["gradcam"]} | fields
    with pytest.raises(grpc.RpcError) as refused:
        stub.Explain(pb.ExplainRequest(**{key: value for key, value in fields.items() if value is not None}),
                     timeout=30)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in refused.value.details()
    assert stub.Predict(pb.PredictRequest(image=raw(np.zeros((32, 32), np.uint8))), timeout=30).prediction.probabilities


def test_full_server_answers_resource_exhausted_with_a_retry_hint(triton, make_service, lesion_image):
    busy = make_service(triton.grpc_url, max_concurrent=1)
    channel, stub = stub_for(busy)
    with channel:
        stream = stub.ExplainStream(pb.ExplainRequest(image=pb.Image(encoded=lesion_image),
                                                      lime=pb.LimeSettings(samples=2000)), timeout=120)
        assert next(stream).map.method == "gradcam"  # the only slot is taken until the stream ends
        with pytest.raises(grpc.RpcError) as refused:
            stub.Predict(pb.PredictRequest(image=raw(np.zeros((32, 32), np.uint8))), timeout=30)
        stream.cancel()
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert dict(refused.value.trailing_metadata())[RETRY_PUSHBACK_KEY] == "1000"


def test_work_stops_when_the_client_gives_up(triton, make_service, lesion_image):
    service = make_service(triton.grpc_url)
    channel, stub = stub_for(service)
    with channel, pytest.raises(grpc.RpcError) as expired:
        # Far more work than fits in the deadline: 256 IG steps, then LIME and deletion/insertion of both maps.
        stub.Explain(pb.ExplainRequest(image=pb.Image(encoded=lesion_image), methods=["ig", "lime"],
                                       ig=pb.IntegratedGradientsSettings(steps=256), faithfulness=True,
                                       lime=pb.LimeSettings(samples=5000)), timeout=1)
    assert expired.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    service.stop(grace_s=60)  # waits for the abandoned request, which must stop at its next check
    [line] = audit_lines(service)
    assert line["status"] == "CANCELLED" and "lime" not in line.get("diagnostics", {})


def self_signed(folder) -> tuple:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


def test_tls_with_bearer_token(triton, make_service, tmp_path):
    cert, key = self_signed(tmp_path)
    secure = make_service(triton.grpc_url, tls_cert=cert, tls_key=key, tokens=["s3cret-token"])
    credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
    request = pb.PredictRequest(image=raw(np.zeros((32, 32), np.uint8)))
    with grpc.secure_channel(f"localhost:{secure.port}", credentials) as channel:
        stub = pb_grpc.ExplainServiceStub(channel)
        answer = stub.Predict(request, metadata=[("authorization", "Bearer s3cret-token")], timeout=30)
        assert answer.prediction.probabilities
        for metadata in ([("authorization", "Bearer wrong")], [("authorization", "s3cret-token")], []):
            with pytest.raises(grpc.RpcError) as refused:
                stub.Predict(request, metadata=metadata, timeout=30)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10).status == \
            health_pb2.HealthCheckResponse.SERVING
    with grpc.insecure_channel(f"localhost:{secure.port}") as plaintext, pytest.raises(grpc.RpcError):
        pb_grpc.ExplainServiceStub(plaintext).Predict(request, metadata=[("authorization", "Bearer s3cret-token")],
                                                      timeout=5)
    lines = audit_lines(secure)
    assert [line["status"] for line in lines] == ["OK"] + ["UNAUTHENTICATED"] * 3
    assert lines[0]["caller"].startswith("token:") and "s3cret" not in secure.config.audit_log.read_text()
