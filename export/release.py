"""`export_checkpoint`: checkpoint to a verified, versioned Triton repository entry, in one call.

Order matters: refuse overwrites first (cheap), then export into a staging folder, check parity and the
release gate, and only then publish the version and its configs.
"""

import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from export.gate import SHORTCUT_MODES, release_gate
from export.graphs import export_torchscript
from export.parity import DEFAULT_TOLERANCE, ParityReport, check_parity
from export.repository import check_overwrites, choose_version, model_files, publish, staging_dir
from export.samples import DEFAULT_COUNT, sample_images
from export.scope_check import SCOPE_MODES, scope_check
from export.spec import ONNX_FILE, PROVENANCE_FILE, TORCHSCRIPT_FILE, ServingSpec
from medxai.checkpoint import checkpoint_sha256, load_checkpoint
from medxai.errors import UserError
from medxai.scope import Scope
from medxai.serving_graph import ServingGraph, export_onnx


@dataclass
class ExportResult:
    name: str
    version: int
    version_dir: Path
    parity: list[ParityReport]
    refusals: list[str]
    randomisation: dict
    shortcut: dict

    def summary(self) -> dict:
        return {"name": self.name, "version": self.version, "path": str(self.version_dir),
                "parity": [report.as_dict() for report in self.parity], "gate_passed": not self.refusals,
                "refusals": self.refusals, "randomisation_check": self.randomisation,
                "shortcut_check": self.shortcut}


def export_checkpoint(checkpoint: Path, repository: Path, name: str, *, version: int | None = None,
                      target: str = "both", overwrite: bool = False, enforce_gate: bool = True,
                      input_dtype: str = "float32", data: Path | None = None, samples: int = DEFAULT_COUNT,
                      tolerance: float = DEFAULT_TOLERANCE, tensorrt_fp16: bool = False,
                      cpu_providers: Sequence[str] = ("CPUExecutionProvider",), gpu_precision: str = "auto",
                      shortcut_check: str = "refuse", scope_check_mode: str = "refuse",
                      log: Callable[[str], None] = print) -> ExportResult:
    """Export `checkpoint` as version `version` (default: next) of model `name` in `repository`.

    Raises UserError when something would be overwritten without `overwrite`, or when the release gate
    refuses the model and `enforce_gate` is set (the CLI's --force clears both). `shortcut_check` (refuse,
    warn or off) is what a failed shortcut check does (`export.shortcut`, on the sample images of `data`,
    default drawn phantoms, when they have masks or boxes); `scope_check_mode` the same for the scope check
    (`export.scope_check`: the OOD detector must refuse images the model was never meant for). `cpu_providers` are the ONNX
    Runtime providers of the Python-backend config (CUDA first on GPU machines with onnxruntime-gpu);
    `gpu_precision` that of the gpu-python config (resolved on the serving GPU).
    """
    if shortcut_check not in SHORTCUT_MODES:
        raise UserError(f"--shortcut-check must be one of {', '.join(SHORTCUT_MODES)}, got '{shortcut_check}'")
    if scope_check_mode not in SCOPE_MODES:
        raise UserError(f"--scope-check must be one of {', '.join(SCOPE_MODES)}, got '{scope_check_mode}'")
    model, info = load_checkpoint(checkpoint)
    spec = ServingSpec.from_checkpoint(name, info, input_dtype=input_dtype, tensorrt_fp16=tensorrt_fp16,
                                       cpu_providers=list(cpu_providers), gpu_precision=gpu_precision)
    model_dir = Path(repository) / name
    version = choose_version(model_dir, version, overwrite)
    files = model_files(spec, target)
    check_overwrites(model_dir, files, overwrite)

    sample_set = sample_images(spec.image_size, data, samples)
    pixels = sample_set.pixels
    scope = Scope.from_dict(info.scope)
    graph = ServingGraph(model, input_dtype, detector=scope.detector if scope else None)
    example = graph.as_input(pixels[:2])
    staged = staging_dir(model_dir)
    try:
        export_onnx(graph, example, staged / ONNX_FILE)
        export_torchscript(graph, example, staged / TORCHSCRIPT_FILE)
        parity = check_parity(graph, staged / ONNX_FILE, staged / TORCHSCRIPT_FILE, pixels, tolerance)
        for report in parity:
            log(report.line())
        # regions and labels say something of this model only on images of its own classes: drawn x-ray
        # phantoms are not a brain MRI model's data, and another folder's label indices mean other classes
        own = sample_set.class_names == list(info.class_names)
        decision = release_gate(model, pixels, parity, log, regions=sample_set.regions if own else None,
                                labels=sample_set.labels if own else None, shortcut=shortcut_check,
                                class_names=list(info.class_names))
        scope_refusals, scope_record = scope_check(model, scope, spec.image_size, pixels if own else None,
                                                   list(info.class_names), scope_check_mode, log)
        refusals = decision.refusals + scope_refusals
        if refusals and enforce_gate:
            raise UserError(f"refusing to release {name}: {'; '.join(refusals)} (pass --force to export anyway)")
        for reason in refusals:
            log(f"released despite: {reason}")
        if not refusals:  # one verdict line for the reader of the log (the checks above give figures)
            shortcut = decision.shortcut.get("passed")  # None: the shortcut check was skipped or off
            evidence = {True: ", the evidence lies in the expert regions",
                        False: " (the shortcut check failed: released with the warning above)"}.get(shortcut, "")
            log(f"release gate passed: parity, the served maps change when the weights are randomised{evidence}")
        provenance = {"checkpoint": str(checkpoint), "checkpoint_sha256": checkpoint_sha256(checkpoint),
                      "architecture": info.architecture, "git_commit": info.git_commit, "metrics": info.metrics,
                      "temperature": info.temperature,
                      "input_dtype": input_dtype, "parity": [report.as_dict() for report in parity],
                      "gate_refusals": refusals, "randomisation_check": decision.randomisation,
                      "shortcut_check": decision.shortcut, "scope_check": scope_record,
                      "intended_use": spec.scope.get("intended_use", ""), "sample_images": sample_set.source}
        (staged / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2))
        version_dir = publish(model_dir, staged, version, files)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return ExportResult(name, version, version_dir, parity, refusals, decision.randomisation, decision.shortcut)
