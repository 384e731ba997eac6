import json
import math
import shutil
import subprocess
from pathlib import Path

import pytest


def train_with_torchrun(phantom_dir: Path, out: Path, *options: str) -> subprocess.CompletedProcess:
    """`torchrun --nproc-per-node 2 -m medxai train` on the phantoms at 32 px with `options`; checks it succeeded."""
    torchrun = shutil.which("torchrun") or str(Path(__import__("sys").executable).parent / "torchrun")
    if not Path(torchrun).exists():
        pytest.skip("torchrun not installed")
    result = subprocess.run([torchrun, "--nproc-per-node", "2", "-m", "medxai", "train", "--data", str(phantom_dir),
                             "--out", str(out), "--model", "resnet18_attention", "--image-size", "32", *options],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_torchrun_trains_with_ddp_on_two_cpu_processes(phantom_dir, tmp_path):
    result = train_with_torchrun(phantom_dir, tmp_path, "--epochs", "2", "--patience", "1", "--alpha-exp", "0")
    assert json.loads((tmp_path / "config.json").read_text())["world_size"] == 2
    assert (tmp_path / "best.pt").is_file()
    assert result.stdout.count('"best"') == 1  # only rank 0 reports


def test_torchrun_trains_with_ddp_and_the_explanation_loss(phantom_dir, tmp_path):
    """alpha > 0 under DDP: L_exp's double backward goes through the wrapped model on both ranks."""
    train_with_torchrun(phantom_dir, tmp_path, "--epochs", "1", "--alpha-exp", "0.2", "--exp-every", "1",
                        "--exp-images", "2")
    [epoch] = json.loads((tmp_path / "fold0" / "history.json").read_text())
    assert math.isfinite(epoch["exp_loss"]) and epoch["exp_loss"] > 0
    assert math.isfinite(epoch["train_loss"])
