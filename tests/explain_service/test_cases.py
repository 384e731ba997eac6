"""Every file of ../shared/cases through the real service (Triton + the explain service): as gRPC requests and
through `medxai request`, the same answers as the command line gives (tests/test_cases.py): the twins' model
input and probabilities, the same one-line refusals, and undefined diagnostics reported as such."""

import json

import grpc
import numpy as np
import pytest

from explain_service.protos import explain_pb2 as pb
from tests.cli import assert_user_error, medxai
from tests.explain_service.conftest import SMALL
from tests.test_cases import REFUSED, TWINS, USABLE


def encoded(cases, name: str) -> pb.Image:
    return pb.Image(encoded=(cases / name).read_bytes())


def test_predict_gives_each_case_the_probabilities_of_its_twin(stub, shared_cases):
    probabilities = {}
    for name in USABLE:
        response = stub.Predict(pb.PredictRequest(image=encoded(shared_cases, name), allow_out_of_scope=True),
                                timeout=60)  # decoding is checked here, not scope: research answers (tests/test_cases)
        probabilities[name] = {entry.name: entry.probability for entry in response.prediction.probabilities}
    for name, twin, tolerance in TWINS:
        for label, value in probabilities[twin].items():
            assert probabilities[name][label] == pytest.approx(value, abs=max(tolerance, 1e-5)), (name, label)


def test_the_decoders_warning_reaches_the_client_with_the_answer(stub, shared_cases):
    """The out-of-standard window: the CLI's one warning line is the response's input warning (and only its)."""
    response = stub.Predict(pb.PredictRequest(image=encoded(shared_cases, "window_width_below_one.dcm"),
                                              allow_out_of_scope=True), timeout=60)
    [note] = response.prediction.input_warnings
    assert "Window Width must be greater than or equal to 1" in note and "own value range" in note
    assert not stub.Predict(pb.PredictRequest(image=encoded(shared_cases, "colour.png")),
                            timeout=60).prediction.input_warnings


@pytest.mark.parametrize("name", list(REFUSED))
def test_refusals_are_invalid_argument_with_the_cli_sentence(stub, shared_cases, name):
    with pytest.raises(grpc.RpcError) as refused:
        stub.Predict(pb.PredictRequest(image=encoded(shared_cases, name)), timeout=60)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert REFUSED[name] in refused.value.details()


def test_black_image_diagnostics_are_undefined_not_perfect(stub, shared_cases):
    response = stub.Explain(pb.ExplainRequest(image=encoded(shared_cases, "black.png"), methods=["ig", "lime"],
                                              allow_out_of_scope=True, **SMALL), timeout=120)
    ig, lime = response.maps
    assert "completeness_gap" not in ig.diagnostics and "steps" in ig.diagnostics
    assert ig.undefined["completeness_gap"] == "the image equals IG's baseline, so there is nothing to attribute"
    assert "r2" not in lime.diagnostics and "r2" in lime.undefined
    assert not response.HasField("ig_completeness_gap") and not response.HasField("lime_r2")


def test_request_command_on_the_cases(service, shared_cases, tmp_path):
    """`medxai request`: maps of the rotated JPEG as of the upright one, the undefined diagnostics saved with
    their reasons, and the NaN TIFF refused in one line."""
    address = f"127.0.0.1:{service.port}"
    maps = {}
    for name in ("upright.jpg", "exif_orientation_6.jpg", "black.png", "window_width_below_one.dcm"):
        result = medxai("request", "--image", str(shared_cases / name), "--out", str(tmp_path / name),
                        "--methods", "ig", "--address", address, "--allow-out-of-scope")
        assert result.returncode == 0, result.stderr
        maps[name] = np.load(tmp_path / name / "ig.npy")
    upright, rotated = maps["upright.jpg"].ravel(), maps["exif_orientation_6.jpg"].ravel()
    assert np.corrcoef(upright, rotated)[0, 1] > 0.8
    warned = json.loads((tmp_path / "window_width_below_one.dcm" / "response.json").read_text())
    assert "own value range" in warned["input_warnings"][0]
    assert "input_warnings" not in json.loads((tmp_path / "upright.jpg" / "response.json").read_text())
    summary = json.loads((tmp_path / "black.png" / "response.json").read_text())
    assert "completeness_gap" in summary["maps"][0]["undefined"]
    assert "completeness_gap" not in summary["maps"][0]["diagnostics"]
    assert_user_error(medxai("request", "--image", str(shared_cases / "float_one_nan.tif"), "--out",
                             str(tmp_path / "refused"), "--address", address),
                      f"answered INVALID_ARGUMENT: {REFUSED['float_one_nan.tif']}")
