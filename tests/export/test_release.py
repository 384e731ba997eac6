"""Versioning without overwrite, the release gate, and what a published version holds."""

import json

import pytest
import torch

from export.gate import release_gate
from export.parity import ParityReport
from export.release import export_checkpoint
from export.repository import check_overwrites, choose_version
from medxai.checkpoint import checkpoint_sha256, load_checkpoint, save_checkpoint
from medxai.errors import UserError


def quiet(_: str) -> None:
    pass


def test_choose_version_never_overwrites_without_force(tmp_path):
    assert choose_version(tmp_path / "absent", None, False) == 1
    (tmp_path / "1").mkdir()
    (tmp_path / "3").mkdir()
    (tmp_path / ".staging-x").mkdir()
    assert choose_version(tmp_path, None, False) == 4
    assert choose_version(tmp_path, 2, False) == 2
    with pytest.raises(UserError, match="already exists"):
        choose_version(tmp_path, 3, False)
    assert choose_version(tmp_path, 3, True) == 3
    with pytest.raises(UserError, match="positive"):
        choose_version(tmp_path, 0, False)


def test_check_overwrites_allows_identical_files_only(tmp_path):
    (tmp_path / "labels.txt").write_text("a\nb\n")
    check_overwrites(tmp_path, {"labels.txt": "a\nb\n", "config.pbtxt": "new"}, force=False)
    with pytest.raises(UserError, match="labels.txt"):
        check_overwrites(tmp_path, {"labels.txt": "a\nc\n"}, force=False)
    check_overwrites(tmp_path, {"labels.txt": "a\nc\n"}, force=True)


def test_new_checkpoints_become_new_versions(tmp_path, make_checkpoint):
    repository = tmp_path / "repository"
    first = export_checkpoint(make_checkpoint(1), repository, "chest", enforce_gate=False, samples=4, log=quiet)
    second = export_checkpoint(make_checkpoint(2), repository, "chest", enforce_gate=False, samples=4, log=quiet)
    assert (first.version, second.version) == (1, 2)
    assert sorted(p.name for p in (repository / "chest" / "2").iterdir()) == [
        "model.onnx", "model.pt", "model.py", "model_torch.py", "provenance.json"]
    provenance = json.loads((second.version_dir / "provenance.json").read_text())
    assert provenance["checkpoint_sha256"] == checkpoint_sha256(make_checkpoint(2))
    assert all(report["passed"] for report in provenance["parity"])

    onnx_before = (repository / "chest" / "1" / "model.onnx").read_bytes()
    with pytest.raises(UserError, match="already exists"):
        export_checkpoint(make_checkpoint(2), repository, "chest", version=1, enforce_gate=False, samples=4, log=quiet)
    with pytest.raises(UserError, match="different config.pbtxt"):  # another image size: another interface
        export_checkpoint(make_checkpoint(1, image_size=32), repository, "chest", enforce_gate=False, samples=4,
                          log=quiet)
    assert (repository / "chest" / "1" / "model.onnx").read_bytes() == onnx_before
    assert export_checkpoint(make_checkpoint(2), repository, "chest", version=1, overwrite=True,
                             enforce_gate=False, samples=4, log=quiet).version == 1
    assert (repository / "chest" / "1" / "model.onnx").read_bytes() != onnx_before
    assert [p.name for p in (repository / "chest").iterdir() if p.name.startswith(".")] == []


def test_gate_refuses_a_model_failing_parity_and_leaves_nothing(tmp_path, make_checkpoint):
    repository = tmp_path / "repository"
    with pytest.raises(UserError, match="refusing to release chest: onnxruntime parity FAILED"):
        export_checkpoint(make_checkpoint(1), repository, "chest", tolerance=-1.0, samples=4, log=quiet)
    assert list((repository / "chest").iterdir()) == []


def test_release_gate_lists_every_failed_parity_check(make_checkpoint, pixels):
    model, _ = load_checkpoint(make_checkpoint(1))
    failing = ParityReport("onnxruntime", 8, 0.3, 0.75, 1e-4)
    passing = ParityReport("torchscript", 8, 0.0, 1.0, 1e-4)
    reasons = release_gate(model, pixels, [failing, passing], quiet).refusals
    assert reasons[0] == failing.line()
    assert not any("torchscript" in reason for reason in reasons)


def zero_head_checkpoint(source, folder):
    """A model whose head is all zeros: its output ignores the image, so every map it has is dead."""
    model, info = load_checkpoint(source)
    with torch.no_grad():
        for parameter in model.head.parameters():
            parameter.zero_()
    return save_checkpoint(folder / "zero_head.pt", model, info)


def test_gate_refuses_a_model_whose_served_maps_are_all_dead_and_says_so(tmp_path, make_checkpoint):
    repository, lines = tmp_path / "repository", []
    with pytest.raises(UserError, match=r"refusing to release chest: every served map \(cam, ig, lime, fusion\) is "
                                        r"dead on all 4 sample images: the model gives no positive evidence to "
                                        r"explain: the model-randomisation sanity check failed"):
        export_checkpoint(zero_head_checkpoint(make_checkpoint(1), tmp_path), repository, "chest", samples=4,
                          log=lines.append)
    assert list((repository / "chest").iterdir()) == []
    assert [line.split(":")[0] for line in lines if line.startswith("randomisation")] == \
        [f"randomisation check {method}" for method in ("cam", "ig", "lime", "fusion")]
    assert all("dead on 4 of 4" in line for line in lines if line.startswith("randomisation"))
