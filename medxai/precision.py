"""Precision that follows the hardware: bf16 only where the device computes it natively.

Where bf16 is emulated it is slower and changes the answers: on an AVX2-only CPU a training step ran 8.7x
slower in bf16 than in fp32, and Grad-CAM's maps moved (Spearman 0.83 against fp32). So `auto`, the default
everywhere, picks bf16 on a CPU whose PyTorch kernels run at AVX-512 and that has AVX512_BF16 or AMX, and on
a CUDA GPU of compute capability 8.0 or higher; fp32 elsewhere. The choice is printed once per device.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used: the command line's help must not wait for it
    import torch

PRECISIONS = ("auto", "fp32", "bf16")
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def _cpuinfo_lines() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


def cpu_flags() -> set[str]:
    """The CPU's feature flags as Linux reports them (empty where /proc/cpuinfo is absent)."""
    return next((set(line.split(":", 1)[1].split()) for line in _cpuinfo_lines() if line.startswith("flags")), set())


def native_bf16(device: torch.device, capability: str | None = None, flags: set[str] | None = None) -> tuple[bool, str]:
    """Whether `device` computes bf16 natively, and why (`capability` and `flags` default to this machine's)."""
    import torch
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        return (major, minor) >= (8, 0), f"CUDA compute capability {major}.{minor}"
    if device.type != "cpu":
        return False, f"device type {device.type}"
    capability = capability or torch.backends.cpu.get_cpu_capability()
    flags = cpu_flags() if flags is None else flags
    found = [flag for flag in BF16_CPU_FLAGS if flag in flags]
    reason = f"CPU capability {capability}, bf16 flags: {', '.join(found) or 'none'}"
    return capability.startswith("AVX512") and bool(found), reason


def resolve(precision: str, device: torch.device | str = "cpu") -> str:
    """'fp32' or 'bf16' for `precision` (auto|fp32|bf16) on `device`; the first choice per device is printed."""
    import torch
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision '{precision}'; choose one of {', '.join(PRECISIONS)}")
    return _resolve(precision, torch.device(device).type)


@lru_cache(maxsize=None)
def _resolve(precision: str, device_type: str) -> str:
    import torch
    native, reason = native_bf16(torch.device(device_type))
    chosen = precision if precision != "auto" else ("bf16" if native else "fp32")
    note = " (emulated here: slow)" if chosen == "bf16" and not native else ""
    print(f"precision on {device_type}: {chosen}{note} [{precision}; {reason}]", file=sys.stderr)
    return chosen


def use_bf16(precision: str, device: torch.device | str = "cpu") -> bool:
    return resolve(precision, device) == "bf16"


def hardware(device: torch.device | str, precision: str = "auto") -> dict:
    """What a figure was measured on and at which precision: for run folders, reports and bench JSON."""
    import torch
    device = torch.device(device)
    native, reason = native_bf16(device)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = next((line.split(":", 1)[1].strip() for line in _cpuinfo_lines() if line.startswith("model name")),
                    device.type)
    return {"device": name, "cpu_capability": torch.backends.cpu.get_cpu_capability(), "native_bf16": native,
            "native_bf16_reason": reason, "precision_requested": precision, "precision": resolve(precision, device)}
