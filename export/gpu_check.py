"""GPU check (at most 10 minutes): serve the model with ONNX Runtime's CUDA provider inside the same
Python-backend config the CPU target uses, check its answers against PyTorch, and measure throughput.

Needs a CUDA machine with `pip install -e '.[gpu]'` (onnxruntime-gpu in place of onnxruntime). Prints one
JSON object as its last line.

Example: python -m export.gpu_check --requests 512
"""

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from export.bench import run_levels, triton_call, untrained_checkpoint
from export.release import export_checkpoint
from export.samples import sample_pixels
from medxai.checkpoint import load_checkpoint
from medxai.triton_client import TritonClient
from medxai.triton_server import TritonServer, free_port

CUDA = "CUDAExecutionProvider"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, help="checkpoint to serve; default: untrained --model")
    parser.add_argument("--model", default="resnet50_attention")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--requests", type=int, default=512, help="single-image requests per concurrency level")
    args = parser.parse_args()
    if CUDA not in ort.get_available_providers():
        raise SystemExit(f"ONNX Runtime here has no {CUDA} ({ort.get_available_providers()}): "
                         f"install medxai[gpu] on a CUDA machine")

    with tempfile.TemporaryDirectory(prefix="medxai-gpu-check-") as folder:
        folder = Path(folder)
        checkpoint = args.checkpoint or untrained_checkpoint(folder / "untrained.pt", args.model, args.image_size)
        export_checkpoint(checkpoint, folder / "repository", "gpu_check", target="cpu", enforce_gate=False,
                          samples=4, cpu_providers=(CUDA, "CPUExecutionProvider"))
        model, info = load_checkpoint(checkpoint)
        pixels = sample_pixels(info.image_size, count=16)
        with torch.no_grad():
            reference = model.probabilities(model(pixels)).numpy()
        server = TritonServer(folder / "repository", http_port=free_port(), grpc_port=free_port(),
                              metrics_port=free_port(), log_path=folder / "triton.log")
        with server:
            with TritonClient(server.grpc_url, "gpu_check") as client:
                served = client.infer(pixels.numpy())
            levels = [int(level) for level in args.concurrency.split(",")]
            results = run_levels("triton_cuda", triton_call(server.grpc_url, "gpu_check", pixels[:1].numpy()),
                                 levels, args.requests, print)
    print(json.dumps({"device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "unknown",
                      "architecture": info.architecture, "image_size": info.image_size,
                      "max_abs_diff_vs_torch_cpu": float(np.abs(served - reference).max()),
                      "top1_agreement": float((served.argmax(1) == reference.argmax(1)).mean())} | results))


if __name__ == "__main__":
    main()
