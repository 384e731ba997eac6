"""The PrometheusRule's groups pass `promtool check rules`, and its alerts pass the unit tests in
alerts_test.yaml (`promtool test rules`). promtool comes with Debian's `prometheus` package."""

import shutil
import subprocess

import pytest
import yaml

from tests.k8s.conftest import OVERLAYS, find

UNIT_TESTS = "alerts_test.yaml"


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool not found: apt-get install prometheus")
    return path


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_alert_rules_pass_promtool_check_and_unit_tests(promtool, objects, overlay, tmp_path):
    rule = find(objects[overlay], "PrometheusRule", "medxai")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    shutil.copy(__file__.replace("test_alerts.py", UNIT_TESTS), tmp_path / UNIT_TESTS)
    check = subprocess.run([promtool, "check", "rules", "rules.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    unit = subprocess.run([promtool, "test", "rules", UNIT_TESTS], cwd=tmp_path, capture_output=True, text=True)
    assert unit.returncode == 0, unit.stdout + unit.stderr


def test_every_alert_has_a_unit_test(objects):
    rules = find(objects["prod-gpu"], "PrometheusRule", "medxai")["spec"]["groups"][0]["rules"]
    with open(__file__.replace("test_alerts.py", UNIT_TESTS)) as handle:
        tests = yaml.safe_load(handle)["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"] if case["exp_alerts"]}
    assert tested == {rule["alert"] for rule in rules}
