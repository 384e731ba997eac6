"""`medxai bench shortcut` on the suite's trained phantom model (each precision): what it uses, per class."""

import json

import pytest

from tests.cli import assert_help_with_example, assert_user_error, medxai


@pytest.mark.slow
def test_the_report_shows_each_class_using_its_nodule(checkpoint_each_precision, phantom_dir, tmp_path):
    precision = json.loads((checkpoint_each_precision.parent / "config.json").read_text())["precision"]
    out = tmp_path / "shortcut.json"
    result = medxai("bench", "shortcut", "--checkpoint", str(checkpoint_each_precision), "--data", str(phantom_dir),
                    "--split", "test", "--images", "16", "--out", str(out), "--precision", precision)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report == json.loads(out.read_text()) and report["explained"] == 16
    benign, malignant = (report["counterfactual"][name] for name in ("benign_nodule", "malignant_nodule"))
    assert benign["images"] + malignant["images"] == report["images"] == 48  # every test phantom has a nodule
    # a benign phantom is told by its plain nodule: removing it costs far more than removing a patch elsewhere
    # (on an Intel Xeon without AMX, accuracy 0.35 and 0.25 with the nodule removed against 0.80 elsewhere, bf16
    # and fp32)
    assert benign["region_removed"]["accuracy"]["mean"] < benign["elsewhere_removed"]["accuracy"]["mean"] - 0.2
    for name, row in report["zones"].items():  # the fused map's mass is on the nodules, over their area share
        assert row["images"] == 8 and row["fusion"]["lift"]["region"] > 1.5, (name, row["fusion"])
        assert sum(entry["mean"] for entry in row["fusion"]["energy"].values()) == pytest.approx(1.0)
        assert (tmp_path / f"shortcut_{name}.png").stat().st_size > 1000 and row["gallery"].endswith(f"_{name}.png")
    table = (tmp_path / "shortcut.md").read_text()
    assert "| benign_nodule | 20 |" in table and "| malignant_nodule | fusion |" in table
    assert "![benign_nodule](shortcut_benign_nodule.png)" in table


def test_the_model_alone_with_grown_regions(trained_checkpoint, phantom_dir, tmp_path):
    """`--images 0` tests the model only (its tables, no maps); `--margin` grows the regions first and is
    recorded."""
    out = tmp_path / "grown.json"
    result = medxai("bench", "shortcut", "--checkpoint", str(trained_checkpoint), "--data", str(phantom_dir),
                    "--split", "test", "--images", "0", "--margin", "0.5", "--out", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["explained"] == 0 and report["zones"] == {} and report["margin"] == 0.5
    assert report["counterfactual"]["benign_nodule"]["images"] + report["counterfactual"]["malignant_nodule"][
        "images"] == 48
    for name, row in report["counterfactual"].items():  # what the answers become, per condition: shares
        assert all(sum(shares.values()) == pytest.approx(1.0) for shares in row["answers"].values())
        assert row["answers"]["as_given"][name] == pytest.approx(row["as_given"]["accuracy"]["mean"])
    table = (tmp_path / "grown.md").read_text()
    assert ("| class | region removed (blurred): answered benign_nodule | region removed (blurred): answered "
            "malignant_nodule | region replaced by tissue from elsewhere: answered benign_nodule |") in table
    assert "regions grown by 0.5" in table and "| benign_nodule | 20 |" in table and "| fusion |" not in table


def test_help_and_a_missing_checkpoint():
    assert_help_with_example("bench", "shortcut")
    result = medxai("bench", "shortcut", "--checkpoint", "/nonexistent.pt", "--data", "/tmp")
    assert_user_error(result, "/nonexistent.pt")
