"""The Triton configs, parsed back with Triton's own schema (tritonclient's model_config_pb2)."""

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as pb

from export.repository import model_files
from export.spec import (CPU_CONFIG_FILE, GPU_CONFIG_FILE, GPU_PYTHON_CONFIG_FILE, LABELS_FILE, TORCH_MODEL_FILE,
                         ServingSpec)


def parsed(text: str) -> pb.ModelConfig:
    return text_format.Parse(text, pb.ModelConfig())


def spec(**options) -> ServingSpec:
    return ServingSpec(name="chest", image_size=64, class_names=["normal", "abnormal"], **options)


def test_both_targets_share_one_interface():
    files = model_files(spec(input_dtype="uint8"), "both")
    assert set(files) == {GPU_CONFIG_FILE, CPU_CONFIG_FILE, LABELS_FILE}
    assert files[LABELS_FILE] == "normal\nabnormal\n"
    gpu, cpu = parsed(files[GPU_CONFIG_FILE]), parsed(files[CPU_CONFIG_FILE])
    for config in (gpu, cpu):
        assert config.name == "chest" and config.max_batch_size == 32
        (input_,), (output,) = config.input, config.output
        assert (input_.name, input_.data_type, list(input_.dims)) == ("image", pb.TYPE_UINT8, [3, 64, 64])
        assert (output.name, output.data_type, list(output.dims)) == ("probabilities", pb.TYPE_FP32, [2])
        assert output.label_filename == LABELS_FILE
        assert list(config.dynamic_batching.preferred_batch_size) == [4, 8, 16]
        assert config.dynamic_batching.max_queue_delay_microseconds > 0
        assert config.version_policy.latest.num_versions == 1
        (warmup,) = config.model_warmup
        assert warmup.batch_size == 1 and warmup.inputs["image"].zero_data
        assert list(warmup.inputs["image"].dims) == [3, 64, 64]
    gpu_only = {"platform", "backend", "instance_group", "parameters", "optimization"}
    assert {f.name for f, _ in gpu.ListFields()} - gpu_only == {f.name for f, _ in cpu.ListFields()} - gpu_only


def test_gpu_config_is_onnxruntime_on_gpu_with_optional_tensorrt_fp16():
    plain = parsed(model_files(spec(), "gpu")[GPU_CONFIG_FILE])
    assert plain.platform == "onnxruntime_onnx" and not plain.backend
    assert [(g.kind, g.count) for g in plain.instance_group] == [(pb.ModelInstanceGroup.KIND_GPU, 1)]
    assert not plain.HasField("optimization")
    accelerated = parsed(model_files(spec(tensorrt_fp16=True), "gpu")[GPU_CONFIG_FILE])
    (tensorrt,) = accelerated.optimization.execution_accelerators.gpu_execution_accelerator
    assert tensorrt.name == "tensorrt" and tensorrt.parameters["precision_mode"] == "FP16"


def test_cpu_config_is_python_backend_running_onnxruntime():
    cpu = parsed(model_files(spec(input_dtype="float32"), "cpu")[CPU_CONFIG_FILE])
    assert cpu.backend == "python" and not cpu.platform
    assert cpu.input[0].data_type == pb.TYPE_FP32
    assert [(g.kind, g.count) for g in cpu.instance_group] == [(pb.ModelInstanceGroup.KIND_CPU, 1)]
    assert cpu.parameters["onnxruntime_providers"].string_value == "CPUExecutionProvider"
    assert set(model_files(spec(), "cpu")) == {CPU_CONFIG_FILE, LABELS_FILE}


def test_gpu_python_config_runs_torchscript_on_the_gpu_with_dlpack_inputs():
    files = model_files(spec(gpu_precision="bf16"), "gpu-python")
    assert set(files) == {GPU_PYTHON_CONFIG_FILE, LABELS_FILE}
    config = parsed(files[GPU_PYTHON_CONFIG_FILE])
    assert config.backend == "python" and config.default_model_filename == TORCH_MODEL_FILE
    assert [(g.kind, g.count) for g in config.instance_group] == [(pb.ModelInstanceGroup.KIND_GPU, 1)]
    assert config.parameters["FORCE_CPU_ONLY_INPUT_TENSORS"].string_value == "no"
    assert config.parameters["precision"].string_value == "bf16"


def test_all_targets_serve_one_interface():
    files = model_files(spec(), "all")
    assert set(files) == {GPU_CONFIG_FILE, CPU_CONFIG_FILE, GPU_PYTHON_CONFIG_FILE, LABELS_FILE}
    interfaces = {(str(c.input), str(c.output), str(c.dynamic_batching), str(c.model_warmup))
                  for c in map(parsed, (files[GPU_CONFIG_FILE], files[CPU_CONFIG_FILE], files[GPU_PYTHON_CONFIG_FILE]))}
    assert len(interfaces) == 1
