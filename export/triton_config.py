"""Render the two Triton model configs from one `ServingSpec`, built with Triton's own protobuf schema.

- GPU (production, the NGC Triton image): `platform: onnxruntime_onnx`, KIND_GPU, optional TensorRT FP16.
- CPU (laptops, CI): the same `model.onnx` run by ONNX Runtime inside a Python-backend `model.py`, because
  the ONNX Runtime backend is not on PyPI while the Python backend ships in the nvidia-pytriton wheel.
- GPU with the wheel's tritonserver (`gpu-python`): the version's TorchScript graph run by PyTorch on CUDA
  inside a Python-backend `model_torch.py`.
Everything else (tensors, batching, version policy, warmup, labels) is shared.
"""

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as pb

from export.spec import (INPUT_DTYPES, INPUT_NAME, LABELS_FILE, OOD_OUTPUT_NAME, OUTPUT_NAME, TORCH_MODEL_FILE,
                         ServingSpec)


def _shared(spec: ServingSpec) -> pb.ModelConfig:
    config = pb.ModelConfig(name=spec.name, max_batch_size=spec.max_batch_size)
    dtype = pb.DataType.Value(INPUT_DTYPES[spec.input_dtype])
    config.input.add(name=INPUT_NAME, data_type=dtype, dims=spec.input_dims)
    config.output.add(name=OUTPUT_NAME, data_type=pb.TYPE_FP32, dims=spec.output_dims, label_filename=LABELS_FILE)
    if spec.ood:
        config.output.add(name=OOD_OUTPUT_NAME, data_type=pb.TYPE_FP32, dims=[1])
    for key, value in spec.scope.items():
        config.parameters[key].string_value = value
    config.dynamic_batching.preferred_batch_size.extend(spec.preferred_batch_sizes)
    config.dynamic_batching.max_queue_delay_microseconds = spec.max_queue_delay_us
    config.version_policy.latest.num_versions = spec.versions_served
    warmup = config.model_warmup.add(name="zeros", batch_size=1)
    warmup.inputs[INPUT_NAME].CopyFrom(pb.ModelWarmup.Input(data_type=dtype, dims=spec.input_dims, zero_data=True))
    return config


def gpu_config(spec: ServingSpec) -> pb.ModelConfig:
    """ONNX Runtime backend on the GPU; TensorRT FP16 as the execution accelerator when asked."""
    config = _shared(spec)
    config.platform = "onnxruntime_onnx"
    config.instance_group.add(count=spec.instances, kind=pb.ModelInstanceGroup.KIND_GPU)
    if spec.tensorrt_fp16:
        accelerator = config.optimization.execution_accelerators.gpu_execution_accelerator.add(name="tensorrt")
        accelerator.parameters["precision_mode"] = "FP16"
        accelerator.parameters["max_workspace_size_bytes"] = str(1 << 30)
    return config


def cpu_config(spec: ServingSpec) -> pb.ModelConfig:
    """Python backend running ONNX Runtime with `spec.cpu_providers` (CUDA too where onnxruntime-gpu is there)."""
    config = _shared(spec)
    config.backend = "python"
    config.instance_group.add(count=spec.instances, kind=pb.ModelInstanceGroup.KIND_CPU)
    config.parameters["onnxruntime_providers"].string_value = ",".join(spec.cpu_providers)
    return config


def gpu_python_config(spec: ServingSpec) -> pb.ModelConfig:
    """Python backend running the TorchScript graph with PyTorch on the GPU (`triton_torch_model.py`): inputs
    stay on the GPU (DLPack), bf16 where `spec.gpu_precision` resolves to it on the instance's GPU."""
    config = _shared(spec)
    config.backend = "python"
    config.default_model_filename = TORCH_MODEL_FILE
    config.instance_group.add(count=spec.instances, kind=pb.ModelInstanceGroup.KIND_GPU)
    config.parameters["FORCE_CPU_ONLY_INPUT_TENSORS"].string_value = "no"
    config.parameters["precision"].string_value = spec.gpu_precision
    return config


def config_text(config: pb.ModelConfig) -> str:
    return text_format.MessageToString(config)


def parse_config(text: str) -> pb.ModelConfig:
    return text_format.Parse(text, pb.ModelConfig())
