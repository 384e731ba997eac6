"""The explain service end to end on real servers: tritonserver (CPU config) and the gRPC service."""

import hashlib
import hmac
import io
import json
import stat
import subprocess
import threading
import urllib.request

import grpc
import numpy as np
import pytest
import torch
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from explain_service.protos import explain_pb2 as pb
from explain_service.protos import explain_pb2_grpc as pb_grpc
from explain_service.server import RETRY_PUSHBACK_KEY, SERVICE_NAME
from explain_service.validation import MAX_IG_STEPS, MAX_WORK_BUDGET
from medxai.checkpoint import CheckpointInfo, checkpoint_sha256, read_checkpoint_info, save_checkpoint
from medxai.models import build_model
from tests.data.test_decode import dicom_bytes
from medxai.triton_server import free_port
from tests.explain_service.conftest import SMALL, stub_for

pytestmark = pytest.mark.slow


def encoded(array: np.ndarray, kind: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=kind)
    return buffer.getvalue()


def png(array: np.ndarray) -> bytes:
    return encoded(array, "PNG")


def raw(array: np.ndarray, dtype: str | None = None, shape: list[int] | None = None) -> pb.Image:
    return pb.Image(array=pb.RawArray(data=array.tobytes(), shape=shape or list(array.shape),
                                      dtype=dtype or str(array.dtype)))


def audit_lines(service) -> list[dict]:
    return [json.loads(line) for line in service.config.audit_log.read_text().splitlines()]


def metric(text: str, name: str, **labels) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    return next((sample.value for family in text_string_to_metric_families(text) for sample in family.samples
                 if sample.name == name and sample.labels == labels), 0.0)


def test_explain_end_to_end_fused_maps_point_at_the_lesions(stub, in_scope, trained_checkpoint):
    # Held-out phantoms the model gets right with confidence: a map of a wrong or unsure prediction need not
    # point at the lesion. Confident means 0.8 before calibration: the service serves softmax(logits / T), so for
    # two classes that is sigmoid(logit(0.8) / T) as served (T < 1 sharpens, and 0.8 served would let in
    # images the uncalibrated model was unsure of).
    temperature = read_checkpoint_info(trained_checkpoint).temperature
    served = 1 / (1 + (1 / 0.8 - 1) ** (1 / temperature))
    confident = [(image, mask) for image, mask, diagnosis in in_scope
                 if max((p.probability, p.name) for p in stub.Predict(pb.PredictRequest(image=pb.Image(encoded=image)),
                                                                      timeout=30).prediction.probabilities)
                 >= (served, diagnosis)][:4]
    assert len(confident) == 4
    hits = 0
    for index, (image, mask) in enumerate(confident):
        first = index == 0  # overlays and faithfulness curves once, to keep the test short
        response = stub.Explain(pb.ExplainRequest(image=pb.Image(encoded=image), overlays=first, faithfulness=first,
                                                  **SMALL), timeout=120)
        assert [m.method for m in response.maps] == ["cam", "ig", "fusion", "lime"]  # fused without LIME
        ig = response.maps[1]
        # IG doubles its 8 steps until the gap is within 5 % or 64 steps are reached: no other outcome is allowed.
        assert response.ig_completeness_gap == ig.diagnostics["completeness_gap"]
        assert (ig.diagnostics["steps"] in (8, 16, 32) and response.ig_completeness_gap <= 0.05) or \
            ig.diagnostics["steps"] == 64, dict(ig.diagnostics)
        [fusion] = [m for m in response.maps if m.method == "fusion"]
        fused = np.frombuffer(fusion.data, np.uint8).reshape(64, 64).astype(float)
        # Every fused map is at least 1.5 times as strong inside the lesion as outside it (1 is chance).
        assert fused[mask].mean() >= 1.5 * fused[~mask].mean(), (index, fused[mask].mean(), fused[~mask].mean())
        hits += bool(mask[np.unravel_index(fused.argmax(), mask.shape)])
        if first:
            assert [p.name for p in response.prediction.probabilities] == ["benign_nodule", "malignant_nodule"]
            assert abs(sum(p.probability for p in response.prediction.probabilities) - 1) < 1e-4
            assert response.model.version == "1" and \
                response.model.checkpoint_sha256 == checkpoint_sha256(trained_checkpoint)
            assert response.request_id and response.lime_r2 != 0
            assert {"decode", "predict", "cam", "ig", "lime", "fusion", "metrics"} <= set(response.seconds)
            for saliency in response.maps:
                assert list(saliency.shape) == [64, 64] and len(saliency.data) == 64 * 64
                assert Image.open(io.BytesIO(saliency.overlay_png)).size == (64, 64)
                assert 0 <= saliency.diagnostics["deletion_auc"] <= 1 and \
                    0 <= saliency.diagnostics["insertion_auc"] <= 1
    # The fused map's peak lies in the lesion itself (no margin) for at least half of them.
    assert hits >= 2, f"the fused map's peak is in the lesion for {hits} of 4 images"


def test_stream_sends_the_cam_then_ig_then_the_fused_map_then_lime(stub, lesion_image, service):
    events = list(stub.ExplainStream(pb.ExplainRequest(image=pb.Image(encoded=lesion_image), **SMALL),
                                     timeout=120))
    # the default rule fuses the CAM and IG only, so the fused map does not wait for LIME
    assert [event.map.method for event in events] == ["cam", "ig", "fusion", "lime"]
    assert events[0].prediction.probabilities and events[0].model.version == "1"
    assert len({event.request_id for event in events}) == 1
    line = next(line for line in audit_lines(service) if line["request_id"] == events[0].request_id)
    assert line["status"] == "OK" and line["rpc"] == "ExplainStream"


def test_a_request_may_fuse_lime_and_then_the_fused_map_waits_for_it(stub, lesion_image):
    events = list(stub.ExplainStream(pb.ExplainRequest(image=pb.Image(encoded=lesion_image),
                                                       fusion_weights={"lime": 0.2}, **SMALL), timeout=120))
    assert [event.map.method for event in events] == ["cam", "ig", "lime", "fusion"]
    weights = events[-1].map.diagnostics
    assert {"weight_cam", "weight_ig", "weight_lime"} <= set(weights)
    assert sum(weights[f"weight_{name}"] for name in ("cam", "ig", "lime")) == pytest.approx(1, abs=1e-3)


def test_predict_and_list_models(stub):
    # a flat grey image is no x-ray phantom: answered because the request asks for research answers (issue 36)
    response = stub.Predict(pb.PredictRequest(image=raw(np.full((32, 32), 128, np.uint8)), allow_out_of_scope=True),
                            timeout=30)
    assert len(response.prediction.probabilities) == 2 and response.model.name == "phantom"
    assert response.prediction.scope.research_only
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
    response = stub.Explain(pb.ExplainRequest(image=pb.Image(encoded=dicom), methods=["gradcam"],
                                              allow_out_of_scope=True), timeout=60)  # a ramp, not a phantom
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
    assert labels <= {"method", "code", "stage", "le", "name", "checkpoint_sha256", "architecture", "model",
                      "version", "reason"}  # the last three: the scope's drift metrics (model, version, why)


def multi_frame_dicom() -> bytes:
    return dicom_bytes(np.zeros((3, 16, 16), np.uint16))


BAD_REQUESTS = {
    "no image": ({"image": None}, "has no image"),
    "empty": ({"image": pb.Image(encoded=b"")}, "image is empty"),
    "truncated": ({"image": pb.Image(encoded=png(np.zeros((64, 64), np.uint8))[:40])}, "not a readable"),
    "not an image": ({"image": pb.Image(encoded=b"%PDF-1.4 not a picture")},
                     "must be PNG, JPEG, TIFF, DICOM or NumPy .npy"),
    **{f"{kind} file": ({"image": pb.Image(encoded=encoded(np.zeros((16, 16), np.uint8), kind))},
                        "must be PNG, JPEG, TIFF, DICOM or NumPy .npy") for kind in ("BMP", "GIF", "WEBP")},
    "float tiff with nan": ({"image": pb.Image(encoded=encoded(np.full((16, 16), np.nan, np.float32), "TIFF"))},
                            "image has 256 non-finite values (NaN or infinity)"),
    "over the work budget": ({"methods": ["ig", "lime"], "lime": pb.LimeSettings(samples=5000)},
                             "may take 5129 model passes (predict 1, ig 128, lime 5000); this server's limit is "
                             "2000"),
    "wrong shape": ({"image": raw(np.zeros((16, 16, 4), np.uint8))}, "HxW, HxWx1 or HxWx3"),
    "wrong size": ({"image": raw(np.zeros((16, 16), np.uint8), shape=[16, 17])}, "needs"),
    "wrong dtype": ({"image": raw(np.zeros((16, 16), np.int64))}, "dtype must be one of"),
    "nan": ({"image": raw(np.full((16, 16), np.nan, np.float32))}, "256 non-finite values (NaN or infinity)"),
    "inf": ({"image": raw(np.full((16, 16), np.inf, np.float32))}, "256 non-finite values (NaN or infinity)"),
    "tiny array": ({"image": raw(np.zeros((1, 1), np.uint8))}, "must be at least 8 pixels"),
    "tiny png": ({"image": pb.Image(encoded=png(np.zeros((1, 1), np.uint8)))}, "must be at least 8 pixels"),
    "png bomb": ({"image": pb.Image(encoded=png(np.zeros((1100, 1100), np.uint8)))}, "exceeds the limit"),
    "array bomb": ({"image": raw(np.zeros((1, 1), np.uint8), shape=[4000, 4000])}, "exceeds the limit"),
    "multi-frame dicom": ({"image": pb.Image(encoded=multi_frame_dicom())}, "multi-frame"),
    "colour dicom bomb": ({"image": pb.Image(encoded=dicom_bytes(np.zeros((600, 600), np.uint16), "RGB",
                                                                 SamplesPerPixel=3))},
                          "DICOM image of 600x600 pixels (3 samples each, each counted) exceeds the limit"),
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
    "nothing to fuse": ({"methods": ["lime", "fusion"]}, "fusion needs at least one of"),  # LIME's base weight 0
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
    # still answering: a black image is outside the phantom model's intended use, and says so
    assert stub.Predict(pb.PredictRequest(image=raw(np.zeros((32, 32), np.uint8))), timeout=30).prediction.HasField(
        "scope")


def test_full_server_answers_resource_exhausted_with_a_retry_hint(triton, make_service, lesion_image):
    busy = make_service(triton.grpc_url, max_concurrent=1, work_budget=MAX_WORK_BUDGET)
    channel, stub = stub_for(busy)
    with channel:
        stream = stub.ExplainStream(pb.ExplainRequest(image=pb.Image(encoded=lesion_image),
                                                      lime=pb.LimeSettings(samples=2000)), timeout=120)
        assert next(stream).map.method == "cam"  # the only slot is taken until the stream ends
        with pytest.raises(grpc.RpcError) as refused:
            stub.Predict(pb.PredictRequest(image=raw(np.zeros((32, 32), np.uint8))), timeout=30)
        stream.cancel()
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert dict(refused.value.trailing_metadata())[RETRY_PUSHBACK_KEY] == "1000"


def test_work_stops_when_the_client_gives_up(triton, make_service, lesion_image):
    service = make_service(triton.grpc_url, work_budget=MAX_WORK_BUDGET)
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
        for scheme in ("Bearer", "bearer"):  # the scheme is case-insensitive (RFC 6750)
            answer = stub.Predict(request, metadata=[("authorization", f"{scheme} s3cret-token")], timeout=30)
            assert answer.prediction.HasField("scope")  # answered (a black image: out of scope, with the reason)
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
    assert [line["status"] for line in lines] == ["OK"] * 2 + ["UNAUTHENTICATED"] * 3
    secret = secure.config.secret_file.read_bytes()
    assert lines[0]["caller"] == f"token:{hmac.new(secret, b's3cret-token', hashlib.sha256).hexdigest()[:16]}"
    assert all(line["caller"].startswith("peer:") for line in lines[2:])  # a wrong token is nobody's
    assert "s3cret" not in secure.config.audit_log.read_text()
    for path in (secure.config.audit_log, secure.config.secret_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_short_request_is_not_held_up_by_a_maximal_ig(triton, make_service, lesion_image):
    """IG takes the model in chunks under a fair lock: a Grad-CAM request that arrives while the longest IG
    allowed runs waits for one chunk, not for the whole IG."""
    channel, stub = stub_for(make_service(triton.grpc_url))
    finished: list[str] = []
    with channel:
        maximal = stub.ExplainStream(pb.ExplainRequest(image=pb.Image(encoded=lesion_image), methods=["gradcam", "ig"],
                                                       ig=pb.IntegratedGradientsSettings(steps=MAX_IG_STEPS)),
                                     timeout=600)
        assert next(maximal).map.method == "gradcam"  # the server goes on to IG at once

        def rest_of_maximal() -> None:
            [event] = list(maximal)
            assert event.map.diagnostics["steps"] == MAX_IG_STEPS
            finished.append("maximal")
        waiting = threading.Thread(target=rest_of_maximal)
        waiting.start()
        stub.Explain(pb.ExplainRequest(image=pb.Image(encoded=lesion_image), methods=["gradcam"]), timeout=600)
        finished.append("gradcam")
        waiting.join()
    assert finished == ["gradcam", "maximal"]


def test_a_request_without_a_deadline_gets_the_servers(triton, make_service, lesion_image):
    service = make_service(triton.grpc_url, default_deadline_s=0.5)
    channel, stub = stub_for(service)
    with channel, pytest.raises(grpc.RpcError) as expired:
        stub.Explain(pb.ExplainRequest(image=pb.Image(encoded=lesion_image), methods=["ig", "lime"],
                                       ig=pb.IntegratedGradientsSettings(steps=MAX_IG_STEPS),
                                       lime=pb.LimeSettings(samples=1000)))
    assert expired.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "server's deadline of 0.5 s" in expired.value.details()


def test_an_oversized_message_is_counted_and_audited(triton, make_service):
    service = make_service(triton.grpc_url, max_message_mb=1)
    channel, stub = stub_for(service)
    url = f"http://127.0.0.1:{service.config.metrics_port}/metrics"
    noise = np.random.default_rng(0).integers(0, 255, (700, 700, 3), dtype=np.uint8)  # 1.4 MB as raw bytes
    with channel, pytest.raises(grpc.RpcError) as refused:
        stub.Predict(pb.PredictRequest(image=raw(noise)), timeout=30)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "exceeds the limit of 1 MB" in refused.value.details()
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    assert metric(text, "medxai_explain_errors_total", method="Predict", code="RESOURCE_EXHAUSTED") == 1
    assert [line["status"] for line in audit_lines(service)] == ["RESOURCE_EXHAUSTED"]


def test_an_unknown_model_name_is_not_found(stub):
    with pytest.raises(grpc.RpcError) as refused:
        stub.Predict(pb.PredictRequest(image=raw(np.zeros((32, 32), np.uint8)), model="chest_ct"), timeout=30)
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    assert "not 'chest_ct'" in refused.value.details()


def test_health_answers_while_the_server_is_full(triton, make_service, lesion_image):
    busy = make_service(triton.grpc_url, max_concurrent=1, health_port=free_port())
    channel, stub = stub_for(busy)
    with channel, grpc.insecure_channel(f"127.0.0.1:{busy.config.health_port}") as health_only:
        stream = stub.ExplainStream(pb.ExplainRequest(image=pb.Image(encoded=lesion_image), methods=["gradcam", "ig"],
                                                      ig=pb.IntegratedGradientsSettings(steps=MAX_IG_STEPS)),
                                    timeout=120)
        assert next(stream).map.method == "gradcam"
        with pytest.raises(grpc.RpcError) as refused:
            stub.Predict(pb.PredictRequest(image=raw(np.zeros((32, 32), np.uint8))), timeout=30)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        for probe in (channel, health_only, channel, health_only):  # more checks than slots: they take none
            assert health_pb2_grpc.HealthStub(probe).Check(health_pb2.HealthCheckRequest(), timeout=10).status == \
                health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError) as not_here:  # the health port serves nothing else
            pb_grpc.ExplainServiceStub(health_only).ListModels(pb.ListModelsRequest(), timeout=10)
        assert not_here.value.code() == grpc.StatusCode.UNIMPLEMENTED
        stream.cancel()
