"""The service's answers carry their scope: an image outside the model's intended use gets the reason and no
probabilities or maps (unless the request allows it), an image of its own kind its prediction set; the drift
metrics count both. Real tritonserver (the exported graph's ood_score output) and the real service."""

import urllib.request

from pydicom.data import get_testdata_file

from explain_service.protos import explain_pb2 as pb
from tests.explain_service.conftest import SMALL
from tests.explain_service.test_service import audit_lines, metric

CT = open(get_testdata_file("CT_small.dcm"), "rb").read()


def test_images_of_the_models_own_kind_are_answered_with_their_prediction_sets(stub, held_out):
    predictions = [stub.Predict(pb.PredictRequest(image=pb.Image(encoded=encoded)), timeout=60).prediction
                   for encoded, _, _ in held_out]
    answered = [p for p in predictions if p.scope.in_scope]
    assert len(answered) >= 0.9 * len(predictions)  # the threshold accepts about 99 % of validation images
    for prediction in answered:
        assert prediction.probabilities and prediction.scope.ood_score <= prediction.scope.threshold
        names = [p.name for p in prediction.probabilities]
        assert prediction.scope.prediction_set[0] == names[prediction.predicted] and prediction.scope.alpha > 0


def test_a_vertebra_ct_gets_the_reason_and_no_answer_unless_asked_for_research(stub, service):
    url = f"http://127.0.0.1:{service.config.metrics_port}/metrics"
    before = urllib.request.urlopen(url, timeout=10).read().decode()
    refused = stub.Predict(pb.PredictRequest(image=pb.Image(encoded=CT)), timeout=60).prediction
    assert not refused.scope.in_scope and not refused.probabilities
    assert refused.scope.reason.startswith("outside the model's intended use (OOD score")
    assert refused.scope.ood_score > refused.scope.threshold
    research = stub.Predict(pb.PredictRequest(image=pb.Image(encoded=CT), allow_out_of_scope=True),
                            timeout=60).prediction
    assert research.probabilities and research.scope.research_only and not research.scope.in_scope
    events = list(stub.ExplainStream(pb.ExplainRequest(image=pb.Image(encoded=CT), methods=["gradcam"], **SMALL),
                                     timeout=120))
    assert len(events) == 1 and not events[0].HasField("map") and not events[0].prediction.scope.in_scope
    response = stub.Explain(pb.ExplainRequest(image=pb.Image(encoded=CT), methods=["gradcam"], **SMALL), timeout=120)
    assert not response.maps and not response.prediction.scope.in_scope
    line = audit_lines(service)[-1]
    assert line["scope"]["in_scope"] is False and "prediction" not in line
    after = urllib.request.urlopen(url, timeout=10).read().decode()
    labels = {"model": service.config.model, "version": "1"}
    assert metric(after, "medxai_out_of_scope_total", **labels, reason="ood") == \
        metric(before, "medxai_out_of_scope_total", **labels, reason="ood") + 4
    assert metric(after, "medxai_ood_score_count", **labels) == metric(before, "medxai_ood_score_count", **labels) + 4
    assert metric(after, "medxai_scope_validation_refused_ratio", model=service.config.model) < 0.1


def test_dicom_tags_that_contradict_the_intended_use_are_refused_before_inference(triton, make_service,
                                                                                   trained_checkpoint, tmp_path):
    from medxai.checkpoint import load_checkpoint, save_checkpoint
    from tests.explain_service.conftest import stub_for
    model, info = load_checkpoint(trained_checkpoint)
    info.scope["intended_use"]["modality"] = ["DX"]  # an x-ray model that says so; the weights are the served ones
    tagged = save_checkpoint(tmp_path / "dx.pt", model, info)
    for rule, refused_by_tags in (("contradiction", True), ("off", False)):
        channel, stub = stub_for(make_service(triton.grpc_url, checkpoint=tagged, dicom_tags=rule))
        with channel:
            scope = stub.Predict(pb.PredictRequest(image=pb.Image(encoded=CT)), timeout=60).prediction.scope
        assert not scope.in_scope
        if refused_by_tags:
            assert scope.reason == "outside the model's intended use (Modality CT; the model is for DX)"
            assert not scope.HasField("ood_score")  # Triton was not asked
        else:
            assert "OOD score" in scope.reason and scope.HasField("ood_score")
