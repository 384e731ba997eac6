"""`medxai demo` end to end: what `make demo` runs (training, evaluation with explanation quality, a local
explanation, export through the release gate, real Triton + the explain service, one streamed request), with the
demo's own data and training (so the gate judges a model trained as long as `make demo` trains it), on fewer
explained images."""

import json

import pytest

from tests.cli import medxai


@pytest.mark.slow
def test_demo_runs_everything_and_reports_it(tmp_path):
    result = medxai("demo", "--workdir", str(tmp_path), "--explained-images", "4", timeout=1500)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert set(report["held_out"]) == {"accuracy", "auc", "precision", "recall", "f1"}
    assert report["explanations"]["fusion"]["images"] == 4
    assert report["explanations"]["cam"]["dead_share"] <= 0.25 and report["explanations"]["fusion"]["dead_share"] == 0
    assert report["served"]["gate"]["refusals"] == [] and report["served"]["gate"]["checks"]["fusion"]["passed"]
    assert "release gate passed: parity, the served maps change when the weights are randomised, the evidence lies " \
           "in the expert regions" in " ".join((result.stdout + result.stderr).split())  # rich may wrap the line
    assert list(report["explained_image"]["seconds"]) == ["cam", "ig", "lime", "fusion"]
    screen = " ".join(result.stderr.split())
    assert "x-ray phantoms of 128 px" in screen and "held-out test split: accuracy" in screen  # no empty section
    last_screen = " ".join(result.stderr.splitlines()[-12:])  # the summary, not the report's JSON
    assert "release gate: passed" in last_screen and "maps streamed after cam" in last_screen
    assert "held-out phantoms: accuracy" in last_screen and "review it in the dashboard" in last_screen
    served = report["served"]
    assert list(served["received_after_s"]) == ["cam", "ig", "fusion", "lime"]
    assert served["model"]["version"] == "1" and len(served["model"]["checkpoint_sha256"]) == 64
    assert (tmp_path / "served" / "fusion.png").is_file() and (tmp_path / "explained" / "fusion.npy").is_file()
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [line["request_id"] for line in audit][0] == served["request_id"] and len(audit) == 2
    # the second request: pydicom's vertebra CT, which the chest-phantom model must not diagnose (issue 36)
    assert audit[1]["scope"]["in_scope"] is False and "prediction" not in audit[1]
    assert served["out_of_scope_example"].startswith("not assessed: outside the model's intended use (OOD score")
    assert "a vertebra CT (pydicom's CT_small.dcm): not assessed" in last_screen
    assert not (tmp_path / "stack.json").exists()  # both servers were stopped
