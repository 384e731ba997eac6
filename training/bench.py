"""`medxai bench train`: training throughput in fp32 against bf16 autocast + channels_last."""

import time

import torch
from rich.console import Console

from medxai.models import build_model
from training.losses import ClassificationLoss
from training.trainer import autocast


def _images_per_second(model_name: str, image_size: int, batch_size: int, steps: int, bf16: bool,
                       channels_last: bool) -> float:
    torch.manual_seed(0)
    model = build_model(model_name, 3).train()
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = ClassificationLoss(torch.ones(3), multi_label=False)
    images = torch.rand(batch_size, 3, image_size, image_size)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    targets = torch.randint(0, 3, (batch_size,))
    timings = []
    for step in range(steps + 1):  # the first step warms up kernels and is not timed
        start = time.perf_counter()
        with autocast(torch.device("cpu"), bf16):
            loss = loss_fn(model(images), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step:
            timings.append(time.perf_counter() - start)
    return batch_size * len(timings) / sum(timings)


def bench_training(model: str, image_size: int, batch_size: int, steps: int) -> dict:
    console = Console(stderr=True)
    fp32 = _images_per_second(model, image_size, batch_size, steps, bf16=False, channels_last=False)
    console.print(f"fp32: {fp32:.2f} images/s")
    fast = _images_per_second(model, image_size, batch_size, steps, bf16=True, channels_last=True)
    console.print(f"bf16 + channels_last: {fast:.2f} images/s")
    return {"model": model, "image_size": image_size, "batch_size": batch_size, "threads": torch.get_num_threads(),
            "fp32_images_per_s": round(fp32, 2), "bf16_channels_last_images_per_s": round(fast, 2),
            "speedup": round(fast / fp32, 2)}
