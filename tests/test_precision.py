"""The precision chooser: bf16 only where the hardware computes it natively; what was chosen is recorded."""

import json

import pytest
import torch

from medxai.precision import hardware, native_bf16, resolve
from tests.cli import medxai

CPU = torch.device("cpu")


@pytest.mark.parametrize("capability, flags, native", [
    ("AVX512", {"avx512f", "avx512_bf16"}, True),         # AMD EPYC Zen 4: AVX512_BF16, no AMX
    ("AVX512", {"avx512f", "amx_bf16", "amx_tile"}, True),  # Intel Sapphire Rapids: AMX
    ("AVX512", {"avx512f"}, False),                       # AVX-512 without bf16: emulated
    ("AVX2", {"avx2", "avx512_bf16"}, False),             # PyTorch limited to AVX2 kernels: emulated
    ("AVX2", {"avx2"}, False),                            # the AVX2-only EPYC where bf16 ran 8.7x slower
    ("DEFAULT", set(), False),
])
def test_cpu_bf16_is_native_only_with_avx512_kernels_and_bf16_instructions(capability, flags, native):
    assert native_bf16(CPU, capability, flags)[0] is native


def test_auto_follows_this_machine_and_explicit_choices_are_kept():
    native, _ = native_bf16(CPU)
    assert resolve("auto", CPU) == ("bf16" if native else "fp32")
    assert resolve("fp32", CPU) == "fp32" and resolve("bf16", CPU) == "bf16"
    with pytest.raises(ValueError, match="unknown precision"):
        resolve("fp16", CPU)


def test_hardware_record_names_the_cpu_and_the_choice():
    record = hardware(CPU)
    assert record["precision"] in ("fp32", "bf16") and record["precision_requested"] == "auto"
    assert record["cpu_capability"] == torch.backends.cpu.get_cpu_capability() and record["device"]


def test_cli_refuses_an_unknown_precision(tmp_path):
    result = medxai("predict", "--checkpoint", str(tmp_path / "x.pt"), "--precision", "fp16", str(tmp_path / "a.png"))
    assert result.returncode == 2 and "fp16" in result.stderr and "Traceback" not in result.stderr


def test_run_folder_records_the_precision_used(trained_run):
    config = json.loads((trained_run / "config.json").read_text())
    assert config["precision"] == "auto" and config["hardware"]["precision"] == resolve("auto", CPU)
