"""Drift, end to end: the real service is sent a shifted stream (a vertebra CT among the phantom model's own
images), its /metrics page is scraped, and the rates scraped become the input series of a `promtool test rules`
run of the PrometheusRule: MedxaiOutOfScopeRateHigh fires for that model, with the labels the service exports."""

import shutil
import subprocess
import urllib.request

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from pydicom.data import get_testdata_file

from explain_service.protos import explain_pb2 as pb
from tests.explain_service.conftest import (held_out, in_scope, lesion_image,  # noqa: F401 (fixtures)
                                            make_service, repository, service, stub_for, triton)
from tests.k8s.conftest import find

CT = open(get_testdata_file("CT_small.dcm"), "rb").read()


def samples(url: str) -> dict[tuple[str, frozenset], float]:
    text = urllib.request.urlopen(url, timeout=30).read().decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_a_shifted_stream_fires_the_out_of_scope_alert(objects, service, held_out, tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not found: apt-get install prometheus")
    url = f"http://127.0.0.1:{service.config.metrics_port}/metrics"
    before = samples(url)
    channel, stub = stub_for(service)
    with channel:  # a PACS rule starts sending CT: 6 of every 10 images are not the model's
        for encoded, _, _ in held_out[:4]:
            stub.Predict(pb.PredictRequest(image=pb.Image(encoded=encoded)), timeout=60)
        for _ in range(6):
            stub.Predict(pb.PredictRequest(image=pb.Image(encoded=CT)), timeout=60)
    after = samples(url)
    model = {"model": service.config.model, "version": "1"}
    assessed = frozenset(model.items())
    refused = frozenset((model | {"reason": "ood"}).items())
    ratio = frozenset({"model": service.config.model}.items())
    grew = {name: after[(name, labels)] - before.get((name, labels), 0.0)
            for name, labels in (("medxai_assessed_images_total", assessed), ("medxai_out_of_scope_total", refused))}
    assert grew == {"medxai_assessed_images_total": 10, "medxai_out_of_scope_total": pytest.approx(6, abs=1)}

    def series(name: str, labels: frozenset, values: str) -> dict:
        text = ",".join(f'{key}="{value}"' for key, value in sorted(dict(labels, namespace="medxai").items()))
        return {"series": f"{name}{{{text}}}", "values": values}

    rule = find(objects["prod-gpu"], "PrometheusRule", "medxai")
    alert = next(r for r in rule["spec"]["groups"][0]["rules"] if r.get("alert") == "MedxaiOutOfScopeRateHigh")
    share = 100 * grew["medxai_out_of_scope_total"] / grew["medxai_assessed_images_total"]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    test = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [  # the stream above, once a minute for two hours
            series("medxai_assessed_images_total", assessed, f"0+{grew['medxai_assessed_images_total']:g}x120"),
            series("medxai_out_of_scope_total", refused, f"0+{grew['medxai_out_of_scope_total']:g}x120"),
            series("medxai_scope_validation_refused_ratio", ratio,
                   f"{after[('medxai_scope_validation_refused_ratio', ratio)]:g}x120")],
        "alert_rule_test": [{"eval_time": "90m", "alertname": "MedxaiOutOfScopeRateHigh", "exp_alerts": [{
            "exp_labels": {"severity": "warning", "namespace": "medxai", "model": service.config.model},
            "exp_annotations": {
                "summary": f"{share:.4g}% of the images sent to {service.config.model} are outside its intended use",
                "description": alert["annotations"]["description"]}}]}]}]}
    (tmp_path / "drift_test.yaml").write_text(yaml.safe_dump(test, sort_keys=False))
    result = subprocess.run([promtool, "test", "rules", "drift_test.yaml"], cwd=tmp_path, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
