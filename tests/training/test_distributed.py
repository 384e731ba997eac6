import json
import shutil
import subprocess
from pathlib import Path

import pytest


def test_torchrun_trains_with_ddp_on_two_cpu_processes(phantom_dir, tmp_path):
    torchrun = shutil.which("torchrun") or str(Path(__import__("sys").executable).parent / "torchrun")
    if not Path(torchrun).exists():
        pytest.skip("torchrun not installed")
    result = subprocess.run([torchrun, "--nproc-per-node", "2", "-m", "medxai", "train", "--data", str(phantom_dir),
                             "--out", str(tmp_path), "--model", "resnet18_attention", "--image-size", "32",
                             "--epochs", "2", "--patience", "1", "--alpha-exp", "0"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((tmp_path / "config.json").read_text())["world_size"] == 2
    assert (tmp_path / "best.pt").is_file()
    assert result.stdout.count('"best"') == 1  # only rank 0 reports
