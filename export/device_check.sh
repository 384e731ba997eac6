#!/bin/bash
# GPU check for a machine with CUDA PyTorch but no network (the device machines lent to some sessions):
# which ONNX Runtime providers exist, eager PyTorch forward throughput of resnet50_attention at 224 px,
# `medxai bench serve|explain|service --device cuda` (Triton's gpu-python target; GPU LIME) and bench train.
# bench serve and bench service need the nvidia-pytriton wheel (55 MB), NumPy 1.26 for Python 3.12 (its Python-backend
# stub's environment, built below by `medxai triton setup --wheels .whl`) and tritonclient in .whl/ as well.
# Packages the machine lacks travel as wheels in .whl/, made beforehand
# on a machine with network access (lime has no wheel on PyPI: `pip wheel --no-deps -w .whl lime==0.2.0.1`):
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
#     captum==0.9.0 albumentations==2.0.8 albucore==0.0.24 pydantic==2.14.4 pydantic-core==2.50.5 \
#     annotated-types==0.8.0 typing-inspection==0.4.5 stringzilla==5.3.2 simsimd==6.5.16 pydicom==3.0.2
# Run from the repository root: bash export/device_check.sh; results also go to $OUT when it is set.
set -u
OUT=${OUT:-/tmp}
export PYTHONUNBUFFERED=1
nvidia-smi -L; python3 --version
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
    $(ls .whl/*.whl | grep -v -e nvidia_pytriton -e numpy-1) || exit 1
export PYTHONPATH=/tmp/site:$PWD MEDXAI_TRITON_ENV=/tmp/triton
python3 -m medxai triton setup --wheels .whl || exit 1
python3 -c "import onnxruntime as o, torch; print('onnxruntime', o.__version__, o.get_available_providers()); print('torch', torch.__version__)"
python3 - <<'PY' 2>&1 | tee $OUT/forward.txt
import time, torch
from medxai.models import build_model
m = build_model("resnet50_attention", 3).cuda().eval().to(memory_format=torch.channels_last)
for dtype in (torch.float32, torch.bfloat16):
    for bs in (1, 8, 32):
        x = torch.rand(bs, 3, 224, 224, device="cuda").contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
            for _ in range(5): m(x)
            torch.cuda.synchronize(); t = time.perf_counter(); n = 30
            for _ in range(n): m(x)
            torch.cuda.synchronize(); s = (time.perf_counter() - t) / n
        print(f"forward resnet50_attention 224 {str(dtype)[6:]} batch {bs}: {s*1000:.2f} ms/batch, {bs/s:.0f} img/s")
PY
timeout 240 python3 -m medxai bench serve --device cuda --concurrency 1,8,32,128 --requests 512 2>&1 | tee $OUT/bench_serve_cuda.txt
timeout 300 python3 -m medxai bench explain --device cuda --image-size 224 --model resnet50_attention --images 6 --lime-ceiling 2>&1 | grep -v "it/s]" | tee $OUT/bench_explain_cuda.txt
timeout 240 python3 -m medxai bench service --device cuda --methods gradcam,ig,lime,fusion --clients 8 --requests 50 2>&1 | tee $OUT/bench_service_cuda.txt
timeout 300 python3 -m medxai bench train --device cuda --steps 16 2>&1 | tee $OUT/bench_train_cuda.txt
