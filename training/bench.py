"""`medxai bench train`: training throughput in fp32, in bf16 autocast + channels_last, and the cost of the
composite loss L_cls + alpha * L_exp (§3.8) at the trainer's defaults, against a plain step at the chosen precision."""

import time

import torch
from rich.console import Console

from medxai.models import build_model
from training.losses import ClassificationLoss
from medxai.precision import hardware, use_bf16
from training.trainer import TrainConfig, explanation_loss, autocast


def _images_per_second(model_name: str, image_size: int, batch_size: int, steps: int, bf16: bool,
                       channels_last: bool, device: torch.device, exp: TrainConfig | None = None) -> float:
    """Images per second over `steps` timed optimiser steps; with `exp`, L_exp is added as the trainer adds it
    (on `exp.exp_images` images every `exp.exp_every`-th step)."""
    torch.manual_seed(0)
    model = build_model(model_name, 3).train().to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = ClassificationLoss(torch.ones(3), multi_label=False).to(device)
    images = torch.rand(batch_size, 3, image_size, image_size, device=device)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    targets = torch.randint(0, 3, (batch_size,), device=device)
    timings = []
    for step in range(steps + 1):  # the first step warms up kernels and is not timed
        start = time.perf_counter()
        with autocast(device, bf16):
            logits = model(images)
            loss = loss_fn(logits, targets)
            if exp is not None and step % exp.exp_every == 0:
                loss = loss + exp.alpha_exp * explanation_loss(model, images, targets, logits.detach(), exp)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if step:
            timings.append(time.perf_counter() - start)
    return batch_size * len(timings) / sum(timings)


def bench_training(model: str, image_size: int, batch_size: int, steps: int, device: str = "cpu",
                   precision: str = "auto") -> dict:
    """fp32 and bf16 images/s, and the composite step's cost relative to a plain step at `precision` (`steps` is
    rounded up to a multiple of the default `exp_every`, so every setting sees whole L_exp cycles)."""
    console = Console(stderr=True)
    device = torch.device(device)
    bf16 = use_bf16(precision, device)
    fp32 = _images_per_second(model, image_size, batch_size, steps, bf16=False, channels_last=False, device=device)
    console.print(f"fp32: {fp32:.2f} images/s")
    fast = _images_per_second(model, image_size, batch_size, steps, bf16=True, channels_last=True, device=device)
    console.print(f"bf16 + channels_last: {fast:.2f} images/s")
    defaults = TrainConfig(data="", out="")
    cycle_steps = -(-steps // defaults.exp_every) * defaults.exp_every
    plain = fast if bf16 else fp32
    composite = _images_per_second(model, image_size, batch_size, cycle_steps, bf16=bf16, channels_last=bf16,
                                   device=device, exp=defaults)
    console.print(f"{'bf16' if bf16 else 'fp32'} + L_exp ({defaults.exp_images} images every {defaults.exp_every} steps, "
                  f"{defaults.ig_steps} IG steps): {composite:.2f} images/s")
    return {"model": model, "image_size": image_size, "batch_size": batch_size, **hardware(device, precision),
            "threads": torch.get_num_threads(),
            "fp32_images_per_s": round(fp32, 2), "bf16_channels_last_images_per_s": round(fast, 2),
            "speedup": round(fast / fp32, 2), "composite_images_per_s": round(composite, 2),
            "exp_images": defaults.exp_images, "exp_every": defaults.exp_every,
            "composite_step_cost_ratio": round(plain / composite, 2)}
