"""The one source of truth for a served model: tensor names, shapes, types, batching and labels.

Both Triton configs (GPU and CPU), the exported graphs and the label file are derived from a `ServingSpec`,
so the two targets can never disagree about what the model takes and returns.
"""

from dataclasses import dataclass, field

from medxai.checkpoint import CheckpointInfo
from medxai.errors import UserError
from medxai.serving_graph import INPUT_NAME, OOD_OUTPUT_NAME, OUTPUT_NAME  # noqa: F401 (re-exported: one source)

ONNX_FILE = "model.onnx"
TORCHSCRIPT_FILE = "model.pt"
PYTHON_MODEL_FILE = "model.py"
TORCH_MODEL_FILE = "model_torch.py"
PROVENANCE_FILE = "provenance.json"
LABELS_FILE = "labels.txt"
GPU_CONFIG_FILE = "config.pbtxt"
CPU_CONFIG_NAME = "cpu"
"""Triton picks `<model>/configs/cpu.pbtxt` when started with `--model-config-name=cpu`, else `config.pbtxt`."""
CPU_CONFIG_FILE = f"configs/{CPU_CONFIG_NAME}.pbtxt"
GPU_PYTHON_CONFIG_NAME = "gpu-python"
"""`--model-config-name=gpu-python`: Python backend + PyTorch on CUDA, for the wheel's tritonserver on a GPU."""
GPU_PYTHON_CONFIG_FILE = f"configs/{GPU_PYTHON_CONFIG_NAME}.pbtxt"
INPUT_DTYPES = {"uint8": "TYPE_UINT8", "float32": "TYPE_FP32"}
TARGETS = {"cpu": ("cpu",), "gpu": ("gpu",), "gpu-python": ("gpu-python",), "both": ("gpu", "cpu"),
           "all": ("gpu", "cpu", "gpu-python")}
"""What `--target` writes: configs for the CPU, the NGC GPU image and the wheel's tritonserver on a GPU."""


@dataclass
class ServingSpec:
    """What Triton serves: `image` [3,S,S] raw pixels (uint8 0-255 or float 0-1) to `probabilities` [C] and,
    for a checkpoint with a scope, `ood_score` [1]; `scope` holds the config parameters that say what to do with
    them (`scope_parameters`: threshold, conformal quantile, intended use)."""

    name: str
    image_size: int
    class_names: list[str]
    multi_label: bool = False
    input_dtype: str = "float32"
    max_batch_size: int = 32
    preferred_batch_sizes: list[int] = field(default_factory=lambda: [4, 8, 16])
    max_queue_delay_us: int = 2000
    instances: int = 1
    versions_served: int = 1
    tensorrt_fp16: bool = False
    cpu_providers: list[str] = field(default_factory=lambda: ["CPUExecutionProvider"])
    gpu_precision: str = "auto"
    scope: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.input_dtype not in INPUT_DTYPES:
            raise UserError(f"input dtype must be one of {', '.join(INPUT_DTYPES)}, got '{self.input_dtype}'")
        if not self.name or not self.name.replace("_", "").replace("-", "").isalnum():
            raise UserError(f"model name '{self.name}' must be letters, digits, '-' or '_'")
        if self.max_batch_size < 1 or self.instances < 1 or self.versions_served < 1:
            raise UserError("max batch size, instances and versions served must be at least 1")
        self.preferred_batch_sizes = [size for size in self.preferred_batch_sizes if size <= self.max_batch_size]

    @classmethod
    def from_checkpoint(cls, name: str, info: CheckpointInfo, **options) -> "ServingSpec":
        return cls(name=name, image_size=info.image_size, class_names=list(info.class_names),
                   multi_label=info.multi_label, scope=scope_parameters(info.scope), **options)

    @property
    def ood(self) -> bool:
        return "ood_threshold" in self.scope

    @property
    def input_dims(self) -> list[int]:
        return [3, self.image_size, self.image_size]

    @property
    def output_dims(self) -> list[int]:
        return [len(self.class_names)]

    def labels_text(self) -> str:
        return "".join(f"{name}\n" for name in self.class_names)


def scope_parameters(scope: dict) -> dict[str, str]:
    """A checkpoint's scope (`medxai.scope.Scope.to_dict()`) as Triton config parameters (strings): what a client
    of Triton alone needs to refuse out-of-scope images and form prediction sets; {} for a checkpoint without."""
    import json
    if not scope:
        return {}
    parameters = {"intended_use": json.dumps(scope.get("intended_use", {}), sort_keys=True)}
    if scope.get("ood"):
        parameters["ood_threshold"] = repr(float(scope["ood"]["threshold"]))
    conformal = scope.get("conformal") or {}
    if conformal.get("quantile") is not None:
        parameters["conformal_method"] = str(conformal.get("method", "lac"))
        parameters["conformal_alpha"] = repr(float(conformal["alpha"]))
        parameters["conformal_quantile"] = repr(float(conformal["quantile"]))
    return parameters
