"""`medxai demo` end to end, small: what `make demo` runs (training, evaluation with explanation quality, a
local explanation, export, real Triton + the explain service, one streamed request), on fewer, smaller images."""

import json

import pytest

from tests.cli import medxai


@pytest.mark.slow
def test_demo_runs_everything_and_reports_it(tmp_path):
    result = medxai("demo", "--workdir", str(tmp_path), "--n", "80", "--epochs", "2", "--image-size", "48",
                    "--explained-images", "4", timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert set(report["held_out"]) == {"accuracy", "auc", "precision", "recall", "f1"}
    assert report["explanations"]["fusion"]["images"] == 4
    assert list(report["explained_image"]["seconds"]) == ["cam", "ig", "lime", "fusion"]
    served = report["served"]
    assert list(served["received_after_s"]) == ["cam", "ig", "lime", "fusion"]
    assert served["model"]["version"] == "1" and len(served["model"]["checkpoint_sha256"]) == 64
    assert (tmp_path / "served" / "fusion.png").is_file() and (tmp_path / "explained" / "fusion.npy").is_file()
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [line["request_id"] for line in audit] == [served["request_id"]]
    assert not (tmp_path / "stack.json").exists()  # both servers were stopped
