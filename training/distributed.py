"""DistributedDataParallel through torchrun (the standard engine for scale-out): active only when torchrun
sets WORLD_SIZE > 1; otherwise every helper is a no-op for one process."""

import os

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset, DistributedSampler


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_active() -> bool:
    return world_size() > 1 and dist.is_initialized()


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    return not is_active() or dist.get_rank() == 0


def setup() -> torch.device:
    """Join the process group if torchrun started us; the device is this rank's GPU, or the CPU."""
    if world_size() > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if torch.cuda.is_available():
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    if not is_active():
        return model
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def sampler(dataset: Dataset, seed: int) -> DistributedSampler:
    return DistributedSampler(dataset, shuffle=True, seed=seed)


def teardown() -> None:
    if is_active():
        dist.destroy_process_group()


def from_main(value: float) -> float:
    """Rank 0's value on every rank, so decisions such as early stopping are taken together (no rank hangs)."""
    if not is_active():
        return value
    tensor = torch.tensor([value], dtype=torch.float64)
    dist.broadcast(tensor, src=0)
    return float(tensor.item())
